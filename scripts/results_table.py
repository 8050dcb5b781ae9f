"""Regenerate the tables of docs/results.md from saved run summaries (no training).

    PYTHONPATH=. python scripts/results_table.py docs/data/quickstart-seed*.json

Prints Markdown: per seed the teacher's dense / dip / peak test accuracy with sparsities, the
student's curve and both phases' wall time; the per-rung table (mean over seeds) of each phase;
the stop-criterion comparison (the rows of the DSD² paper's cost figure); and the seed-to-seed
spread of test accuracy beside the SDD noise margin. Everything is read from summary.json files
(rung records, phase verdicts, stop entries), so these tables are exactly what the runs recorded.
"""
from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from pathlib import Path

from dsd_tui.stops.criteria_table import comparison_rows

STUDENT_CURVE_RUNGS = (0, 5, 10, 13, 14, 15, 18, 20, 22, 25, 28)


def pct(s: float) -> str:
    return f"{100 * s:.2f}%"


def mean_sd(values: list[float], scale: float = 1.0, digits: int = 3) -> str:
    m = statistics.mean(values) * scale
    if len(values) < 2:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {statistics.stdev(values) * scale:.{digits}f}"


def phase(run: dict, name: str) -> dict:
    return next(p for p in run["phases"] if p["name"] == name)


def per_seed(runs: list[dict]) -> list[str]:
    out = ["| seed | teacher dense | dip (sparsity) | peak (sparsity) | SDD | student dense | student peak (sparsity) "
           "| dodged | teacher s | student s | run s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        t, s = phase(run, "teacher"), phase(run, "student")
        tv, sv = t.get("verdict", {}), s.get("verdict", {})
        secs = [sum(r.get("seconds", 0.0) for r in p["rungs"]) for p in (t, s)]
        out.append(f"| {run['profile']['run']['seed']} | {tv['dense_test_acc']:.3f} | {tv['dip_test_acc']:.3f} "
                   f"({pct(tv['dip_sparsity'])}) | {tv['peak_test_acc']:.3f} ({pct(tv['peak_sparsity'])}) | "
                   f"{'yes' if tv['sdd'] else 'no'} | {sv['dense_test_acc']:.3f} | {sv['peak_test_acc']:.3f} "
                   f"({pct(sv['peak_sparsity'])}) | {'yes' if sv.get('dodged') else 'no'} | {secs[0]:.0f} | "
                   f"{secs[1]:.0f} | {run.get('seconds', 0):.0f} |")
    out += ["", "Student test accuracy by rung (sparsity):", "",
            "| seed | " + " | ".join(f"{k} ({pct(1 - 0.8 ** k)})" for k in STUDENT_CURVE_RUNGS) + " |",
            "|---|" + "---|" * len(STUDENT_CURVE_RUNGS)]
    for run in runs:
        recs = {r["rung"]: r for r in phase(run, "student")["rungs"]}
        cells = [f"{recs[k]['test_acc']:.3f}" if k in recs else "-" for k in STUDENT_CURVE_RUNGS]
        out.append(f"| {run['profile']['run']['seed']} | " + " | ".join(cells) + " |")
    return out


def per_rung(runs: list[dict], name: str) -> list[str]:
    out = [f"| rung | sparsity | train acc (noisy) | train acc (clean) | val acc | test acc | mean entropy (bits) "
           f"| regime (seeds {', '.join(str(r['profile']['run']['seed']) for r in runs)}) |",
           "|---|---|---|---|---|---|---|---|"]
    tables = [{r["rung"]: r for r in phase(run, name)["rungs"]} for run in runs]
    for k in sorted(set.intersection(*(set(t) for t in tables))):
        rs = [t[k] for t in tables]
        col = lambda key: mean_sd([r[key] for r in rs])  # noqa: E731
        regimes = " ".join(r.get("regime", "?")[:4] for r in rs)
        out.append(f"| {k} | {pct(rs[0]['sparsity'])} | {col('train_acc')} | {col('train_acc_clean')} | "
                   f"{col('val_acc')} | {col('test_acc')} | {col('entropy_mean')} | {regimes} |")
    return out


def comparison(runs: list[dict]) -> list[str]:
    rows: dict[tuple, list[dict]] = {}
    for run in runs:
        best = {p["name"]: max(r["test_acc"] for r in p["rungs"]) for p in run["phases"]}
        for row in comparison_rows(run):
            row["gap"] = None if row["test_acc"] is None else 100 * (best[row["phase"]] - row["test_acc"])
            rows.setdefault((row["phase"], row["row"]), []).append(row)
    out = ["| phase | criterion | fired at rung | keeps rung | sparsity | test acc | below best (pts) | trainings "
           "| per seed: fired/kept/test |", "|---|---|---|---|---|---|---|---|---|"]
    for (ph, crit), rs in rows.items():
        fired = [r for r in rs if r["selected_rung"] is not None]
        seeds = " · ".join("did not fire" if r["selected_rung"] is None else
                           f"{'-' if r['fired_rung'] is None else r['fired_rung']}/{r['selected_rung']}/"
                           f"{r['test_acc']:.3f}" for r in rs)
        if not fired:
            out.append(f"| {ph} | {crit} | - | - | - | - | - | {rs[0]['trainings_full']} | {seeds} |")
            continue
        fr = [r["fired_rung"] for r in fired if r["fired_rung"] is not None]
        out.append(f"| {ph} | {crit} | {statistics.mean(fr):.1f} | " if fr else f"| {ph} | {crit} | - | ")
        out[-1] += (f"{statistics.mean(r['selected_rung'] for r in fired):.1f} | "
                    f"{pct(statistics.mean(r['sparsity'] for r in fired))} | "
                    f"{mean_sd([r['test_acc'] for r in fired])} | "
                    f"{statistics.mean(r['gap'] for r in fired):.1f} | "
                    f"{statistics.mean(r['trainings'] for r in fired):.1f} of {fired[0]['trainings_full']} | {seeds} |")
    return out


def noise(runs: list[dict]) -> list[str]:
    out = []
    for name in ("teacher", "student"):
        tables = [{r["rung"]: r["test_acc"] for r in phase(run, name)["rungs"]} for run in runs]
        common = sorted(set.intersection(*(set(t) for t in tables)))
        sds = [statistics.stdev([t[k] for t in tables]) for k in common if k <= 25] if len(runs) > 1 else []
        margins = [phase(run, name)["verdict"]["noise_margin_points"] for run in runs]
        spread = f"{100 * statistics.mean(sds):.1f}" if sds else "n/a"
        out.append(f"- {name}: seed-to-seed s.d. of test accuracy at a fixed rung (rungs 0-25, mean) {spread} points; "
                   f"SDD noise margin {statistics.mean(margins):.1f} points")
    return out


def main(paths: list[str]) -> None:
    runs = [json.loads(Path(p).read_text()) for p in paths]
    regimes = Counter(r.get("regime") for run in runs for p in run["phases"] for r in p["rungs"])
    sections = [("Per seed", per_seed(runs)), ("Teacher per rung (mean ± s.d. over seeds)", per_rung(runs, "teacher")),
                ("Student per rung (mean ± s.d. over seeds)", per_rung(runs, "student")),
                ("Stop criteria (mean over seeds)", comparison(runs)), ("Noise", noise(runs))]
    for title, lines in sections:
        print(f"### {title}\n")
        print("\n".join(lines))
        print()
    print(f"<!-- {len(runs)} runs; regimes seen: {dict(regimes)} -->")


if __name__ == "__main__":
    main(sys.argv[1:])
