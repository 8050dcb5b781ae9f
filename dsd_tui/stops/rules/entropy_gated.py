"""entropy-gated: the `stop.gated` rule, armed only once the mean layer entropy has fallen `gate_drop`
below its running maximum (the network has left the memorising regime), counting only the rungs from
there on."""
from __future__ import annotations

from dsd_tui.record.rung import RungRecord
from dsd_tui.stops.rules import STOP_RULES
from dsd_tui.stops.rules._base import Firing, StopRule

NAME = "entropy-gated"


def entropy_armed_at(records: list[RungRecord], gate_drop: float) -> int | None:
    """Index of the first rung whose mean entropy is gate_drop below its running maximum."""
    running = None
    for i, r in enumerate(records):
        h = r.entropy_mean
        if h is None:
            continue
        running = h if running is None else max(running, h)
        if running > 0 and h < (1.0 - gate_drop) * running:
            return i
    return None


def entropy_gated(records: list[RungRecord], cfg) -> Firing | None:
    armed = entropy_armed_at(records, cfg.gate_drop)
    if armed is None:
        return None
    f = STOP_RULES.get(cfg.gated).fires(records, cfg, start=armed, name=NAME)
    if f is None:
        return None
    return Firing(NAME, f.rung, f.selected_rung,
                  f"armed at rung {records[armed].rung} (mean entropy {cfg.gate_drop:.0%} below its running "
                  f"max); " + f.reason)


STOP_RULES.register(NAME, StopRule(entropy_gated, "D", "stop.gated, armed once the mean entropy fell stop.gate_drop"))
