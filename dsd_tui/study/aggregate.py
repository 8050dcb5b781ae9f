"""Seed statistics: per setting, mean and standard deviation over seeds of what the runs measured.

Aggregated per setting and phase: every numeric field of the rung records (entropy per layer as
`entropy:<layer>`), the best-validation rung's record, the numeric fields of the phase's SDD
`verdict` (booleans as the fraction true, strings as counts), and per stop criterion the fraction
of seeds where it fired, with the numbers of its firing and its cost in epochs (all epochs of the
phase trained up to and including the rung it fired at; the phase's own `cost_epochs` is the whole
ladder's; in training MACs, `train_macs_spent` against `train_macs_full` and their `train_macs_saving`,
the fraction saved). Per rung also the overlap of the seeds' kept sets (`seed_overlap`, mean ± std over pairs
of seeds, beside `seed_overlap_random`, the chance baseline: study/seed_overlap.py). std is the sample
standard deviation
(n − 1); with one seed it is 0. Only finished runs (completed or stopped) count.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from dsd_tui.record.rung import RungRecord
from dsd_tui.record.summary import PhaseSummary, StopEntry
from dsd_tui.study import sweep_index as idx
from dsd_tui.study.seed_overlap import rung_overlaps

FIRST = ["sparsity", "remaining_weights", "train_acc", "train_acc_clean", "train_loss", "val_acc", "val_acc_clean",
         "val_loss", "test_acc", "test_loss", "entropy_mean", "epochs", "seconds"]


def stats(values) -> dict:
    xs = [float(v) for v in values if _number(v) and math.isfinite(float(v))]
    n = len(xs)
    if not n:
        return {"mean": None, "std": None, "n": 0}
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "n": n}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def flat(d: dict, prefix: str = "") -> dict:
    """Nested dicts to dotted keys: {"a": {"b": 1}} → {"a.b": 1}."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def rung_metrics(record: RungRecord) -> dict:
    """Every number the record's JSON holds (a newer version's fields too), and its entropy per layer."""
    out = {k: v for k, v in record.to_json().items() if _number(v) and k != "rung"}
    out.update({f"entropy:{layer}": h for layer, h in (record.entropy or {}).items()})
    return out


def phase_of(summary: dict, name: str) -> PhaseSummary | None:
    """The phase `name` of a summary.json, parsed into the typed record (the disk edge of the study tools)."""
    return next((PhaseSummary.from_json(p) for p in summary.get("phases", []) if p["name"] == name), None)


def cost_epochs(phase: PhaseSummary, rung: int) -> int:
    """Epochs the phase trained up to and including `rung`: what stopping there would have cost."""
    return sum(r.epochs or 0 for r in phase.rungs if r.rung <= rung)


def best_record(phase: PhaseSummary) -> RungRecord | None:
    return next((r for r in phase.rungs if r.rung == phase.best_rung), None)


# ---------------------------------------------------------------- one group

def aggregate_rungs(phases: list[PhaseSummary], run_dirs: list[Path] | None = None) -> list[dict]:
    by_rung: dict[int, list[dict]] = {}
    for p in phases:
        for r in p.rungs:
            by_rung.setdefault(r.rung, []).append(rung_metrics(r))
    out = []
    for rung in sorted(by_rung):
        recs = by_rung[rung]
        names = sorted({k for m in recs for k in m}, key=_metric_order)
        metrics = {k: stats(m.get(k) for m in recs) for k in names}
        pairs, chance = rung_overlaps(run_dirs, phases[0].name, rung) if run_dirs and phases else ([], [])
        if pairs:
            metrics.update(seed_overlap=stats(pairs), seed_overlap_random=stats(chance))
        out.append({"rung": rung, "n": len(recs), "metrics": metrics})
    return out


def _metric_order(name: str):
    return (FIRST.index(name), "") if name in FIRST else (len(FIRST), name)


def aggregate_verdicts(phases: list[PhaseSummary]) -> dict:
    flats = [flat(p.verdict.to_json()) for p in phases if p.verdict is not None]
    out = {}
    for key in sorted({k for f in flats for k in f}):
        values = [f[key] for f in flats if key in f]
        if all(_number(v) for v in values):
            out[key] = stats(values)
        elif all(isinstance(v, bool) for v in values):
            out[key] = {**stats([float(v) for v in values]), "kind": "fraction true"}
        else:
            counts: dict = {}
            for v in values:
                counts[str(v)] = counts.get(str(v), 0) + 1
            out[key] = {"counts": counts, "n": len(values)}
    return out


def aggregate_stops(name: str, phases: list[PhaseSummary], summaries: list[dict]) -> dict:
    fired: dict[str, list[dict]] = {}
    for p, s in zip(phases, summaries):
        for stop in (StopEntry.from_json(x) for x in s.get("stops", [])):
            if stop.phase == name:
                entry = {k: v for k, v in stop.to_json().items() if _number(v)}
                # the engine records the cost with the firing (`epochs_trained`); older runs lack it
                entry["cost_epochs"] = stop.details.get("epochs_trained", cost_epochs(p, stop.rung))
                spent, full = stop.details.get("train_macs_spent"), stop.details.get("train_macs_full")
                if _number(spent) and _number(full) and full:
                    entry["train_macs_saving"] = 1.0 - spent / full
                fired.setdefault(stop.criterion, []).append(entry)
    out = {}
    for crit in sorted(fired):
        entries = fired[crit]
        fields = sorted({k for e in entries for k in e})
        out[crit] = {"fired": len(entries) / len(phases), "fired_n": len(entries), "n": len(phases),
                     **{k: stats(e.get(k) for e in entries) for k in fields}}
    return out


