"""The stop alert: a banner that stays once an active stop criterion has fired.

The app rings the bell and raises a short notification when the event arrives; the banner keeps,
on one line per stop, the criterion, the phase and rung where it fired, the rung it keeps and that
rung's test accuracy, until the app closes. The full reason is in the log pane and on the r key.
"""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from dsd_tui.record.summary import StopEntry
from dsd_tui.tui.view import stop_line


class StopBanner(Static):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.stops: list[StopEntry] = []

    def show(self, stops: list[StopEntry]) -> None:
        self.display = bool(stops)
        if stops == self.stops:
            return
        self.stops = list(stops)
        lines = []
        for s in stops:
            t = Text(" STOP ", style="bold reverse", no_wrap=True, overflow="ellipsis")
            t.append(" " + stop_line(s) + "  (r: why)")
            lines.append(t)
        self.update(Text("\n").join(lines))
