"""Where the monitor's events come from: the worker thread of a live run, or a growing events.jsonl.

`EventInbox` is the sink the app appends to `session.sink.sinks`. The training thread only appends
to a list under a lock; the app's redraw timer drains it. Only an event that changes more than the
progress line (a finished rung, a stop, a phase or run ending) posts one wake-up message so it shows
at once; epoch ticks, the frequent ones, wait for the timer. Training never waits for the UI.

`EventFollower` reads the lines appended to events.jsonl since its last call, with the same rules
as `record.rundir.read_events`: a line without its newline (still being written, or torn by a
crash) is left for later, and a line that is not a JSON object is skipped; so is an incomplete
event appended while following (`dsd-tui watch` refuses a log that already holds one).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from dsd_tui.record import events as ev
from dsd_tui.record.rundir import parse_event_lines


class EventInbox:
    """A thread-safe event sink: `__call__` from the training thread, `take()` from the UI."""

    QUIET = frozenset({"epoch_finished", "rung_started", "log"})  # shown by the next timer tick

    def __init__(self, wake: Callable[[], object]):
        self._wake = wake
        self._lock = threading.Lock()
        self._events: list[ev.Event] = []
        self._woken = False

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            self._events.append(event)
            wake = not self._woken and event.type not in self.QUIET
            self._woken |= wake
        if wake:
            self._wake()

    def take(self) -> list[ev.Event]:
        with self._lock:
            out, self._events = self._events, []
            self._woken = False
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
        try:
            events, used = parse_event_lines(chunk)
        except ev.BadEvent:  # an edited line appended while following: skip it, keep following
            return self._skip_bad(chunk)
        self._offset += used
        return events

    def _skip_bad(self, chunk: bytes) -> list[ev.Event]:
        out = []
        end = chunk.rfind(b"\n")
        for line in chunk[:end + 1].splitlines(keepends=True):
            try:
                out += parse_event_lines(line)[0]
            except ev.BadEvent:
                pass
        self._offset += end + 1
        return out
