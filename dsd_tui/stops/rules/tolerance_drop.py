"""tolerance-drop: the compression rule. Fires at the first rung whose validation accuracy falls more than
`delta` below the reference (the dense rung, or the best so far); keeps the sparsest rung still within
the tolerance."""
from __future__ import annotations

from dsd_tui.record.rung import RungRecord
from dsd_tui.stops.rules import STOP_RULES
from dsd_tui.stops.rules._base import Firing, StopRule, smooth_note, smoothed_val

NAME = "tolerance-drop"


def tolerance_drop(records: list[RungRecord], cfg, start: int = 0, name: str = NAME) -> Firing | None:
    sv = smoothed_val(records, cfg.smooth)
    i = len(sv) - 1
    if i <= start:
        return None
    ref = sv[0] if cfg.reference == "dense" else max(sv[start:i])
    floor = ref - cfg.delta
    if sv[i] >= floor:
        return None
    within = [j for j in range(start, i) if sv[j] >= floor]
    sel = records[within[-1] if within else i - 1].rung
    return Firing(name, records[i].rung, sel,
                  f"validation accuracy{smooth_note(cfg)} {sv[i]:.3f} fell more than {cfg.delta:.3f} below "
                  f"the {cfg.reference} reference {ref:.3f}; rung {sel} is the sparsest within it")


STOP_RULES.register(NAME, StopRule(tolerance_drop, "s", "validation accuracy stop.delta below the reference",
                                   gateable=True))
