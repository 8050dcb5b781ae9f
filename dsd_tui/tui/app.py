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

from pathlib import Path
from typing import Callable

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from dsd_tui.exits import status_code
from dsd_tui.record.rundir import EVENTS
from dsd_tui.signals import leave_on_hangup
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


def run_app(session, *, headless: bool = False, exit_when_done: bool = False,
            handlers_installed: Callable[[], None] = lambda: None) -> str:
    """Run `session` under the monitor; returns its final status (re-raises what the run raised).

    The app stays open when the run ends, to be read, until the user quits; `exit_when_done` leaves
    at once instead. `headless` draws nothing (benchmarks, tests). `handlers_installed` is called once
    the run's SIGTERM/SIGHUP handlers are in place (the CLI's `BeforeRun` guard hands over then).
    """
    monitor = MonitorScreen(session=session, exit_when_done=exit_when_done)
    app = DsdApp(monitor)

    # A kill or a closed terminal: the run stops at its next batch (resumable), and the app leaves
    # once the worker has returned, also when the run had already ended and the app was only
    # waiting for q (with the terminal gone, nobody would ever press it).
    def leave() -> None:
        session.stop_now.set()
        app.leave_when_stopped = True

    with leave_on_hangup(leave, run_over=session.done,
                         exit_code=lambda: status_code(session.status or "interrupted")):
        handlers_installed()
        app.run(headless=headless)
    if monitor.error is not None:
        raise monitor.error
    if monitor.status is None:  # left before the worker ended (second quit): it stops at its next batch
        return "interrupted"
    return monitor.status


def watch_monitor(path) -> DsdApp:
    """The app on the read-only monitor of the run directory `path`."""
    return DsdApp(MonitorScreen(events_path=Path(path) / EVENTS, check_writer=True))


def watch_app(path) -> None:
    """Follow the run in `path` (a run directory) until the user quits, or its terminal hangs up."""
    app = watch_monitor(path)

    def leave() -> None:
        app.leave_when_stopped = True

    with leave_on_hangup(leave):
        app.run()

