"""The DSD² paper's compute comparison, reproduced: what each way of reaching a sparse model costs to train.

Usage:
    python scripts/compute_table.py OUT [--profile quickstart] [--seeds 0 1 2] [--set KEY=VALUE ...]

For each seed it runs (or reuses, when OUT already holds them) two ladders of the profile:
- `stop-seedS`: the DSD² run with `stop.action = "stop"`: the teacher ladder stops where its active
  criterion fires, the student (distilled from the teacher's best-validation rung so far) where its own does;
- `vanilla-seedS`: the vanilla ladder alone (`distill.enabled = false`, `stop.action = "alert"`), run to its
  last rung: what sparse double descent forces when no stop can be trusted. Its rungs up to the stop are the
  stop run's teacher rungs (same seed, same profile), so its full cost is measured, not estimated.
Then it prints one table, mean ± std over the seeds, in training MACs (core/macs.py: 3 × forward MACs of the
kept prunable weights × samples seen, plus the teacher's forwards for a student) and FLOPs = 2 × MACs:
  (a) the vanilla ladder run to the end; keeps its best-validation rung;
  (b) the vanilla ladder with its stop (the teacher phase's active criterion); keeps the rung it selects;
  (c) the DSD² student ladder up to its stop, alone (its teacher's logits, computed once, included);
  (d) (c) plus the teacher ladder up to the rung the student's teacher was chosen from;
  (e) (c) plus the whole vanilla ladder, (a).
Each row's kept rung: mean test accuracy and sparsity. Evaluation, entropy and gradient-scoring passes are
not counted (docs/design.md "Compute"). A last column prices the same trainings on hardware that does not
skip the zeros (dense kernels: 3 × dense_macs × samples seen per rung; the student's teacher logits, cached
once, at the dense forward MACs): what a GPU running masked dense layers actually computes.
Meant for small profiles (minutes on a CPU): it runs the ladders
one after the other in this process's interpreter.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path


def run_once(out: Path, name: str, profile: str, seed: int, extra: list[str]) -> dict:
    """The summary of run `name` under `out`, running it first when it is missing or unfinished."""
    for found in sorted(out.glob(f"{name}-*/summary.json")):
        summary = json.loads(found.read_text())
        if summary.get("status") in ("completed", "stopped"):
            return summary
    cmd = [sys.executable, "-m", "dsd_tui", "run", profile, "--no-tui", "--set", f"run.name={name}",
           "--set", f"run.out={out}", "--set", f"run.seed={seed}", "--set", "run.keep_checkpoints=best-last"]
    for item in extra:
        cmd += ["--set", item]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return run_once(out, name, profile, seed, [])


def phase(summary: dict, name: str) -> dict:
    return next(p for p in summary["phases"] if p["name"] == name)


def active_stop(summary: dict, name: str) -> dict | None:
    return next((s for s in summary.get("stops", []) if s["phase"] == name and s.get("active")), None)


def rung(ph: dict, k: int) -> dict:
    return next(r for r in ph["rungs"] if r["rung"] == k)


def dense_cost(ph: dict, upto: int, samples: int, teacher_pass: bool = False) -> int:
    """Training MACs of the phase's rungs 0..upto on dense kernels (the zeros computed too)."""
    rungs = [r for r in ph["rungs"] if r["rung"] <= upto]
    cost = sum(3 * r["dense_macs"] * r["epochs"] * samples for r in rungs)
    return cost + (rungs[0]["dense_macs"] * samples if teacher_pass else 0)  # the cached teacher logits


