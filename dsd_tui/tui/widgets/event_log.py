"""The log pane: one line per notable event (rungs, phases, stops, warnings, the end of the run)."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

SEVERITY_STYLE = {"info": "", "warning": "yellow", "error": "bold red", "alert": "bold yellow"}


class EventLog(RichLog):
    def __init__(self, **kw):
        super().__init__(max_lines=2000, min_width=16, wrap=True, markup=False, **kw)
        self.lines_written: list[str] = []

    def add(self, severity: str, text: str) -> None:
        self.add_all([(severity, text)])

    def add_all(self, lines: list[tuple[str, str]]) -> None:
        """Write (severity, text) lines; the log re-renders once for all of them."""
        for severity, text in lines:
            self.lines_written.append(text)
            self.write(Text(text, style=SEVERITY_STYLE.get(severity, "")))
