"""What a stop rule is: a pure function of the per-rung records so far (no training needed to test it).

A rule takes (records, cfg) (cfg: the profile's [stop] section) and returns a Firing or None; a rule the
entropy gate can arm (`gateable`) also takes `start` (the first record it counts) and `name` (the
criterion reported). Validation accuracy is a trailing mean over `cfg.smooth` rungs (past rungs only,
so it is usable live): one rung's validation accuracy on a small noisy split is too noisy to compare
rung to rung.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from dsd_tui.record.rung import RungRecord


@dataclass(frozen=True)
class Firing:
    criterion: str
    rung: int  # the rung at which it fired (the last record)
    selected_rung: int  # the rung it recommends keeping
    reason: str


@dataclass(frozen=True)
class StopRule:
    fires: Callable[..., Firing | None]  # (records, cfg[, start, name]) -> Firing | None
    marker: str  # its matplotlib marker in the study figures
    summary: str = ""
    gateable: bool = False  # entropy-gated can arm it (it takes `start` and `name`)


def smoothed_val(records: list[RungRecord], window: int) -> list[float]:
    """Trailing mean of validation accuracy over `window` rungs (only past rungs: usable live)."""
    vals = [r.val_acc if r.val_acc is not None else 0.0 for r in records]
    out = []
    for i in range(len(vals)):
        lo = max(0, i - window + 1)
        out.append(sum(vals[lo:i + 1]) / (i + 1 - lo))
    return out


def smooth_note(cfg) -> str:
    return f" (mean of the last {cfg.smooth} rungs)" if cfg.smooth > 1 else ""
