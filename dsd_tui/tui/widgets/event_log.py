"""The log pane: one line per notable event (rungs, phases, stops, warnings, the end of the run).

RichLog wraps a line once, at the width it had when written; the lines are kept, so a resize writes them
again at the new width (cut after shrinking, wrapped at 16 columns after widening, otherwise)."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

SEVERITY_STYLE = {"info": "", "warning": "yellow", "error": "bold red", "alert": "bold yellow"}


class EventLog(RichLog):
    def __init__(self, **kw):
        super().__init__(max_lines=2000, min_width=16, wrap=True, markup=False, **kw)
        self.lines_written: list[str] = []
        self.entries: list[tuple[str, str]] = []  # (severity, text), to write again at a new width
        self.wrapped_at = 0  # the width the lines were last wrapped to

    def add(self, severity: str, text: str) -> None:
        self.add_all([(severity, text)])

    def add_all(self, lines: list[tuple[str, str]]) -> None:
        """Write (severity, text) lines; the log re-renders once for all of them."""
        for severity, text in lines:
            self.lines_written.append(text)
            self.entries.append((severity, text))
            self.write(Text(text, style=SEVERITY_STYLE.get(severity, "")))
        self.entries = self.entries[-self.max_lines:] if self.max_lines else self.entries

    def on_resize(self, _event) -> None:
        width = self.scrollable_content_region.width
        if width == self.wrapped_at or not self.entries:
            self.wrapped_at = width
            return
        self.wrapped_at = width
        self.clear()
        for severity, text in self.entries:
            self.write(Text(text, style=SEVERITY_STYLE.get(severity, "")))
