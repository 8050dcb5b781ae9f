"""What a rung's sparsity buys once exported: file sizes and CPU inference time, across a ladder's rungs.

    python bench/export_inference.py                      # a fresh quickstart teacher ladder, short epochs
    python bench/export_inference.py --run RUN_DIR        # an existing run's checkpoints
    taskset -c 1 python bench/export_inference.py         # pinned to one core (a shared, busy machine)

For each rung: the model file (`dsd-tui export --format model`) dense and `--sparse`, in bytes, and one
forward pass at batch 1 and 256 with the dense network against the same network with its Linear layers on
torch CSR kernels (export/inference_time.py: median of 7 measurements of ≥ 20 ms loops, one torch thread).
Without --run it first runs the quickstart's teacher ladder (34 rungs at rate 0.2) with one epoch per rung:
the timings depend on the masks' sparsity and shapes, not on how well the rungs trained. Prints a Markdown
table (docs/benchmarks.md "Exported models").
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from dsd_tui.export import model_file
from dsd_tui.export.inference_time import REPEATS, time_network
from dsd_tui.export.rung_choice import choose_rung
from dsd_tui.export.rung_network import arch_facts, build_network, load_weights
from dsd_tui.record.rundir import rebuild_summary, torch_bytes

LADDER = ["prune.rungs=34", "train.dense_epochs=2", "train.epochs=1", "distill.enabled=false", "entropy.enabled=false"]


def fresh_run(out: Path) -> Path:
    sets = [a for s in LADDER for a in ("--set", s)]
    done = subprocess.run([sys.executable, "-m", "dsd_tui", "run", "--no-tui", "--out", str(out), *sets],
                          capture_output=True, text=True, check=True)
    return Path(done.stdout.splitlines()[0])


def row(run_dir: Path, summary, phase: str, rung: int) -> str:
    choice = choose_rung(summary, phase, rung)
    dense = model_file.payload(run_dir, summary, choice)
    sizes = [len(torch_bytes(model_file.payload(run_dir, summary, choice, sparse=s))) for s in (False, True)]
    facts = arch_facts(dense)
    model = load_weights(build_network(facts), dense["state_dict"], str(run_dir))
    timings, _ = time_network(model, facts.input_shape)
    cells = [f"{rung}", f"{choice.record.sparsity:.1%}", f"{sizes[0] / 1e3:.0f}", f"{sizes[1] / 1e3:.0f}",
             f"{sizes[0] / sizes[1]:.1f}×"]
    for t in timings:
        cells += [f"{t.dense_s * 1e6:.0f}", f"{t.sparse_s * 1e6:.0f}", f"{t.speedup:.2f}×"]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="an existing run directory (default: run a short quickstart ladder)")
    ap.add_argument("--phase", default="teacher")
    ap.add_argument("--every", type=int, default=2, help="every Nth rung (default 2), the last one always")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run or fresh_run(Path(tmp))
        summary = rebuild_summary(run_dir)
        rungs = [r.rung for r in summary.records(args.phase)]
        chosen = [r for r in rungs if r % args.every == 0 or r == rungs[-1]]
        print(f"<!-- {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}, torch "
              f"{torch.__version__}, one thread, median of {REPEATS} -->")
        print("| rung | sparsity | dense file kB | sparse file kB | smaller | b=1 dense µs | b=1 CSR µs | b=1 speedup "
              "| b=256 dense µs | b=256 CSR µs | b=256 speedup |")
        print("|" + " --- |" * 11)
        for rung in chosen:
            print(row(Path(run_dir), summary, args.phase, rung), flush=True)


if __name__ == "__main__":
    main()
