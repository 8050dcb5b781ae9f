"""Phase verdicts, regime labels and stop costs on hand-made rung records."""
from __future__ import annotations

import pytest
from stop_curves import NOISE, sdd_absent, sdd_present, typed

from dsd_tui.record.verdict import Verdict
from dsd_tui.stops import regime, verdicts
from dsd_tui.stops.criteria_table import comparison_rows, format_table
from dsd_tui.stops.outcome import Plan, firing_details

N_TEST = 597


def test_verdict_finds_dip_peak_and_collapse_of_a_double_descent():
    v = verdicts.phase_verdict(typed(sdd_present()), N_TEST)
    assert (v.dip_rung, v.peak_rung, v.last_rung) == (5, 10, 15)
    assert v.dense_test_acc == 0.68
    assert v.dip_points == pytest.approx(6.0)
    assert v.recovery_points == pytest.approx(19.0)
    assert v.collapse_points == pytest.approx(36.0)
    assert v.peak_sparsity == pytest.approx(1 - 0.8 ** 10)
    assert v.noise_margin_points == pytest.approx(5.6, abs=0.1)
    assert v.sdd is True and v.dodged is None


def test_verdict_without_double_descent_and_the_student_dodging_it():
    teacher = verdicts.phase_verdict(typed(sdd_present()), N_TEST)
    v = verdicts.phase_verdict(typed(sdd_absent()), N_TEST, teacher)
    assert v.peak_rung == 0 and v.dip_rung == 0 and v.recovery_points == 0
    assert v.sdd is False and v.dodged is True
    assert verdicts.phase_verdict(typed(sdd_absent()), N_TEST, Verdict(sdd=False)).dodged is False


def test_a_recovery_within_the_noise_is_not_called_double_descent():
    recs = sdd_absent()
    recs[3]["test_acc"], recs[6]["test_acc"] = 0.84, 0.88  # +4 pts from the dip: below the 4.2-pt margin
    v = verdicts.phase_verdict(typed(recs), N_TEST)
    assert (v.dip_rung, v.peak_rung) == (3, 6)
    assert v.sdd is False
    assert verdicts.phase_verdict(typed(recs), 60_000).sdd is True  # a big test set resolves it


def test_verdict_text_names_the_rule():
    text = verdicts.describe("teacher", verdicts.phase_verdict(typed(sdd_present()), N_TEST))
    assert "sparse double descent: present (recovery 19.0 pts >= the 5.6-pt noise margin" in text


def test_regimes_of_a_vanilla_ladder_in_order():
    got = regime.labels(typed(sdd_present()), NOISE)
    assert got == ["memorising"] * 5 + ["critical"] * 2 + ["recovered"] * 6 + ["collapsing"] * 3


def test_a_distilled_student_never_memorises():
    got = regime.labels(typed(sdd_absent()), NOISE)
    assert got == ["recovered"] * 10 + ["collapsing"] * 6


def test_without_label_noise_only_recovered_and_collapsing():
    assert set(regime.labels(typed(sdd_present()), 0.0)) == {"recovered", "collapsing"}
    assert regime.noise_fit(regime.Signals(1.0, 0.6, None), NOISE) == pytest.approx(1.0)


def test_firing_cost_counts_rungs_epochs_and_density_weighted_epochs():
    recs = sdd_present()
    plan = Plan(rungs=15, dense_epochs=10, epochs=5, rate=0.2)
    d = firing_details(typed(recs), fired_rung=3, selected_rung=0, plan=plan)
    assert (d["rungs_trained"], d["rungs_full"]) == (4, 16)
    assert (d["epochs_trained"], d["epochs_full"]) == (25, 85)
    assert d["density_epochs_trained"] == pytest.approx(10 + 5 * (0.8 + 0.64 + 0.512))
    assert d["density_epochs_full"] == pytest.approx(10 + 5 * sum(0.8 ** k for k in range(1, 16)))
    assert (d["selected_test_acc"], d["selected_sparsity"]) == (0.68, 0.0)


def test_comparison_table_puts_each_criterion_beside_the_ladders_best():
    recs = sdd_present()
    plan = Plan(rungs=15, dense_epochs=10, epochs=5, rate=0.2)
    stops = [{"phase": "teacher", "criterion": "early-stop", "rung": 3, "selected_rung": 0, "active": False,
              **firing_details(typed(recs), 3, 0, plan)}]
    summary = {"profile": {"prune": {"rungs": 15}, "stop": {"criteria": ["early-stop", "entropy-gated"]}},
               "phases": [{"name": "teacher", "rungs": recs}], "stops": stops}
    rows = comparison_rows(summary)
    assert [r["row"] for r in rows] == ["early-stop", "entropy-gated", "no stop (best val)", "best test (oracle)"]
    assert (rows[0]["selected_rung"], rows[0]["trainings"], rows[0]["trainings_full"]) == (0, 4, 16)
    assert rows[1]["selected_rung"] is None  # never fired
    assert (rows[2]["selected_rung"], rows[3]["selected_rung"]) == (10, 10)
    text = format_table(rows)
    assert "did not fire" in text and "   4/16" in text


def test_a_rise_without_a_dip_is_not_double_descent():
    recs = sdd_present()
    for r in recs[:7]:
        r["test_acc"] = 0.68 + 0.001 * r["rung"]  # never below the dense rung before the climb
    v = verdicts.phase_verdict(typed(recs), N_TEST)
    assert v.dip_rung == 0 and v.recovery_points > 10
    assert v.sdd is False and "no rung before the peak" in v.sdd_reason


def test_a_student_drifting_towards_the_noise_is_not_collapsing():
    """Clean train accuracy drops 7 points while the noisy-label accuracy rises: noise fitting, not collapse."""
    recs = sdd_absent()[:4]
    recs[3]["train_acc"], recs[3]["train_acc_clean"] = 0.78, 0.79
    assert regime.label(typed(recs), NOISE) == "recovered"
    recs[3]["train_acc"] = 0.66  # both fell: collapse
    assert regime.label(typed(recs), NOISE) == "collapsing"


def test_the_student_line_says_whether_there_was_anything_to_dodge():
    teacher = verdicts.phase_verdict(typed(sdd_present()), N_TEST)
    text = verdicts.describe("student", verdicts.phase_verdict(typed(sdd_absent()), N_TEST, teacher))
    assert "dodged by the student: yes" in text
    none = verdicts.phase_verdict(typed(sdd_absent()), N_TEST, verdicts.phase_verdict(typed(sdd_absent()), N_TEST))
    assert none.dodged is False and "n/a (the teacher shows none)" in verdicts.describe("student", none)
