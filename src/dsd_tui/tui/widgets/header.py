"""The top line: which run, on what, where the ladder is, how long it has run and has left."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..view import Progress, duration

STATUS_STYLE = {"running": "bold green", "completed": "bold", "stopped": "bold yellow",
                "interrupted": "bold yellow", "failed": "bold red"}


class RunHeader(Static):
    def show(self, p: Progress, mode: str) -> None:
        t = Text(no_wrap=False)
        t.append(f" {p.name} ", style="reverse bold")
        t.append(f" {p.profile} · {p.device} · ")
        t.append(f"{p.phase} rung {p.rung}/{p.rungs}", style="bold")
        t.append(f" · {duration(p.elapsed)} · ")
        if p.status == "running":
            t.append(f"ETA {duration(p.eta)}")
        else:
            t.append(p.status, style=STATUS_STYLE.get(p.status, "bold"))
        self.update(t)
