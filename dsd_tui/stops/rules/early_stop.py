"""early-stop: the classic rule. Fires when the validation accuracy has not beaten its best by more than
`min_delta` for `patience` rungs; keeps the best rung."""
from __future__ import annotations

from dsd_tui.record.rung import RungRecord
from dsd_tui.stops.rules import STOP_RULES
from dsd_tui.stops.rules._base import Firing, StopRule, smooth_note, smoothed_val

NAME = "early-stop"


def early_stop(records: list[RungRecord], cfg, start: int = 0, name: str = NAME) -> Firing | None:
    sv = smoothed_val(records, cfg.smooth)
    if len(sv) - start <= cfg.patience:
        return None
    best_i = start
    for i in range(start + 1, len(sv)):
        if sv[i] > sv[best_i] + cfg.min_delta:
            best_i = i
    waited = len(sv) - 1 - best_i
    if waited < cfg.patience:
        return None
    sel = records[best_i].rung
    return Firing(name, records[-1].rung, sel,
                  f"validation accuracy{smooth_note(cfg)} has not beaten {sv[best_i]:.3f} (rung {sel}) "
                  f"for {waited} rungs")


STOP_RULES.register(NAME, StopRule(early_stop, "o", "no validation improvement for stop.patience rungs",
                                   gateable=True))
