"""Messages between the event feed and the app."""
from __future__ import annotations

from textual.message import Message


class EventsArrived(Message):
    """New events wait in the app's inbox (posted from the training thread; carries nothing)."""
