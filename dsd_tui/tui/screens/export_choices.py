"""The export screen (key e): what to export, written into the run folder, never elsewhere.

s writes the run summary (RUN_DIR/export-summary.json, as `e` alone did before), m the network of the rung
in view (the inspector's rung, else the phase's newest) as a model file under RUN_DIR/exports/, c the same
with its pruned weights stored compactly. The monitor does the writing (`MonitorScreen.export_chosen`);
this screen only offers the choice and returns it.
"""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

CHOICES = {"s": "summary", "m": "model", "c": "sparse-model"}


class ExportChoices(ModalScreen[str | None]):
    BINDINGS = [Binding("s", "choose('s')", "Summary"), Binding("m", "choose('m')", "Model"),
                Binding("c", "choose('c')", "Compact model"), Binding("escape,q,e", "choose('')", "Close")]

    def __init__(self, rung_label: str | None, summary_name: str, exports_dir: str):
        super().__init__()
        self.rung_label = rung_label  # "teacher rung 7", or None before the first rung
        self.summary_name = summary_name
        self.exports_dir = exports_dir

    def compose(self) -> ComposeResult:
        text = Text("Export into the run folder (escape closes)\n\n", style="bold")
        text.append(f"s  the run summary → RUN_DIR/{self.summary_name}\n")
        if self.rung_label is None:
            text.append("m  (no finished rung to export yet)\n", style="dim")
        else:
            text.append(f"m  {self.rung_label}'s network → RUN_DIR/{self.exports_dir}/ "
                        f"(dsd_tui.load_model or torch.load)\n")
            text.append("c  the same, pruned weights stored compactly (a smaller file)\n")
        with Vertical(id="export-box"):
            yield Static(text, id="export-text")

    def action_choose(self, key: str) -> None:
        if key in ("m", "c") and self.rung_label is None:
            return
        self.dismiss(CHOICES.get(key))
