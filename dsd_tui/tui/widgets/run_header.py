"""The top line: which run, where the ladder is, how long it has run and has left, on what.

Ordered by importance, so a narrow terminal cuts the setup (data, model, device) first.
"""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from dsd_tui.tui.view import Progress, duration

STATUS_STYLE = {"running": "bold green", "completed": "bold", "stopped": "bold yellow",
                "interrupted": "bold yellow", "failed": "bold red"}


class RunHeader(Static):
    DEFAULT_CSS = "RunHeader { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }"

    def show(self, p: Progress) -> None:
        t = Text()
        t.append(f" {p.name} ", style="reverse bold")
        t.append(" ")
        t.append(f"{p.phase} rung {p.rung} of 0…{p.rungs}", style="bold")  # 0 = dense: N pruning rungs, N+1 trained
        t.append(f" · {duration(p.elapsed)} · ")
        if p.status == "running":
            t.append(f"ETA {duration(p.eta)}")
        else:
            t.append(p.status, style=STATUS_STYLE.get(p.status, "bold"))
        if p.compute:  # the run's training MACs so far, the newest rung's forward speed-up
            t.append(f" · {p.compute}")
        t.append(f" · {p.profile} · {p.device}")
        if p.resources:
            t.append(f" · {p.resources}")
        if t != getattr(self, "_shown", None):
            self._shown = t
            self.update(t, layout=False)  # one line always: no layout pass per tick