def aggregate_phase(name: str, summaries: list[dict], run_dirs: list[Path] | None = None) -> dict | None:
    dirs = run_dirs or [None] * len(summaries)
    triples = [(phase_of(s, name), s, d) for s, d in zip(summaries, dirs)]
    triples = [(p, s, d) for p, s, d in triples if p is not None and p.rungs]
    if not triples:
        return None
    pairs = [(p, s) for p, s, _ in triples]
    phases = [p for p, _ in pairs]
    found = [Path(d) for _, _, d in triples if d is not None]
    bests = [best_record(p) for p in phases]
    best = {k: stats(getattr(b, k) for b in bests if b is not None)
            for k in ("test_acc", "val_acc", "sparsity", "entropy_mean")}
    best["rung"] = stats(p.best_rung for p in phases)
    full_cost = stats(cost_epochs(p, max(r.rung for r in p.rungs)) for p in phases)
    return {"n": len(phases), "cost_epochs": full_cost, "rungs": aggregate_rungs(phases, found), "best": best,
            "verdict": aggregate_verdicts(phases), "stops": aggregate_stops(name, phases, [s for _, s in pairs])}


def aggregate_group(group: idx.Group) -> dict:
    finished = [r for r in group.runs if r.status in idx.FINISHED]
    others = [r for r in group.runs if r.status not in idx.FINISHED]
    summaries = [r.summary for r in finished]
    names = []
    for s in summaries:
        names += [p["name"] for p in s.get("phases", []) if p["name"] not in names]
    dirs = [Path(r.path) for r in finished]
    phases = {n: agg for n in names if (agg := aggregate_phase(n, summaries, dirs)) is not None}
    return {"label": group.label, "settings": group.settings, "seeds": [r.seed for r in finished],
            "runs": [str(r.path) for r in finished],
            "excluded": [{"run": str(r.path), "status": r.status} for r in others],
            "phases": phases}


def aggregate(groups: list[idx.Group]) -> dict:
    return {"schema": "dsd_tui.aggregate/1", "groups": [aggregate_group(g) for g in groups]}


# ---------------------------------------------------------------- CSV

def rungs_csv(agg: dict) -> str:
    keys = _setting_keys(agg)
    rows = []
    metrics: list[str] = []
    for g in agg["groups"]:
        for phase, pa in g["phases"].items():
            for r in pa["rungs"]:
                metrics += [m for m in r["metrics"] if m not in metrics]
                rows.append((g, phase, r))
    metrics.sort(key=_metric_order)
    header = ["label"] + keys + ["phase", "rung", "n"] + [f"{m}_{s}" for m in metrics for s in ("mean", "std")]
    out = [[g["label"]] + [g["settings"].get(k, "") for k in keys] + [phase, r["rung"], r["n"]]
           + [_cell(r["metrics"].get(m, {}).get(s)) for m in metrics for s in ("mean", "std")]
           for g, phase, r in rows]
    return _csv(header, out)


def phases_csv(agg: dict) -> str:
    keys = _setting_keys(agg)
    rows = []
    for g in agg["groups"]:
        for phase, pa in g["phases"].items():
            cells = {"n": pa["n"]}
            cells.update(_stat_cells("", {"cost_epochs": pa["cost_epochs"]}))
            cells.update(_stat_cells("best_", pa["best"]))
            cells.update(_stat_cells("verdict:", pa["verdict"]))
            for crit, st in pa["stops"].items():
                cells[f"stop:{crit}:fired"] = st["fired"]
                cells.update(_stat_cells(f"stop:{crit}:", {k: v for k, v in st.items() if isinstance(v, dict)}))
            rows.append((g, phase, cells))
    columns: list[str] = []
    for _, _, cells in rows:
        columns += [c for c in cells if c not in columns]
    header = ["label"] + keys + ["phase"] + columns
    out = [[g["label"]] + [g["settings"].get(k, "") for k in keys] + [phase] + [_cell(c.get(k)) for k in columns]
           for g, phase, c in rows]
    return _csv(header, out)


def _stat_cells(prefix: str, stats_by_name: dict) -> dict:
    out = {}
    for name, st in stats_by_name.items():
        if "mean" in st:
            out[f"{prefix}{name}_mean"] = st["mean"]
            out[f"{prefix}{name}_std"] = st["std"]
    return out


def _setting_keys(agg: dict) -> list[str]:
    keys: list[str] = []
    for g in agg["groups"]:
        keys += [k for k in g["settings"] if k not in keys]
    return keys


def _cell(v):
    return "" if v is None else v


def _csv(header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write(agg: dict, out_dir: Path) -> list[Path]:
    """aggregate.json, aggregate-rungs.csv and aggregate-phases.csv in out_dir, each written atomically."""
    import json

    from dsd_tui.record.rundir import atomic_write_text
    files = {"aggregate.json": json.dumps(agg, indent=2) + "\n", "aggregate-rungs.csv": rungs_csv(agg),
             "aggregate-phases.csv": phases_csv(agg)}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        atomic_write_text(out_dir / name, text)
    return [out_dir / name for name in files]
