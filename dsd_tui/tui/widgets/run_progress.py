"""Two bars on one line: epochs of the current rung, and rungs trained over the whole run (all phases:
each phase trains N+1 rungs, 0…N).

Drawn as one line of text rather than with Textual's ProgressBar widgets: it changes with every
epoch and shares the process with the training, so it is kept to a few spans.
"""
from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from dsd_tui.tui.view import Progress


def bar(done: int, total: int, width: int) -> Text:
    filled = round(width * done / total) if total else 0
    t = Text("━" * filled, style="bold")
    t.append("━" * (width - filled), style="dim")
    return t


class RunProgress(Widget):
    DEFAULT_CSS = "RunProgress { height: 1; }"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.shown = (0, 0, 0, 0)  # epoch, epochs, rungs done, rungs in all

    def show(self, p: Progress) -> None:
        shown = (p.epoch, p.epochs, p.rungs_done, p.rungs_total)
        if shown != self.shown:
            self.shown = shown
            self.refresh()

    def render(self) -> Text:
        epoch, epochs, done, total = self.shown
        left = f" epoch {epoch}/{epochs} "
        right = f"  trained {done}/{total} rungs "
        width = max(2, (self.content_size.width - len(left) - len(right) - 10) // 2)
        t = Text(left)
        t.append_text(bar(epoch, epochs, width))
        t.append(f" {100 * epoch // max(1, epochs):>3}%{right}")
        t.append_text(bar(done, total, width))
        t.append(f" {100 * done // max(1, total):>3}%")
        return t
