"""A finished phase's verdict as a typed record (the rule that computes it: stops/verdicts.py).

Its own module in record/ because the `phase_finished` event and the summary carry it, and the record
layer does not import the stop analysis. JSON only at the disk edge (record/json_record.py): the keys in
the order summary.json has always had; `teacher_sdd` and `dodged` only for a student phase.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dsd_tui.record.json_record import JsonRecord


@dataclass(frozen=True)
class Verdict(JsonRecord):
    """A finished phase's verdict (summary.json `phases[].verdict`, the `phase_finished` event's `verdict`).
    Accuracies and sparsities are fractions, `*_points` percentage points of test accuracy."""

    dense_test_acc: float | None = None
    dip_rung: int | None = None
    dip_test_acc: float | None = None
    dip_sparsity: float | None = None
    peak_rung: int | None = None
    peak_test_acc: float | None = None
    peak_sparsity: float | None = None
    dip_points: float | None = None  # dense − dip
    recovery_points: float | None = None  # peak − dip
    collapse_points: float | None = None  # peak − last rung
    last_rung: int | None = None
    noise_margin_points: float | None = None
    sdd: bool | None = None  # sparse double descent present (SDD_RULE)
    sdd_rule: str | None = None
    sdd_reason: str | None = None
    teacher_sdd: bool | None = None  # student phase only: did its teacher show sparse double descent
    dodged: bool | None = None  # student phase only: the teacher showed it and the student does not
    # Training MACs (core/macs.py): what the phase's ladder trained, and the whole ladder as configured
    # (stops/outcome.py Plan.full_train_macs: untrained rungs estimated); None for runs from before them.
    train_macs: int | None = None
    train_macs_full: int | None = None
    json_keys: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    __hash__ = None  # type: ignore[assignment]
