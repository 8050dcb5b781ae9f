"""Stop criteria (`stop.criteria`, `stop.active`, `stop.active_student`), one module per rule.

Each module registers a `StopRule` (`_base.py`) in `STOP_RULES`: its function of the records so far,
the marker the study figures draw it with, and whether the entropy gate can arm it (`stop.gated`).
`stops/criteria.py` replays the rules rung by rung (`first_firing`, `newly_fired`) from this registry.
No plugin group: a new rule is a new module here plus its test.
"""
from __future__ import annotations

from dsd_tui.registry import Registry

STOP_RULES = Registry("stop criterion", package=__name__)

from dsd_tui.stops.rules._base import Firing, StopRule, smoothed_val  # noqa: E402 - after STOP_RULES

__all__ = ["STOP_RULES", "Firing", "StopRule", "smoothed_val"]
