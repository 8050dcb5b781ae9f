"""The end-of-run comparison: each stop criterion on each phase beside the ladder's best.

The same rows as the DSD² paper's cost figure: for every criterion, the rung it keeps, that rung's
sparsity and test accuracy, the trainings (rungs) it cost and its training MACs as a share of the full
ladder's (stops/outcome.py; "-" for runs from before MACs were recorded); then two reference rows, the full
ladder keeping its best-validation rung (what one gets without early stopping) and the best test
accuracy of the rungs trained (an oracle: the test set must never choose, it is only the yardstick).

Rows are read from a summary (its `stops` entries and rung records), so the headless view, the
docs script and `export` users all get the same table without recomputing anything. The summary is JSON
(summary.json, or `SummaryBuilder.summary()`): its phases and stops are parsed into the typed records here.
"""
from __future__ import annotations

from dsd_tui.record.rung import RungRecord
from dsd_tui.record.summary import PhaseSummary, StopEntry, best_rung


def _record(phase: PhaseSummary, rung) -> RungRecord:  # an empty record: no record for that rung
    return next((r for r in phase.rungs if r.rung == rung), RungRecord(rung=-1))


def phase_rows(summary: dict, phase_json: dict) -> list[dict]:
    phase = PhaseSummary.from_json(phase_json)
    name, rungs = phase.name, list(phase.rungs)
    full = int(summary.get("profile", {}).get("prune", {}).get("rungs", len(rungs) - 1)) + 1
    stops = [StopEntry.from_json(s) for s in summary.get("stops", [])]
    fired = {s.criterion: s for s in stops if s.phase == name}
    criteria = summary.get("profile", {}).get("stop", {}).get("criteria", list(fired))
    trained_macs = rungs[-1].cumulative_train_macs if rungs else None  # what the phase's ladder trained
    full_macs = next((s.details.get("train_macs_full") for s in fired.values()
                      if s.details.get("train_macs_full") is not None), None)
    if full_macs is None and len(rungs) == full:
        full_macs = trained_macs
    rows = []
    for crit in criteria:
        s = fired.get(crit)
        if s is None:
            rows.append({"phase": name, "row": crit, "fired_rung": None, "selected_rung": None,
                         "sparsity": None, "test_acc": None, "trainings": len(rungs), "trainings_full": full,
                         "active": None, "train_macs": trained_macs, "train_macs_full": full_macs})
            continue
        sel = _record(phase, s.selected_rung)
        rows.append({"phase": name, "row": crit, "fired_rung": s.rung, "selected_rung": s.selected_rung,
                     "sparsity": s.details.get("selected_sparsity", sel.sparsity),
                     "test_acc": s.details.get("selected_test_acc", sel.test_acc),
                     "trainings": s.details.get("rungs_trained", s.rung + 1), "trainings_full": full,
                     "active": s.active if "active" in s.keys_in_json() else None,
                     "train_macs": s.details.get("train_macs_spent"), "train_macs_full": full_macs})
    best_val = best_rung(rungs)
    if best_val is not None:
        r = _record(phase, best_val)
        rows.append({"phase": name, "row": "no stop (best val)", "fired_rung": None, "selected_rung": best_val,
                     "sparsity": r.sparsity, "test_acc": r.test_acc, "trainings": len(rungs),
                     "trainings_full": full, "active": None, "train_macs": trained_macs, "train_macs_full": full_macs})
    tested = [r for r in rungs if r.test_acc is not None]
    if tested:
        r = max(tested, key=lambda r: (r.test_acc, r.rung))
        rows.append({"phase": name, "row": "best test (oracle)", "fired_rung": None, "selected_rung": r.rung,
                     "sparsity": r.sparsity, "test_acc": r.test_acc, "trainings": len(rungs),
                     "trainings_full": full, "active": None, "train_macs": trained_macs, "train_macs_full": full_macs})
    return rows


def comparison_rows(summary: dict) -> list[dict]:
    return [row for phase in summary.get("phases", []) for row in phase_rows(summary, phase)]


def format_table(rows: list[dict], indent: str = "  ") -> str:
    """Fixed-width text, indented so that no line starts with a phase name (those are rung rows)."""
    head = (f"{'phase':<8} {'criterion':<19} {'fired':>5} {'keeps':>5} {'sparsity':>9} {'test':>6} {'trainings':>10} "
            f"{'train MACs':>10}")
    lines = [head]
    for r in rows:
        fired = "-" if r["fired_rung"] is None else str(r["fired_rung"])
        share = macs_share(r.get("train_macs"), r.get("train_macs_full"))
        if r["selected_rung"] is None:
            lines.append(f"{r['phase']:<8} {r['row']:<19} {'-':>5} {'':>5} {'did not fire':>16} "
                         f"{r['trainings']:>4}/{r['trainings_full']:<5} {share:>10}")
            continue
        lines.append(f"{r['phase']:<8} {r['row']:<19} {fired:>5} {r['selected_rung']:>5} "
                     f"{100 * r['sparsity']:8.2f}% {r['test_acc']:6.3f} {r['trainings']:>4}/{r['trainings_full']:<5} "
                     f"{share:>10}")
    return "\n".join(indent + line for line in lines)


def macs_share(spent, full) -> str:
    """Training MACs spent as a percentage of the full ladder's ("-" when either is unknown)."""
    if spent is None or not full:
        return "-"
    return f"{100 * spent / full:.1f}%"
