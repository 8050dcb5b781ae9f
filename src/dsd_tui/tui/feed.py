"""Where the monitor's events come from: the worker thread of a live run, or a growing events.jsonl.

`EventInbox` is the sink the app appends to `session.sink.sinks`. The training thread only appends
to a list under a lock and, when the list was empty, posts one wake-up message to the app; so
training never waits for the UI, and a burst of events costs the UI one wake-up.

`EventFollower` reads the lines appended to events.jsonl since its last call, with the same rules
as `engine.rundir.read_events`: a line without its newline (still being written, or torn by a
crash) is left for later, and a line that is not a JSON object is skipped.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Callable

from ..engine import events as ev


class EventInbox:
    """A thread-safe event sink: `__call__` from the training thread, `take()` from the UI."""

    def __init__(self, wake: Callable[[], object]):
        self._wake = wake
        self._lock = threading.Lock()
        self._events: list[ev.Event] = []

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            first = not self._events
            self._events.append(event)
        if first:
            self._wake()

    def take(self) -> list[ev.Event]:
        with self._lock:
            out, self._events = self._events, []
        return out


class EventFollower:
    """Reads the complete events appended to one events.jsonl since the last `poll()`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._offset = 0  # bytes of the file already turned into events

    def poll(self) -> list[ev.Event]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self._offset += end + 1
        out = []
        for raw in chunk[:end].split(b"\n"):
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if isinstance(data, dict):
                out.append(ev.from_dict(data))
        return out
