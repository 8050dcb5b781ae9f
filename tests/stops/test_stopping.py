"""Stop criteria on hand-made rung records: pure functions, no training."""
from __future__ import annotations

import dataclasses

import pytest
from stop_curves import sdd_absent, sdd_present, typed

from dsd_tui.profile import StopSection
from dsd_tui.stops import criteria as stopping
from dsd_tui.stops.rules import STOP_RULES


def cfg(**changes):
    """The [stop] defaults, with a 3-rung smoothing window the hand-made curves are written for."""
    return dataclasses.replace(StopSection(), **{"smooth": 3, **changes})


def fired(records, name, **changes):
    f = stopping.first_firing(typed(records), name, cfg(**changes))
    return None if f is None else (f.rung, f.selected_rung)


def test_early_stop_fires_in_the_first_descent_and_keeps_the_dense_rung():
    """With SDD, the classic rule gives up before the recovery (rung 3 of 15) and keeps rung 0."""
    assert fired(sdd_present(), "early-stop") == (3, 0)


def test_early_stop_without_sdd_keeps_the_best_validation_rung():
    assert fired(sdd_absent(), "early-stop", smooth=1) == (3, 0)


def test_early_stop_waits_while_validation_improves():
    recs = sdd_present()[7:12]  # the climb out of the dip
    for r in recs:
        r["rung"] -= 7
    assert fired(recs, "early-stop", smooth=1) is None


def test_early_stop_min_delta_ignores_small_improvements():
    recs = sdd_absent()[:6]
    recs[2]["val_acc"] = recs[0]["val_acc"] + 0.005
    assert fired(recs, "early-stop", smooth=1) == (5, 2)
    assert fired(recs, "early-stop", smooth=1, min_delta=0.01) == (3, 0)


def test_tolerance_drop_keeps_the_sparsest_rung_within_the_tolerance():
    """Student-like curve: the smoothed val accuracy first leaves the 3-point band at rung 10."""
    assert fired(sdd_absent(), "tolerance-drop") == (10, 9)


def test_tolerance_drop_fires_in_the_first_descent_with_sdd():
    assert fired(sdd_present(), "tolerance-drop") == (4, 3)


def test_tolerance_drop_dense_reference_differs_from_best_so_far():
    recs = sdd_absent()
    recs[3]["val_acc"] = 0.60  # one lucky rung raises the best-so-far reference, not the dense one
    assert fired(recs, "tolerance-drop", smooth=1, reference="best")[0] == 4
    assert fired(recs, "tolerance-drop", smooth=1, reference="dense") == (9, 8)


def test_entropy_gated_waits_out_the_memorising_plateau_and_keeps_the_recovered_peak():
    """Armed at rung 7 (entropy 10% below its max): fires after the recovery, keeps a rung at the peak."""
    recs = sdd_present()
    assert stopping.entropy_armed_at(typed(recs), 0.1) == 7
    rung, keep = fired(recs, "entropy-gated")
    assert (rung, keep) == (14, 11)
    assert recs[keep]["test_acc"] >= max(r["test_acc"] for r in recs) - 0.02
    assert fired(recs, "entropy-gated", smooth=1) == (13, 10)


def test_entropy_gated_never_fires_while_the_entropy_stays_on_its_plateau():
    recs = sdd_present()
    for r in recs:
        r["entropy_mean"] = 0.59
    assert fired(recs, "entropy-gated") is None


def test_entropy_gated_can_arm_the_compression_rule():
    assert fired(sdd_absent(), "entropy-gated", gated="tolerance-drop") == (11, 10)


def test_smoothing_keeps_one_noisy_rung_from_firing_early_stop():
    """A single lucky validation rung resets nothing when smoothed, but is 'the best' raw."""
    recs = sdd_absent()[:8]
    recs[2]["val_acc"] = 0.60
    assert fired(recs, "early-stop", smooth=1) == (5, 2)
    f = fired(recs, "early-stop", smooth=3)
    assert f is not None and f[1] != 1


@pytest.mark.parametrize("name", STOP_RULES.names())
def test_each_criterion_is_reported_once_however_often_it_is_reevaluated(name):
    recs = sdd_present()
    c = cfg(criteria=[name])
    hits = [f for k in range(1, len(recs) + 1) for f in stopping.newly_fired(typed(recs[:k]), c)]
    assert len(hits) == 1 and hits[0].criterion == name


def test_reasons_say_what_fired_in_words():
    f = stopping.first_firing(typed(sdd_present()), "entropy-gated", cfg())
    assert "armed at rung 7" in f.reason and "has not beaten" in f.reason
