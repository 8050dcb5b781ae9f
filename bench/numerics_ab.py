"""Does an opt-in speed mode give the same science? Full ladders over seeds, with and without the mode.

    python bench/numerics_ab.py --mode train.sparse_kernels=true --seeds 6 --out /tmp/ab
    python bench/numerics_ab.py --mode train.precision=bf16 --seeds 6 --out /tmp/ab     # reuses the base runs
    python bench/numerics_ab.py --mode train.sparse_kernels=true --seeds 3 --set prune.rungs=12 PROFILE
    python bench/numerics_ab.py --mode train.sparse_kernels=false --seeds 6 --out /tmp/ab16 \
        --set prune.rungs=26 --set train.dense_epochs=60 --set train.epochs=15   # issue 16: base = the default

Issue 6 kept the reference numerics (fp32, dense kernels) as the default until an A/B over seeds
showed that a fast mode gives the same curves within noise; since issue 16 the default ("base") is
`train.sparse_kernels = "auto"`, and `--mode train.sparse_kernels=false` is the exact dense path.
This runs `dsd-tui run --no-tui` for every seed twice, as the profile says ("base") and with `--mode`
added ("mode"), `--jobs` at a time, under `--out` (a finished run found there with the same profile is
reused, so a second mode can share the base runs), then prints what to compare: per phase, the mean
absolute difference in test accuracy per rung between the two paths at the same seed against the same
figure between two seeds of one path, and per seed each path's findings (SDD verdicts, dip and peak,
best-validation rung, the entropy-gated stop).
Figures in docs/benchmarks.md ("Same science? The fast paths against the exact one").
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dsd_tui import profile as profile_mod

LOCATION = {"name", "out"}  # run keys that do not change the science


def science(prof: dict) -> dict:
    return {**prof, "run": {k: v for k, v in prof["run"].items() if k not in LOCATION}}


def find_run(out: Path, label: str, want: dict) -> Path | None:
    """A completed run named `label` under `out` whose profile equals `want` (location keys aside)."""
    for run in sorted(out.glob(f"{label}-*")):
        try:
            summary = json.loads((run / "summary.json").read_text())
            prof = profile_mod.load(str(run / "profile.toml")).to_dict()
        except (OSError, ValueError, profile_mod.ProfileError):
            continue
        if summary.get("status") in ("completed", "stopped") and science(prof) == science(want):
            return run
    return None


def run_ladder(out: Path, label: str, spec: str | None, overrides: list[str]) -> Path:
    want = profile_mod.load(spec, overrides).to_dict()
    found = find_run(out, label, want)
    if found is not None:
        print(f"{label}: reusing {found}", flush=True)
        return found
    sets = [a for o in [*overrides, f"run.name={label}"] for a in ("--set", o)]
    cmd = [sys.executable, "-m", "dsd_tui", "run", "--no-tui", "--out", str(out), *sets, *([spec] if spec else [])]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{label}: `{' '.join(cmd)}` failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    run = find_run(out, label, want)
    print(f"{label}: {run}", flush=True)
    return run


def mean_abs_diff(a: dict, b: dict, phase: int) -> float:
    pairs = zip(a["phases"][phase]["rungs"], b["phases"][phase]["rungs"])
    return 100 * statistics.mean(abs(x["test_acc"] - y["test_acc"]) for x, y in pairs
                                 if x["test_acc"] is not None and y["test_acc"] is not None)


def stop_rung(summary: dict, phase: str, criterion: str):
    return next((s["rung"] for s in summary["stops"] if s.get("phase") == phase and s.get("criterion") == criterion),
                "-")


def report(base: dict[int, dict], mode: dict[int, dict], mode_label: str) -> None:
    seeds = sorted(base)
    names = [p["name"] for p in base[seeds[0]]["phases"]]
    print(f"\nmean |Δ test accuracy| per rung, points ({mode_label} vs base)")
    for i, phase in enumerate(names):
        same = [mean_abs_diff(base[s], mode[s], i) for s in seeds]
        shown = " ".join(f"{x:.1f}" for x in same)
        line = f"{phase:8s} same seed, mode vs base: {shown} (mean {statistics.mean(same):.2f})"
        if len(seeds) > 1:
            cross = [mean_abs_diff(base[a], base[b], i) for a, b in itertools.combinations(seeds, 2)]
            cross_m = [mean_abs_diff(mode[a], mode[b], i) for a, b in itertools.combinations(seeds, 2)]
            line += (f"; two seeds, base: mean {statistics.mean(cross):.2f} ({min(cross):.1f}-{max(cross):.1f}); "
                     f"two seeds, mode: mean {statistics.mean(cross_m):.2f}")
        print(line)
    print("\n| seed | path | teacher: SDD, dip rung (acc), peak rung (acc), best-val rung | "
          "student: SDD, best-val rung (its test acc) | entropy-gated stop (teacher / student) | seconds |")
    print("| --- | --- | --- | --- | --- | --- |")
    for s in seeds:
        for label, summary in (("base", base[s]), ("mode", mode[s])):
            cells = []
            for phase in summary["phases"]:
                v, best = phase["verdict"], phase["best_rung"]
                sdd = "yes" if v.get("sdd") else "no"
                if phase["name"] == "teacher":
                    cells.append(f"{sdd}, {v.get('dip_rung')} ({100 * (v.get('dip_test_acc') or 0):.1f}), "
                                 f"{v.get('peak_rung')} ({100 * (v.get('peak_test_acc') or 0):.1f}), {best}")
                else:
                    cells.append(f"{sdd}, {best} ({100 * phase['rungs'][best]['test_acc']:.1f})")
            stops = " / ".join(str(stop_rung(summary, p, "entropy-gated")) for p in names)
            print(f"| {s} | {label} | {' | '.join(cells)} | {stops} | {summary['seconds']:.0f} |")
    for label, runs in (("base", base), (mode_label, mode)):
        parts = []
        for i, phase in enumerate(names):
            sdd = sum(bool(runs[s]["phases"][i]["verdict"].get("sdd")) for s in seeds)
            best = statistics.mean(100 * runs[s]["phases"][i]["rungs"][runs[s]["phases"][i]["best_rung"]]["test_acc"]
                                   for s in seeds)
            parts.append(f"{phase}: SDD in {sdd}/{len(seeds)}, best-val rung's test acc {best:.1f}%")
        print(f"{label}: " + "; ".join(parts))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", nargs="?", help="profile path or bundled name (default: the quickstart)")
    ap.add_argument("--mode", required=True, action="append", help="SECTION.KEY=VALUE of the mode (repeatable)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="override for both paths (repeatable)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0 … N-1")
    ap.add_argument("--jobs", type=int, default=2, help="ladders at a time")
    ap.add_argument("--out", default="ab-runs", help="folder for the runs (reused when run again)")
    ap.add_argument("--json", help="also write the summaries' paths and the per-seed figures here")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mode_tag = "+".join(m.replace("train.", "").replace("=", "-") for m in args.mode)
    jobs = {}
    with ThreadPoolExecutor(args.jobs) as pool:
        for seed in range(args.seeds):
            common = [*args.sets, f"run.seed={seed}"]
            jobs[("base", seed)] = pool.submit(run_ladder, out, f"base-s{seed}", args.profile, common)
            jobs[("mode", seed)] = pool.submit(run_ladder, out, f"{mode_tag}-s{seed}", args.profile,
                                               [*common, *args.mode])
        runs = {key: job.result() for key, job in jobs.items()}
    summaries = {key: json.loads((run / "summary.json").read_text()) for key, run in runs.items()}
    base = {s: summaries[("base", s)] for s in range(args.seeds)}
    mode = {s: summaries[("mode", s)] for s in range(args.seeds)}
    report(base, mode, " ".join(args.mode))
    if args.json:
        Path(args.json).write_text(json.dumps({f"{k}-s{s}": str(v) for (k, s), v in runs.items()}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
