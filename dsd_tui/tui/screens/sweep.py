"""`dsd-tui watch SWEEP_DIR`: every ladder of a sweep in one table, from which a ladder is opened.

A screen of `DsdApp` so that a ladder opens as a `MonitorScreen` pushed over the table (watching
its run directory), and Escape (or q) on that monitor pops back to the table with the cursor on
the same row: one app for the whole visit, no app re-created per ladder.

The table is `study.sweep_table.ladder_state` for each ladder of sweep.json, re-read every
`REFRESH_SECONDS` (it only reads files, so it works beside a running sweep or on a finished one).
"""
from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header

from dsd_tui.record.rundir import EVENTS, is_run_dir
from dsd_tui.study import sweep_index as idx
from dsd_tui.study import sweep_table
from dsd_tui.tui.screens.monitor import MonitorScreen

REFRESH_SECONDS = 2.0
COLUMNS = ("settings", "seed", "status", "phase", "rung", "T test", "S test", "seconds")


class SweepScreen(Screen):
    """The sweep's ladders, one row each; Enter opens the ladder's monitor over the table."""

    TITLE = "dsd-tui sweep"
    BINDINGS = [Binding("q", "app.quit", "Quit"), Binding("enter", "open", "Open ladder")]

    def __init__(self, sweep_dir: Path):
        super().__init__()
        self.sweep_dir = Path(sweep_dir)
        self.names: list[str] = []
        self.opened: Path | None = None  # the run directory last opened with Enter

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.sweep_dir)
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.refresh_table()
        self.set_interval(REFRESH_SECONDS, self.refresh_table)

    def refresh_table(self) -> None:
        table = self.query_one(DataTable)
        index = idx.read_index(self.sweep_dir)
        rows = [sweep_table.ladder_state(self.sweep_dir, lad) for lad in index["ladders"]]
        cursor = table.cursor_row
        table.clear()
        for st in rows:
            sec = "" if st["seconds"] is None else f"{st['seconds']:.1f}"
            table.add_row(st["settings"], str(st["seed"]), st["status"], st["phase"], st["rung"], st["teacher"],
                          st["student"], sec, key=st["name"])
        self.names = [st["name"] for st in rows]
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_row(event.cursor_row)

    def action_open(self) -> None:
        self.open_row(self.query_one(DataTable).cursor_row)

    def open_row(self, i: int) -> None:
        if not 0 <= i < len(self.names) or self.app.screen is not self:
            return
        path = self.sweep_dir / self.names[i]
        if not is_run_dir(path):
            self.notify(f"{self.names[i]} has not started yet", severity="warning")
            return
        self.opened = path
        self.app.push_screen(MonitorScreen(events_path=path / EVENTS, check_writer=True))


def watch_sweep(sweep_dir: Path) -> None:
    """The sweep table; a chosen ladder opens in the run monitor, and leaving it returns here."""
    from dsd_tui.tui.app import DsdApp  # app.py imports the screens; the app is only needed here

    DsdApp(SweepScreen(sweep_dir)).run()
