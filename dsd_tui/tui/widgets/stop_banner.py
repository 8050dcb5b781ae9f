"""The stop alert: a banner that stays once an active stop criterion has fired.

The app rings the bell and raises a notification when the event arrives; the banner keeps the
criterion, the rung, the rung it recommends and why, until the app closes. On short terminals
(`compact`) each stop gets one line and the reason is cut (the log pane has it whole).
"""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from dsd_tui.tui.view import stop_text


class StopBanner(Static):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.stops: list[dict] = []
        self.compact = False

    def show(self, stops: list[dict], compact: bool = False) -> None:
        self.display = bool(stops)
        if stops == self.stops and compact == self.compact:
            return
        self.stops, self.compact = list(stops), compact
        lines = []
        for s in stops:
            t = Text(" STOP ", style="bold reverse")
            t.append(" " + stop_text(s))
            lines.append(t)
        self.set_class(compact, "-compact")  # app.tcss: one line per stop, cut with an ellipsis
        self.update(Text("\n").join(lines))
