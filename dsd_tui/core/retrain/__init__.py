"""Retraining modes (`prune.retrain`): how a pruned rung is retrained, one module per mode.

Each mode registers a `RetrainMode` (`_base.py`) in `RETRAIN_MODES`: the hooks the ladder calls (the
weights a rung starts from, its learning rate and milestones, when the rewind weights are taken), the
resume state keeps (`keeps_rewind_state`), and the checks of a profile and of its data. The ladder
never compares the mode's name. No plugin group: a new mode is a new module here plus its test.
"""
from __future__ import annotations

from dsd_tui.registry import Registry

RETRAIN_MODES = Registry("retraining mode", package=__name__)

from dsd_tui.core.retrain._base import RetrainMode  # noqa: E402 - after RETRAIN_MODES

__all__ = ["RETRAIN_MODES", "RetrainMode"]
