"""The monitor screen: one run's panes, fed live by a worker thread or by following its events.jsonl.

A screen of `DsdApp` (tui/app.py) rather than an app of its own, so that the sweep table can push
it over itself for one ladder and pop back to the same row; `run_app` and `watch_app` start the
app on it.

Data flows one way: events → `SummaryBuilder` (the same fold that writes summary.json) →
`view` functions → widgets. In a live run a thread worker runs `session.run()`; its events reach
the screen through an `EventInbox` (the training thread never waits for the UI), and the screen is
redrawn at most `REDRAW_HZ` times a second however fast events come (a timer redraws when
events have arrived since the last redraw; keys redraw at once). While the run is live in this
process, the panes are redrawn at most every `PANE_SECONDS`, and less often where a redraw is dear
(a slow CPU, a large terminal: `pane_period`), so that the UI takes little of the CPU (and the GIL)
the training runs on.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from dsd_tui.core.device_stats import gpu_now
from dsd_tui.record import events as ev
from dsd_tui.record.rundir import EVENTS, EXPORTS, atomic_write_text, read_events, writer_alive
from dsd_tui.record.summary import SummaryBuilder
from dsd_tui.tui import view
from dsd_tui.tui.feed import EventFollower, EventInbox
from dsd_tui.tui.messages import EventsArrived
from dsd_tui.tui.screens.export_choices import ExportChoices
from dsd_tui.tui.screens.stop_reasons import StopReasons
from dsd_tui.tui.widgets.entropy_pane import EntropyPane
from dsd_tui.tui.widgets.event_log import EventLog
from dsd_tui.tui.widgets.ladder_plot import LadderPlot
from dsd_tui.tui.widgets.ladder_table import LadderTable
from dsd_tui.tui.widgets.layers_pane import LayersPane
from dsd_tui.tui.widgets.run_header import RunHeader
from dsd_tui.tui.widgets.run_progress import RunProgress
from dsd_tui.tui.widgets.stop_banner import StopBanner
from dsd_tui.tui.widgets.verdict_banner import VerdictBanner

REDRAW_HZ = 2  # at most this many redraws a second, however fast events arrive (the clock ticks with it)
LIVE_HZ = 1  # the same, while the run is live in this process: every wake-up of the UI takes the GIL
FOLLOW_SECONDS = 0.5  # watch mode: how often events.jsonl is read for new lines
ALIVE_SECONDS = 2.0  # watch mode: how often it checks that a running run's process still holds it open
EXPORT_NAME = "export-summary.json"
WIDE = (100, 32)  # columns, rows: from this size on the layers pane and the entropy pane are both shown
NARROW = 80  # columns: below this the panes stack, each the terminal's width, and the pane area scrolls
TOAST_SECONDS = 6  # alerts stay in the banner and the log; their toasts leave the plot soon


PROGRESS_ONLY = frozenset({"epoch_finished"})
# A pane redraw costs 15-30 ms of CPU (80x24 to 160x50) on a quick core and up to 5 times that on a slow
# one (docs/benchmarks.md), in the process, and under the GIL, the training shares. So while a run is
# live the panes are redrawn at most every PANE_SECONDS, and further apart when the redraws cost more
# than PANE_CPU_SHARE of that time (a redraw's cost: the UI thread's CPU from the redraw to the next
# tick, the compositor's rendering included, averaged with the one before), up to PANE_SECONDS_MAX;
# a stop, the end of a phase or run, and every key still redraw at once. Rungs of a real ladder last
# minutes, so this only ever batches the short rungs of small demos. (A CPU budget charged with all
# of the UI's CPU was tried and measured: Textual's own idle work, ~0.7% of a core, already spends
# any budget small enough to matter; docs/benchmarks.md. The period here is set by the redraw's own
# cost only.)
PANE_SECONDS = 5.0
PANE_CPU_SHARE = 0.005
PANE_SECONDS_MAX = 20.0
URGENT = frozenset({"stop_fired", "phase_finished", "run_finished", "run_failed", "run_interrupted"})


class MonitorScreen(Screen):
    """One run's monitor. Give it a `session` (live run) or an `events_path` (watch, read-only)."""

    # q and ? are global (DsdApp) too; they are repeated here so the footer keeps this order.
    BINDINGS = [
        Binding("s", "stop_after_rung", "Stop after rung"),
        Binding("q", "quit", "Quit"),
        Binding("e", "export", "Export"),
        Binding("p", "cycle_phase", "Plot phase"),
        Binding("m", "cycle_metric", "Plot metric"),
        # not in the footer (80 columns hold no more): the pane titles and the stop banner name them
        Binding("l", "toggle_layers", "Layers/entropy", show=False),
        Binding("r", "stop_reasons", "Stop reasons", show=False),
        Binding("question_mark,f1", "app.help", "Help", key_display="?"),
        Binding("escape", "back", "Back", show=False),
    ]

    def __init__(self, session=None, events_path: Path | None = None, clock: Callable[[], float] = time.time,
                 exit_when_done: bool = False, check_writer: bool = False):
        super().__init__()
        # watch: every ALIVE_SECONDS, is a run that says "running" still held open by its process, and is its
        # log still there? A SIGKILLed or deleted run is then shown as such instead of live forever.
        self.check_writer = check_writer
        self.gone: str | None = None  # "not running" | "log deleted", shown in the header instead of the ETA
        self.exit_when_done = exit_when_done  # leave as soon as the run ends (benchmarks, scripts)
        if (session is None) == (events_path is None):
            raise ValueError("MonitorScreen needs exactly one of session or events_path")
        self.session = session
        self.mode = "live" if session is not None else "watch"
        self.events_path = Path(events_path) if events_path else Path(session.path) / EVENTS
        self.run_dir = self.events_path.parent
        self.clock = clock  # wall time as shown (elapsed, ETA); tests freeze it
        self.builder = SummaryBuilder()
        self.inbox = EventInbox(lambda: self.post_message(EventsArrived()))
        self.follower = EventFollower(self.events_path) if self.mode == "watch" else None
        self.phase_mode, self.metric = view.PHASE_MODES[0], view.METRICS[0]
        self.status: str | None = None  # the worker's final status (live mode)
        self.error: BaseException | None = None  # raised by the worker; run_app re-raises it
        self.quitting = False
        self.redraws = 0
        self._stale = False
        self._urgent = False
        self._last_panes = 0.0
        self.pane_period = PANE_SECONDS  # live: the least time between pane redraws (see PANE_CPU_SHARE)
        self._redraw_cpu: float | None = None  # the UI thread's CPU clock when the last redraw began
        self._redraw_cost: float | None = None  # a redraw's CPU seconds, averaged over the last ones
        self._log_pending: list[tuple[str, str]] = []  # log lines written with the next pane redraw
        self._catching_up = False
        self.show_layers = False  # below WIDE: the side pane shows the layers (l) instead of the entropy
        self.inspect: tuple[str, int] | None = None  # the rung under the table's cursor (None: the newest)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield RunHeader(id="header")
        yield RunProgress(id="progress")
        yield StopBanner(id="banner")
        yield VerdictBanner(id="verdicts")
        with Vertical(id="panes"):  # below NARROW columns the panes stack and this scrolls (app.tcss)
            with Horizontal(id="top"):
                yield LadderTable(id="table")
                with Vertical(id="side"):
                    yield LayersPane(id="layers")
                    yield EntropyPane(id="entropy")
            with Horizontal(id="bottom"):
                yield LadderPlot(id="plot")
                yield EventLog(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#log").border_title = "log" if self.mode == "live" else "log · watch (read-only)"
        self.query_one("#table").border_title = "ladder"
        self.query_one("#banner", StopBanner).display = False
        self.query_one("#verdicts", VerdictBanner).display = False
        self._layout_for(self.size.width, self.size.height)
        self.set_interval(1.0 / (LIVE_HZ if self.mode == "live" else REDRAW_HZ), self._on_timer)
        # Catch up from the file first: a resumed run's earlier rungs, or a watched run's history.
        self._catching_up = True
        if self.mode == "watch":
            self.consume(self.follower.poll())
            self.set_interval(FOLLOW_SECONDS, self._follow)
            if self.check_writer:
                self.set_interval(ALIVE_SECONDS, self.check_alive)
        else:
            self.consume(read_events(self.events_path))
        self._catching_up = False
        self.redraw()
        self._redraw_cpu = None  # what the first tick would measure is mostly the app's start-up
        if self.mode == "live":
            self.run_worker(self._run_ladder, name="ladder", thread=True, exit_on_error=False)

    # ------------------------------------------------------------------ events in
    def _run_ladder(self) -> str:
        self.session.sink.sinks.append(self.inbox)
        return self.session.run()

    def on_events_arrived(self, _message: EventsArrived) -> None:
        self.consume(self.inbox.take())

    def _follow(self) -> None:
        self.consume(self.follower.poll())

    def check_alive(self) -> None:
        """Watch: say so when the run's log was deleted, or when no process holds a "running" run open."""
        if not self.events_path.exists():
            gone = "log deleted"
        elif self.builder.status == "running" and not writer_alive(self.run_dir):
            gone = "not running"
        else:
            gone = None
        if gone == self.gone:
            return
        self.gone = gone
        if gone == "log deleted":
            self.notify(f"{self.events_path} was deleted; nothing more will arrive", title="Run deleted",
                        severity="error", timeout=60)
        elif gone:
            self.notify(f"no process is running it (killed, or its machine went down); continue it with "
                        f"dsd-tui resume {self.run_dir}", title="Run not running", severity="error", timeout=60)
        self._tick()

    def consume(self, events: list[ev.Event]) -> None:
        """Fold events into the summary, log them, raise alerts; the redraw follows (throttled)."""
        if not events:
            return
        for e in events:
            self.builder.consume(e)
            line = view.log_line(e, self.builder)
            if line is not None:
                self._log_pending.append(line)
            if isinstance(e, ev.StopFired) and e.active:
                self.alert(e)
        if any(e.type not in PROGRESS_ONLY for e in events):
            self.schedule_redraw()  # the panes change; epoch ticks only move the header and progress bars
        if any(e.type in URGENT for e in events):
            self._urgent = True

    def alert(self, e: ev.StopFired) -> None:
        """A stop as it happens: a short toast and the bell (the banner keeps it). A stop read while
        catching up on a run's history is only in the banner and the log: no toast over the plot."""
        if self._catching_up:
            return
        self.notify(f"{e.criterion} fired at {e.phase} rung {e.rung}: keep rung {e.selected_rung}",
                    title="Stop criterion", severity="warning", timeout=TOAST_SECONDS)
        self.app.bell()

    # ------------------------------------------------------------------ drawing
    def schedule_redraw(self) -> None:
        """Mark the screen stale; `_on_timer` (every 1/REDRAW_HZ s; 1/LIVE_HZ s live) redraws it once."""
        self._stale = True

    def _on_timer(self) -> None:
        """One timer for everything periodic: a stale screen is redrawn, else only the clock moves."""
        if getattr(self.app, "leave_when_stopped", False) and not self.worker_running():
            self.app.exit(self.status or "interrupted")  # a hangup, and no run (left) to wait for: nobody presses q
            return
        if self.mode == "live":
            self._measure_redraw()
            self.consume(self.inbox.take())
        due = self._urgent or self.mode == "watch" or self.clock() - self._last_panes >= self.pane_period
        if self._stale and due:
            self.redraw()
        else:
            self._tick()

    def _measure_redraw(self) -> None:
        """On the first tick after a redraw: what it cost the UI thread sets the least time to the next one."""
        if self._redraw_cpu is None:
            return
        cost, self._redraw_cpu = time.thread_time() - self._redraw_cpu, None
        # the mean with the last cost: one redraw that met a garbage collection does not stall the panes
        self._redraw_cost = cost if self._redraw_cost is None else (self._redraw_cost + cost) / 2
        self.pane_period = min(PANE_SECONDS_MAX, max(PANE_SECONDS, self._redraw_cost / PANE_CPU_SHARE))

    def redraw(self) -> None:
        self._stale = self._urgent = False
        self._last_panes = self.clock()
        self._redraw_cpu = time.thread_time()
        try:
            self._draw()
        except NoMatches:  # a timer that fired while the app was closing: nothing left to draw on
            pass

    def _draw(self) -> None:
        self.redraws += 1
        b = self.builder
        self._tick()
        if self._log_pending:
            self.query_one("#log", EventLog).add_all(self._log_pending)
            self._log_pending = []
        self.query_one("#banner", StopBanner).show(view.active_stops(b))
        self.query_one("#verdicts", VerdictBanner).show(view.verdict_lines(b))
        table = self.query_one("#table", LadderTable)
        table.show(view.table_rows(b))
        self.query_one("#plot", LadderPlot).show(view.plot_series(b, self.phase_mode, self.metric),
                                                 b.planned_rungs, view.rung_ticks(b),
                                                 view.plot_title(self.phase_mode, self.metric),
                                                 view.plot_marks(b, self.phase_mode, self.metric))
        self._draw_layers()

    def _draw_layers(self) -> None:
        """The layer panes, for the inspected rung (the table's cursor) or else the newest one."""
        b = self.builder
        inspected = self.query_one("#table", LadderTable).inspected()
        self.inspect = (inspected.phase, inspected.rung) if inspected is not None else None
        phase = self.inspect[0] if self.inspect else view.entropy_phase(b, self.phase_mode)
        rung = view.rung_in_view(b, phase, self.inspect)
        self.query_one("#layers", LayersPane).show(phase, rung, view.layer_rows(b, phase, rung),
                                                   self.inspect is not None, view.rung_compute(b, phase, rung))
        self.query_one("#entropy", EntropyPane).show(phase, view.entropy_by_rung(b, phase), view.entropy_top(b),
                                                     b.planned_rungs + 1, rung, self.inspect is not None)

    def on_data_table_row_highlighted(self, _event) -> None:
        """The rung inspector: the cursor moved in the ladder table."""
        try:
            self._draw_layers()
        except NoMatches:
            pass

    def on_resize(self, event) -> None:
        self._layout_for(event.size.width, event.size.height)
        self.schedule_redraw()

    def _layout_for(self, width: int, height: int) -> None:
        """From WIDE on, both layer panes; below it the side pane shows one of them (l switches); below NARROW
        columns the panes stack (a side pane of a few columns says nothing)."""
        wide = width >= WIDE[0] and height >= WIDE[1]
        self.set_class(wide, "-wide")
        self.set_class(width < NARROW, "-narrow")
        self.query_one("#table", LadderTable).set_width(width)
        self.set_class(not wide and self.show_layers, "-layers")

    def _tick(self) -> None:
        gpu = gpu_now(str(self.builder.environment.get("device", ""))) if self.mode == "live" else None
        p = view.progress(self.builder, self.clock(), gpu)
        if self.gone:
            p = dataclasses.replace(p, status=self.gone, eta=None)
        try:
            self.query_one("#header", RunHeader).show(p)
            self.query_one("#progress", RunProgress).show(p)
        except NoMatches:  # the app is closing
            pass

    # ------------------------------------------------------------------ the worker's end
    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name != "ladder":
            return
        if event.state == WorkerState.SUCCESS:
            self.status = event.worker.result
        elif event.state == WorkerState.ERROR:
            self.error = event.worker.error
            self.status = "failed"
        else:
            return
        self.consume(self.inbox.take())
        self.redraw()
        if self.quitting or self.exit_when_done or self.error is not None or self.session.stop_now.is_set():
            self.app.exit(self.status)
        else:
            self.notify(f"run {self.status}; q quits", title="Run finished", timeout=TOAST_SECONDS,
                        severity="error" if self.status == "failed" else "information")
            self.refresh_bindings()

    def worker_running(self) -> bool:
        return any(w.name == "ladder" and not w.is_finished for w in self.workers)

    # ------------------------------------------------------------------ keys
    def pushed(self) -> bool:
        """Opened over another screen (a ladder of the sweep table): leaving goes back to it."""
        return self.app.screen_stack.index(self) > 0 if self in self.app.screen_stack else False

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "stop_after_rung":
            return self.mode == "live" and self.status is None
        if action == "back":
            return self.pushed()
        return True

    def action_stop_after_rung(self) -> None:
        if self.session is None or self.status is not None:
            return
        self.session.stop_after_rung.set()
        cur = self.builder.current
        self.notify(f"stopping after {cur.phase or 'the'} rung {cur.rung if cur.phase else ''} finishes; "
                    f"resume later with dsd-tui resume", title="Stop after rung")

    def action_back(self) -> None:
        if self.pushed():
            self.app.pop_screen()

    async def action_quit(self) -> None:
        if self.mode == "watch" and self.pushed():  # a ladder opened from the sweep table: back to the table
            self.app.pop_screen()
            return
        if self.mode == "watch" or not self.worker_running():
            self.app.exit(self.status)
            return
        if self.quitting:  # asked twice: leave now; the worker still stops at its next batch
            self.app.exit("interrupted")
            return
        self.quitting = True
        self.session.stop_now.set()
        self.notify("stopping at the next batch; the run will be resumable", title="Quitting", timeout=30)

    def action_export(self) -> None:
        """Offer the exports (ExportChoices): the summary, or the network of the rung in view."""
        rung = self.rung_for_export()
        label = f"{rung[0]} rung {rung[1]}" if rung else None
        self.app.push_screen(ExportChoices(label, EXPORT_NAME, EXPORTS), self.export_chosen)

    def rung_for_export(self) -> tuple[str, int] | None:
        """The inspector's rung (the table's cursor), else the newest rung of the phase in view."""
        inspected = self.query_one("#table", LadderTable).inspected()
        if inspected is not None:
            return inspected.phase, inspected.rung
        phase = view.entropy_phase(self.builder, self.phase_mode)
        rung = view.rung_in_view(self.builder, phase, None)
        return (phase, rung) if phase and rung is not None else None

    def export_chosen(self, choice: str | None) -> None:
        if choice == "summary":
            self.export_summary()
        elif choice in ("model", "sparse-model"):
            self.export_model(sparse=choice == "sparse-model")

    def export_summary(self) -> None:
        path = self.run_dir / EXPORT_NAME
        try:
            atomic_write_text(path, json.dumps(self.builder.summary(), indent=2) + "\n")
        except OSError as e:
            self.notify(f"cannot write {path} ({e.strerror})", title="Export failed", severity="error")
            return
        self.notify(str(path), title="Summary exported")

    def export_model(self, sparse: bool) -> None:
        """The rung in view as a model file under RUN_DIR/exports/ (a new name; nothing is replaced)."""
        from dsd_tui.errors import UsageError
        from dsd_tui.export.run_exports import export_rung
        phase, rung = self.rung_for_export()
        try:
            path = export_rung(self.run_dir, self.builder, phase, rung, sparse)
        except UsageError as e:
            self.notify(str(e), title="Export failed", severity="error")
            return
        except OSError as e:
            self.notify(f"cannot write into {self.run_dir / EXPORTS} ({e.strerror})", title="Export failed",
                        severity="error")
            return
        self.notify(str(path), title=f"{phase} rung {rung} exported")

    def action_cycle_phase(self) -> None:
        modes = view.PHASE_MODES
        self.phase_mode = modes[(modes.index(self.phase_mode) + 1) % len(modes)]
        self.redraw()

    def action_toggle_layers(self) -> None:
        self.show_layers = not self.show_layers
        self._layout_for(self.size.width, self.size.height)
        self.redraw()

    def action_stop_reasons(self) -> None:
        """Every stop criterion that fired, active and shadow, with its full reason."""
        self.app.push_screen(StopReasons([view.stop_text(s) + ("" if s.active else " (shadow)")
                                          for s in self.builder.stops]))

    def action_cycle_metric(self) -> None:
        metrics = view.METRICS
        self.metric = metrics[(metrics.index(self.metric) + 1) % len(metrics)]
        self.redraw()