def rows_of(stop_run: dict, vanilla: dict) -> dict[str, tuple[float, float, float, float]]:
    """Row -> (training MACs, kept rung's test accuracy, its sparsity, dense-kernel MACs) for one seed."""
    samples = int(stop_run["data"]["train"])
    van = phase(vanilla, "teacher")
    full = van["rungs"][-1]["cumulative_train_macs"]
    full_dense = dense_cost(van, van["rungs"][-1]["rung"], samples)
    best = rung(van, van["best_rung"])
    teacher, student = phase(stop_run, "teacher"), phase(stop_run, "student")
    t_stop, s_stop = active_stop(stop_run, "teacher"), active_stop(stop_run, "student")
    if t_stop is not None:
        b = (t_stop["train_macs_spent"], t_stop["selected_test_acc"], t_stop["selected_sparsity"],
             dense_cost(teacher, t_stop["rung"], samples))
    else:  # the criterion never fired: the ladder ran to its end and keeps its best-validation rung
        b = (teacher["rungs"][-1]["cumulative_train_macs"], *_acc(rung(teacher, teacher["best_rung"])),
             dense_cost(teacher, teacher["rungs"][-1]["rung"], samples))
    if s_stop is not None:
        c = (s_stop["train_macs_spent"], s_stop["selected_test_acc"], s_stop["selected_sparsity"],
             dense_cost(student, s_stop["rung"], samples, teacher_pass=True))
    else:
        c = (student["rungs"][-1]["cumulative_train_macs"], *_acc(rung(student, student["best_rung"])),
             dense_cost(student, student["rungs"][-1]["rung"], samples, teacher_pass=True))
    chosen_rung = student["teacher"]["rung"]
    chosen = rung(teacher, chosen_rung)["cumulative_train_macs"]
    return {"a": (full, *_acc(best), full_dense), "b": b, "c": c,
            "d": (c[0] + chosen, c[1], c[2], c[3] + dense_cost(teacher, chosen_rung, samples)),
            "e": (c[0] + full, c[1], c[2], c[3] + full_dense)}


def _acc(r: dict) -> tuple[float, float]:
    return r["test_acc"], r["sparsity"]


LABELS = {
    "a": "(a) vanilla ladder, run to the end",
    "b": "(b) vanilla ladder, stopped by its criterion",
    "c": "(c) DSD² student ladder to its stop, alone",
    "d": "(d) (c) + teacher ladder up to its chosen rung",
    "e": "(e) (c) + the whole teacher ladder, (a)",
}


def ms(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def table(per_seed: list[dict]) -> str:
    lines = [f"{'row':<48} {'train MACs':>22} {'train FLOPs':>12} {'vs (a)':>7} {'test acc':>15} "
             f"{'sparsity':>17} {'dense-kernel MACs':>18} {'vs (a)':>7}",
             f"{'':<48} {'(mean ± std)':>22} {'(2×MACs)':>12} {'':>7} {'(kept rung)':>15} {'(kept rung)':>17} "
             f"{'(zeros computed)':>18} {'':>7}"]
    full = ms([s["a"][0] for s in per_seed])[0]
    full_dense = ms([s["a"][3] for s in per_seed])[0]
    for key, label in LABELS.items():
        m, sd = ms([s[key][0] for s in per_seed])
        acc, acc_sd = ms([s[key][1] for s in per_seed])
        sp, sp_sd = ms([s[key][2] for s in per_seed])
        dense = ms([s[key][3] for s in per_seed])[0]
        lines.append(f"{label:<48} {m:>10.3e} ± {sd:<9.2e} {2 * m:>12.3e} {m / full:>6.1%} "
                     f"{acc:>7.3f} ± {acc_sd:<5.3f} {sp:>8.2%} ± {sp_sd:<6.2%} "
                     f"{dense:>18.3e} {dense / full_dense:>6.1%}")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="folder for the runs (reused when it already holds them)")
    ap.add_argument("--profile", default="quickstart")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="profile override for both ladders (e.g. prune.rungs=6)")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    per_seed = []
    for seed in a.seeds:
        stop_run = run_once(a.out, f"stop-seed{seed}", a.profile, seed, [*a.sets, "stop.action=stop"])
        vanilla = run_once(a.out, f"vanilla-seed{seed}", a.profile, seed,
                           [*a.sets, "stop.action=alert", "distill.enabled=false"])
        per_seed.append(rows_of(stop_run, vanilla))
    print(f"profile {a.profile}, seeds {' '.join(map(str, a.seeds))}"
          + (f", overrides {' '.join(a.sets)}" if a.sets else "")
          + "; training MACs of the prunable layers' kept weights (docs/design.md \"Compute\"), FLOPs = 2 × MACs")
    print(table(per_seed))


if __name__ == "__main__":
    main()
