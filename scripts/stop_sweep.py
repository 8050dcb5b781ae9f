"""Replay stop criteria, with varied settings, over finished runs' rung records (no training).

    PYTHONPATH=. python scripts/stop_sweep.py docs/data/quickstart-seed*.json

Prints, per phase and per variant (criterion × smoothing window × ...), the mean over the given runs
of the rung it fires at, the rung it keeps, that rung's sparsity and test accuracy, its gap to the
phase's best test accuracy, and the trainings it costs. This is how the defaults in
docs/results.md were chosen; criteria are pure functions of the records, so a replay is exact.
"""
from __future__ import annotations

import dataclasses
import json
import statistics
import sys
from pathlib import Path

from dsd_tui.profile import StopSection
from dsd_tui.record.rung import RungRecord
from dsd_tui.stops import criteria as stopping

VARIANTS = {
    "teacher": [
        ("early-stop", {"smooth": 1}), ("early-stop", {"smooth": 3}), ("early-stop", {"smooth": 5}),
        ("entropy-gated", {"smooth": 1}), ("entropy-gated", {"smooth": 3}), ("entropy-gated", {"smooth": 5}),
        ("entropy-gated", {"gate_drop": 0.05}), ("entropy-gated", {"gate_drop": 0.2}),
        ("entropy-gated", {"patience": 2}), ("entropy-gated", {"patience": 5}),
        ("entropy-gated", {"gated": "tolerance-drop"}),
        ("tolerance-drop", {"smooth": 1}), ("tolerance-drop", {"smooth": 3}), ("tolerance-drop", {"smooth": 5}),
    ],
    "student": [
        ("early-stop", {"smooth": 1}), ("early-stop", {"smooth": 3}),
        ("tolerance-drop", {"smooth": 1}), ("tolerance-drop", {"smooth": 3}), ("tolerance-drop", {"smooth": 5}),
        ("tolerance-drop", {"delta": 0.02}), ("tolerance-drop", {"delta": 0.04}),
        ("tolerance-drop", {"reference": "dense"}),
        ("entropy-gated", {"smooth": 3}), ("entropy-gated", {"smooth": 5}),
    ],
}


def rung_records(run: dict, phase: str) -> list[RungRecord]:
    """The phase's rung records of a summary.json, parsed into the typed records the criteria read."""
    return [RungRecord.from_json(r) for r in next(p for p in run["phases"] if p["name"] == phase)["rungs"]]


def outcome(records: list[RungRecord], name: str, cfg) -> dict | None:
    f = stopping.first_firing(records, name, cfg)
    if f is None:
        return None
    sel = next(r for r in records if r.rung == f.selected_rung)
    best = max(r.test_acc for r in records)
    return {"fired": f.rung, "keeps": f.selected_rung, "sparsity": sel.sparsity, "test": sel.test_acc,
            "gap": 100 * (best - sel.test_acc), "trainings": f.rung + 1}


def main(paths: list[str]) -> None:
    runs = [json.loads(Path(p).read_text()) for p in paths]
    base = StopSection()
    print(f"{len(runs)} runs; defaults: smooth={base.smooth} patience={base.patience} delta={base.delta} "
          f"reference={base.reference} gate_drop={base.gate_drop}")
    print(f"{'phase':<8} {'criterion':<15} {'settings':<32} {'fired':>6} {'keeps':>6} {'sparsity':>9} "
          f"{'test':>6} {'gap pts':>8} {'trainings':>9}  per run (fired/keeps/gap)")
    for phase, variants in VARIANTS.items():
        for name, changes in variants:
            cfg = dataclasses.replace(base, **changes)
            outs = [outcome(rung_records(run, phase), name, cfg) for run in runs]
            fired = [o for o in outs if o is not None]
            per_run = " ".join("-" if o is None else f"{o['fired']}/{o['keeps']}/{o['gap']:.1f}" for o in outs)
            label = ", ".join(f"{k}={v}" for k, v in changes.items()) or "defaults"
            if not fired:
                print(f"{phase:<8} {name:<15} {label:<32} {'never fired':>40}")
                continue
            m = {k: statistics.mean(o[k] for o in fired) for k in fired[0]}
            print(f"{phase:<8} {name:<15} {label:<32} {m['fired']:6.1f} {m['keeps']:6.1f} {100 * m['sparsity']:8.2f}% "
                  f"{m['test']:6.3f} {m['gap']:8.1f} {m['trainings']:9.1f}  {per_run}"
                  + ("" if len(fired) == len(outs) else f"  ({len(outs) - len(fired)} never fired)"))


def armed(runs: list[dict]) -> None:
    print("\nentropy gate: rung at which it arms (per run), by gate_drop")
    for phase in VARIANTS:
        for drop in (0.02, 0.05, 0.1, 0.2, 0.3):
            at = []
            for run in runs:
                recs = rung_records(run, phase)
                i = stopping.entropy_armed_at(recs, drop)
                at.append("-" if i is None else str(recs[i].rung))
            print(f"{phase:<8} gate_drop={drop:<5} armed at rung {' '.join(at)}")


if __name__ == "__main__":
    main(sys.argv[1:])
    armed([json.loads(Path(p).read_text()) for p in sys.argv[1:]])
