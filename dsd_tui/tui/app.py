"""The one Textual app of dsd-tui, `DsdApp`, and the entry points the CLI calls to start it.

Why one app: the monitor, the sweep table and the run comparison are screens of it
(tui/screens/), so that a ladder opened from the sweep table is a screen pushed over the table
and Escape pops back to the same row. The app holds what is common to every screen: the styles
(app.tcss), the global keys (quit, help) and the screen it starts on.

Entry points: `run_app(session)` runs a ladder under the monitor (live, in a worker thread);
`watch_app(path)` follows a run directory from its events.jsonl. `watch_sweep` (screens/sweep.py)
and `compare_app` (screens/compare.py) start it on the other screens. Here too: the handling of
SIGTERM and SIGHUP while the app runs (`leave_on_hangup`).
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import Callable

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from dsd_tui.record.rundir import EVENTS
from dsd_tui.runner import EXIT
from dsd_tui.tui.screens.help import HelpScreen
from dsd_tui.tui.screens.monitor import MonitorScreen


class DsdApp(App):
    """dsd-tui's terminal UI, started on `start` (a MonitorScreen, SweepScreen or CompareScreen)."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "dsd-tui"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        # hidden: the monitor shows it in its footer; the help screen is about the monitor's keys
        Binding("question_mark,f1", "help", "Help", key_display="?", show=False),
    ]

    def __init__(self, start: Screen):
        super().__init__()
        self.start = start
        if start.TITLE:  # the terminal's title as well as the header's
            self.title = start.TITLE
        self.leave_when_stopped = False  # SIGTERM/SIGHUP: leave once the run has stopped (leave_on_hangup sets it)

    def get_default_screen(self) -> Screen:
        return self.start

    def live_monitor(self) -> MonitorScreen | None:
        """The monitor running a ladder in this process, if any (only ever the first screen)."""
        return next((s for s in self.screen_stack if isinstance(s, MonitorScreen) and s.mode == "live"), None)

    async def action_quit(self) -> None:
        """q anywhere, ctrl+c: a live run is stopped first (resumable), as its monitor's q does."""
        live = self.live_monitor()
        if live is not None:
            await live.action_quit()
        else:
            self.exit()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def run_app(session, *, headless: bool = False, exit_when_done: bool = False) -> str:
    """Run `session` under the monitor; returns its final status (re-raises what the run raised).

    The app stays open when the run ends, to be read, until the user quits; `exit_when_done` leaves
    at once instead. `headless` draws nothing (benchmarks, tests).
    """
    monitor = MonitorScreen(session=session, exit_when_done=exit_when_done)
    app = DsdApp(monitor)

    # A kill or a closed terminal: the run stops at its next batch (resumable), and the app leaves
    # once the worker has returned, also when the run had already ended and the app was only
    # waiting for q (with the terminal gone, nobody would ever press it).
    with leave_on_hangup(app, session.stop_now.set, run_over=session.done,
                         exit_code=lambda: EXIT.get(session.status or "interrupted", 1)):
        app.run(headless=headless)
    if monitor.error is not None:
        raise monitor.error
    if monitor.status is None:  # left before the worker ended (second quit): it stops at its next batch
        return "interrupted"
    return monitor.status


def watch_monitor(path) -> DsdApp:
    """The app on the read-only monitor of the run directory `path`."""
    return DsdApp(MonitorScreen(events_path=Path(path) / EVENTS))


def watch_app(path) -> None:
    """Follow the run in `path` (a run directory) until the user quits, or its terminal hangs up."""
    app = watch_monitor(path)
    with leave_on_hangup(app, lambda: None):
        app.run()


def detach_from_terminal() -> None:
    """Point stdin, stdout and stderr at /dev/null: the terminal is gone.

    Textual writes the screen from a writer thread through a bounded queue; a write to a hung-up
    terminal fails (EIO), that thread dies, and the app's own exit, which writes to restore the
    terminal, then waits forever on the full queue (seen under `tmux kill-server`, whose SIGHUP comes
    with a SIGCONT that makes Textual restart its output). On /dev/null every write succeeds and a
    read sees the end of input."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in (0, 1, 2):
            os.dup2(null, fd)
    finally:
        os.close(null)


HANGUP_GRACE_S = 5.0  # after a hangup (and the run's end), how long Textual may take to exit by itself


def exit_if_stuck(run_over: threading.Event | None, exit_code: Callable[[], int]) -> None:
    """After a hangup: once the run is over (its files written and closed), give the app
    HANGUP_GRACE_S to exit by itself, then end the process with the run's exit code.

    Why: the terminal's writes fail with EIO as soon as it is gone, which can be before the SIGHUP
    handler has pointed the fds at /dev/null; Textual's writer thread then dies, its bounded queue
    fills, and the app's shutdown (which writes to restore the terminal) blocks on that queue forever
    (caught by tests/test_signals.py under load, about 1 hangup in 40). With the terminal gone there
    is nothing left to restore, and the run's files are complete, so leaving without the rest of the
    shutdown loses nothing."""
    def watchdog() -> None:
        if run_over is not None:
            run_over.wait()
        time.sleep(HANGUP_GRACE_S)
        os._exit(exit_code())

    threading.Thread(target=watchdog, name="hangup-exit", daemon=True).start()


@contextlib.contextmanager
def leave_on_hangup(app: DsdApp, stop: Callable[[], None], run_over: threading.Event | None = None,
                    exit_code: Callable[[], int] = lambda: 0):
    """While the app runs, SIGTERM and SIGHUP call `stop` and make the app leave on its next tick;
    after a SIGHUP the process ends at the latest HANGUP_GRACE_S after the run is over (`run_over`),
    with `exit_code()`, should Textual's exit hang on the lost terminal.

    Explicit rather than left to the default action: a SIGHUP ignored by a parent (nohup, a test
    runner) is ignored by its children too, and a monitor that outlives its terminal spins in
    Textual's input thread at 100% of a core."""
    watched = []

    def handler(signum, _frame):
        if signum == getattr(signal, "SIGHUP", None):
            detach_from_terminal()
            if not watched:
                watched.append(True)
                exit_if_stuck(run_over, exit_code)
        stop()
        app.leave_when_stopped = True

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)
