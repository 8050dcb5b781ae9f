"""Stop criteria, replayed: which registered rule (`stops/rules/`, one module per rule) fires, and when.

A rule *fires* at the first rung at which it returns a Firing; `first_firing` replays a finished ladder
to find that rung, `newly_fired` reports the criteria firing at the last record, so re-evaluating
after a resume never fires a criterion twice. The rules, their defaults and the measurements behind
them: stops/rules/ and docs/results.md, "Stop criteria".
"""
from __future__ import annotations

from dsd_tui.record.rung import RungRecord
from dsd_tui.stops.rules import STOP_RULES, Firing, smoothed_val
from dsd_tui.stops.rules.entropy_gated import entropy_armed_at

__all__ = ["Firing", "smoothed_val", "entropy_armed_at", "evaluate", "first_firing", "newly_fired"]


def evaluate(name: str, records: list[RungRecord], cfg) -> Firing | None:
    return STOP_RULES.get(name).fires(records, cfg)


def first_firing(records: list[RungRecord], name: str, cfg) -> Firing | None:
    """Where the criterion first fires when the records arrive one rung at a time (None: never)."""
    for k in range(1, len(records) + 1):
        f = evaluate(name, records[:k], cfg)
        if f is not None:
            return f
    return None


def newly_fired(records: list[RungRecord], cfg) -> list[Firing]:
    """The configured criteria that fire at the last record and did not fire on any earlier prefix."""
    out = []
    for name in cfg.criteria:
        f = first_firing(records, name, cfg)
        if f is not None and f.rung == records[-1].rung:
            out.append(f)
    return out
