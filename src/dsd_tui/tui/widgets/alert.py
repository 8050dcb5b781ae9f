"""The stop alert: a banner that stays once an active stop criterion has fired.

The app rings the bell and raises a notification when the event arrives; the banner keeps the
criterion, the rung, the rung it recommends and why, until the app closes.
"""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..view import stop_text


class StopBanner(Static):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.stops: list[dict] = []

    def show(self, stops: list[dict]) -> None:
        self.display = bool(stops)
        if stops == self.stops:
            return
        self.stops = list(stops)
        t = Text()
        for i, s in enumerate(stops):
            if i:
                t.append("\n")
            t.append(" STOP ", style="bold reverse")
            t.append(" " + stop_text(s))
        self.update(t)
