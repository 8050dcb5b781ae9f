"""The stop reasons screen (key r): every stop criterion that fired, with its whole reason.

The banner gives each active stop one line (criterion, phase, rung, the rung it keeps and that
rung's test accuracy); the reasons are long (the smoothed values and thresholds behind the
decision), so they are here and in the log, not on the main screen.
"""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class StopReasons(ModalScreen):
    BINDINGS = [Binding("escape,r,q", "app.pop_screen", "Close")]

    def __init__(self, reasons: list[str]):
        super().__init__()
        self.reasons = reasons

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="reasons-box"):
            text = Text("Stop criteria that fired (escape closes)\n\n", style="bold")
            if not self.reasons:
                text.append("none has fired yet", style="dim")
            for reason in self.reasons:
                text.append(f"• {reason}\n\n")
            yield Static(text, id="reasons-text")
