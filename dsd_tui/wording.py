"""The words every view uses for the ladder's length, so the header, the headless view, the progress bar,
the log and the docs say the same thing: `prune.rungs = N` is "N pruning rungs, N+1 trained", numbered
0…N, rung 0 being the dense training.
"""
from __future__ import annotations


def rung_count(rungs: int) -> str:
    """"34 pruning rungs, 35 trained" for prune.rungs = 34."""
    return f"{rungs} pruning rungs, {rungs + 1} trained"


def phases_text(n: int) -> str:
    return "1 phase" if n == 1 else f"{n} phases"
