"""What a finished phase says: the verdict a researcher reads off a ladder's test-accuracy curve.

Computed once per phase from its rung records (the test set is only read here, after the fact;
nothing is chosen with it). All accuracies are fractions; dip, recovery and collapse are in
percentage points of test accuracy.

    peak      the rung with the best test accuracy (ties: the sparser rung)
    dip       the rung with the lowest test accuracy at or before the peak (ties: the sparser rung)
    dip_points       dense − dip       (how far the first descent went)
    recovery_points  peak − dip        (how far it climbed back)
    collapse_points  peak − last rung  (how far it fell after the peak, over the rungs trained)

Sparse double descent is *present* when the curve first descends and then climbs back by more than
run-to-run noise: the dip is at a pruned rung (not the dense one) and recovery_points ≥ the noise
margin, 2·√2 standard errors of one rung's test accuracy (binomial, n test samples, at the dip's
accuracy; floor 1 point). √2 because the recovery is a difference of two such estimates; 2 for a
two-sided ~95% band. On the quickstart (597 test samples) the margin is about 5.4 points, above the
seed-to-seed spread measured at a fixed rung (docs/results.md). A student *dodged* sparse double
descent when its teacher showed it and the student does not (`teacher_sdd` says whether it did).
"""
from __future__ import annotations

import math

from dsd_tui.record.compute_text import saving_text
from dsd_tui.record.rung import RungRecord
from dsd_tui.record.verdict import Verdict
from dsd_tui.stops.outcome import Plan

MIN_MARGIN_POINTS = 1.0
SDD_RULE = "dip at a pruned rung and recovery >= noise margin (2*sqrt(2) binomial s.e. of one rung's test acc)"


def noise_margin_points(acc: float, n_test: int | None) -> float:
    """2·√2 binomial standard errors of a test accuracy `acc` over n_test samples, in points."""
    if not n_test:
        return MIN_MARGIN_POINTS
    se = math.sqrt(max(acc * (1.0 - acc), 0.0) / n_test)
    return max(MIN_MARGIN_POINTS, 100.0 * 2.0 * math.sqrt(2.0) * se)


def _pick(records: list[RungRecord], better) -> RungRecord:
    best = records[0]
    for r in records[1:]:
        if better(r.test_acc, best.test_acc) or r.test_acc == best.test_acc:
            best = r  # ties go to the later, sparser rung
    return best


def phase_verdict(records: list[RungRecord], n_test: int | None = None,
                  teacher: Verdict | None = None, plan: Plan | None = None) -> Verdict | None:
    """The verdict of one phase (None: no rung has a test accuracy). `teacher`: the teacher phase's verdict,
    given for the student (an empty Verdict() when the teacher has none); `plan`: the phase's ladder as
    configured, for the training MACs of the whole ladder (the saving of a phase that stopped early)."""
    rs = [r for r in records if r.test_acc is not None]
    if not rs:
        return None
    dense = rs[0]
    peak = _pick(rs, lambda a, b: a > b)
    dip = _pick([r for r in rs if r.rung <= peak.rung], lambda a, b: a < b)
    last = rs[-1]
    margin = noise_margin_points(dip.test_acc, n_test)
    recovery = 100.0 * (peak.test_acc - dip.test_acc)
    sdd = dip.rung > dense.rung and recovery >= margin
    teacher_sdd = bool(teacher.sdd) if teacher is not None else None
    return Verdict(
        dense_test_acc=dense.test_acc,
        dip_rung=dip.rung, dip_test_acc=dip.test_acc, dip_sparsity=dip.sparsity,
        peak_rung=peak.rung, peak_test_acc=peak.test_acc, peak_sparsity=peak.sparsity,
        dip_points=100.0 * (dense.test_acc - dip.test_acc),
        recovery_points=recovery,
        collapse_points=100.0 * (peak.test_acc - last.test_acc),
        last_rung=last.rung,
        noise_margin_points=margin,
        sdd=sdd,
        sdd_rule=SDD_RULE,
        sdd_reason=_reason(dip.rung > dense.rung, recovery, margin),
        teacher_sdd=teacher_sdd,
        dodged=(teacher_sdd and not sdd) if teacher is not None else None,
        train_macs=records[-1].cumulative_train_macs,
        train_macs_full=plan.full_train_macs(records) if plan is not None else None,
    )


def _reason(dipped: bool, recovery: float, margin: float) -> str:
    if not dipped:
        return "no rung before the peak is below the dense one"
    sign = ">=" if recovery >= margin else "<"
    return f"recovery {recovery:.1f} pts {sign} the {margin:.1f}-pt noise margin"


def describe(phase: str, v: Verdict | None) -> str:
    """Two indented lines for the headless view (rows starting with a phase name are rung rows)."""
    if v is None:
        return f"  {phase}: no verdict (no rung finished)"
    pct = lambda s: f"{100.0 * s:.2f}%"  # noqa: E731
    text = (f"  {phase} verdict: dense {v.dense_test_acc:.3f}; "
            f"dip {v.dip_test_acc:.3f} at {pct(v.dip_sparsity)} "
            f"(-{v.dip_points:.1f} pts); peak {v.peak_test_acc:.3f} at {pct(v.peak_sparsity)} "
            f"(+{v.recovery_points:.1f} pts from the dip); collapse -{v.collapse_points:.1f} pts by rung "
            f"{v.last_rung}\n    sparse double descent: {'present' if v.sdd else 'absent'} "
            f"({v.sdd_reason}; rule: {v.sdd_rule})")
    if v.dodged is not None:
        if v.teacher_sdd is False:
            text += "; dodged by the student: n/a (the teacher shows none)"
        else:
            text += f"; dodged by the student: {'yes' if v.dodged else 'no, it shows it too'}"
    macs = saving_text(v.train_macs, v.train_macs_full)
    if macs:
        text += f"\n    compute: {macs} against the whole ladder as configured"
    return text


def sparsity_text(s: float | None) -> str:
    """A sparsity as a percentage with the digits that tell rungs apart near 100% (99.4%, 99.95%)."""
    if s is None:
        return "n/a"
    pct = 100.0 * s
    return f"{pct:.2f}%" if pct >= 99.5 else f"{pct:.1f}%"


def one_line(phase: str, v: Verdict | None) -> str:
    """"teacher: sparse double descent: dip …": the verdict in one line, for the monitor's banner and the
    headless view (the rule and the numbers behind it: `describe`)."""
    return f"{phase}: {verdict_text(v)}"


def verdict_text(v: Verdict | None) -> str:
    if v is None:  # no rung with a test accuracy, or a run recorded before verdicts existed
        return "no verdict recorded"
    shape = (f"dip {v.dip_points:.1f} pts at {sparsity_text(v.dip_sparsity)}, peak {v.peak_test_acc:.3f} at "
             f"{sparsity_text(v.peak_sparsity)}")
    if v.dodged is None:  # the teacher phase
        return f"sparse double descent: {shape}" if v.sdd else f"no sparse double descent ({v.sdd_reason})"
    if v.sdd:
        return f"sparse double descent {'too' if v.teacher_sdd else '(the teacher shows none)'}: {shape}"
    if v.teacher_sdd:
        return "no double descent; dodged the teacher's dip"
    return "no double descent (nor had the teacher one to dodge)"
