"""How much CPU the live monitor may take from the process its training runs in.

A live run's UI shares the process, and the GIL, with the training thread, so every millisecond
the UI thread computes can be a millisecond the training waits. Redrawing the panes is the UI's one
large cost (a layout pass and the re-render of table, plot and sparklines: tens of milliseconds,
more on a big terminal), so pane redraws are paid from a budget: the UI earns `share` seconds of
CPU per second of wall time, every second of CPU its thread spends (redraws, ticks, idle
bookkeeping alike) is charged, and the panes are redrawn only while the balance is not negative.
The balance is capped, so a quiet spell cannot save up for a burst.

With rungs of minutes (real ladders) every rung is drawn at once; with rungs of a second or two (the
quickstart on a CPU) the panes are drawn every few seconds instead, and the UI's CPU stays near
`share` of one core whatever the terminal's size or the machine's speed. Stops and the ends of
phases and runs are drawn regardless (the app decides that), and `max_wait` bounds how stale the
panes can get if the fixed costs alone ever exceed the share.
"""
from __future__ import annotations

import time
from typing import Callable

SHARE = 0.005  # seconds of UI CPU per second of wall time, everything the UI thread does included
CAP = 0.05  # the most CPU seconds the balance can hold (one redraw at 80×24 to 160×50); also the start
MAX_WAIT = 30.0  # seconds: the panes are redrawn at least this often while anything changed


class CpuBudget:
    """A token bucket of CPU seconds for the thread that calls it (the UI thread)."""

    def __init__(self, share: float = SHARE, cap: float = CAP, max_wait: float = MAX_WAIT,
                 wall: Callable[[], float] = time.monotonic, cpu: Callable[[], float] = time.thread_time):
        self.share, self.cap, self.max_wait = share, cap, max_wait
        self._wall, self._cpu = wall, cpu
        self.balance = cap
        self._last_wall, self._last_cpu = wall(), cpu()
        self._last_spend = self._last_wall
        self.spent = 0.0  # CPU seconds charged since the start (for benchmarks and tests)

    def update(self) -> None:
        """Credit the wall time and charge the CPU time since the last call."""
        w, c = self._wall(), self._cpu()
        used = max(0.0, c - self._last_cpu)
        self.spent += used
        self.balance = min(self.cap, self.balance + self.share * max(0.0, w - self._last_wall) - used)
        self._last_wall, self._last_cpu = w, c

    def allows(self) -> bool:
        """Whether a redraw may be paid for now (call `update` first)."""
        return self.balance >= 0.0 or self._wall() - self._last_spend >= self.max_wait

    def redrawn(self) -> None:
        """Note that the panes were just redrawn (for `max_wait`)."""
        self._last_spend = self._wall()
