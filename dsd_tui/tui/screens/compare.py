"""`dsd-tui compare --tui`: the comparison table in a scrollable screen, metric switched with a key.

A screen of `DsdApp` (styles and global keys shared with the monitor); `compare_app` starts the
app on it. It renders `study.compare_runs.table` (the same table the terminal command prints) and
recomputes nothing itself; `m` cycles the rung metric shown.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from dsd_tui.study import compare_runs as compare_mod
from dsd_tui.study import sweep_index as idx

METRICS = ("test_acc", "val_acc", "train_acc", "entropy_mean", "test_loss")


class CompareScreen(Screen):
    """Teacher and student curves of several runs or sweeps, one row per rung."""

    TITLE = "dsd-tui compare"
    BINDINGS = [Binding("m", "next_metric", "Metric"), Binding("q", "app.quit", "Quit")]

    def __init__(self, groups: list[idx.Group], metric: str = "test_acc"):
        super().__init__()
        self.groups = groups
        self.metric = metric
        self.shown: dict = {}  # the curves on screen, as compare.table returned them

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(id="table")
            yield Static(id="stops")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#stops", Static).update("\n".join(compare_mod.stops_lines(self.groups)))
        self.show()

    def show(self) -> None:
        table, self.shown = compare_mod.table(self.groups, self.metric)
        self.sub_title = self.metric
        self.query_one("#table", Static).update(table)

    def action_next_metric(self) -> None:
        i = METRICS.index(self.metric) if self.metric in METRICS else -1
        self.metric = METRICS[(i + 1) % len(METRICS)]
        self.show()


def compare_app(groups: list[idx.Group], metric: str = "test_acc"):
    """The app on the comparison screen (run it to show it)."""
    from dsd_tui.tui.app import DsdApp  # app.py imports the screens; the app is only needed here

    return DsdApp(CompareScreen(groups, metric))
