"""Two bars: epochs of the current rung, and rungs of the whole run (all phases)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

from ..view import Progress


class RunProgress(Horizontal):
    DEFAULT_CSS = "RunProgress { height: 1; }"

    def compose(self) -> ComposeResult:
        yield Label("epoch -/-", id="epoch-label")
        yield ProgressBar(id="epoch-bar", show_eta=False)
        yield Label("rungs -/-", id="ladder-label")
        yield ProgressBar(id="ladder-bar", show_eta=False)

    def show(self, p: Progress) -> None:
        self.query_one("#epoch-label", Label).update(f"epoch {p.epoch}/{p.epochs}")
        self.query_one("#epoch-bar", ProgressBar).update(total=max(1, p.epochs), progress=p.epoch)
        self.query_one("#ladder-label", Label).update(f"rungs {p.rungs_done}/{p.rungs_total}")
        self.query_one("#ladder-bar", ProgressBar).update(total=max(1, p.rungs_total), progress=p.rungs_done)
