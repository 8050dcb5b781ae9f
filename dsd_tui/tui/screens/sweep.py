"""`dsd-tui watch SWEEP_DIR`: every ladder of a sweep in one table, from which a ladder is opened.

The table is `study.status.ladder_state` for each ladder of sweep.json, re-read every
`REFRESH_SECONDS` (it only reads files, so it works beside a running sweep or on a finished one).
Enter on a row leaves this app with that ladder's run directory; `watch_sweep` then opens the
ladder's own monitor and comes back to the table when it is closed.
"""
from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header

from dsd_tui.record.rundir import is_run_dir
from dsd_tui.study import sweep_index as idx
from dsd_tui.study import sweep_table

REFRESH_SECONDS = 2.0
COLUMNS = ("settings", "seed", "status", "phase", "rung", "T test", "S test", "seconds")


class SweepApp(App):
    """The sweep's ladders; returns the run directory chosen with Enter, or None on quit."""

    TITLE = "dsd-tui sweep"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("q", "quit_sweep", "Quit"), Binding("enter", "open", "Open ladder")]

    def __init__(self, sweep_dir: Path):
        super().__init__()
        self.sweep_dir = Path(sweep_dir)
        self.names: list[str] = []

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
        path = self.sweep_dir / self.names[i]
        if not is_run_dir(path):
            self.notify(f"{self.names[i]} has not started yet", severity="warning")
            return
        self.exit(path)

    def action_quit_sweep(self) -> None:
        self.exit(None)


def watch_sweep(sweep_dir: Path) -> None:
    """The sweep table; a chosen ladder opens in the run monitor, and quitting it returns here."""
    while True:
        chosen = SweepApp(sweep_dir).run()
        if chosen is None:
            return
        try:
            from dsd_tui.tui.app import watch_app
        except ImportError:  # the run monitor is not part of this installation
            print(chosen)
            return
        watch_app(chosen)
