"""The verdicts, kept on screen: each finished phase's verdict in one line, and the teacher the student got.

What a researcher runs the ladder for (does the teacher show sparse double descent, did the student dodge
it, which teacher rung was distilled and why) stays visible from the moment it is known until the app
closes, instead of appearing only in the end report after `q`. The lines are built in tui/view.py
`verdict_lines` (the same sentences the headless view prints).
"""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class VerdictBanner(Static):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.lines: list[str] = []

    def show(self, lines: list[str]) -> None:
        self.display = bool(lines)
        if lines == self.lines:
            return
        self.lines = list(lines)
        self.update(Text("\n").join(Text(" " + line, no_wrap=True, overflow="ellipsis") for line in lines))
