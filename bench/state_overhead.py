"""What saving the resume state at every epoch end costs the quickstart.

Runs the quickstart's teacher ladder (digits, MLP 64-512-512-10, Adam, 100 dense epochs then 30 per
rung; `--rungs` pruning rungs, default 5: 250 epochs) in this process, alternating two settings:
  every-epoch : run.state_every = 0 (the default: state/latest.pt after every epoch)
  rung-ends   : run.state_every = 1e9 (state only at rung ends, as checkpoints are)
  sync-every  : every epoch written synchronously (snapshot, then wait for the write: what a
                plain torch.save per epoch costs; the design this replaced)
and reports the wall time of each, plus the time the training thread itself spent in
`StateSaver.save` (snapshot + hand-off; the file is written by a background thread) as a share of
the run.

    PYTHONPATH=. python bench/state_overhead.py [--rungs 5] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from dsd_tui import profile as profile_mod
from dsd_tui.core import ladder_resume
from dsd_tui.core.ladder import Ladder
from dsd_tui.core.ladder_resume import StateSaver
from dsd_tui.record import events as ev
from dsd_tui.record.rundir import RunDir, new_run_dir


class TimedSaver(StateSaver):
    sync = False

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.save_seconds = 0.0
        self.saves = 0

    def save(self, *args, **kw):
        t0 = time.perf_counter()
        if self.sync:
            kw["force"] = True
        super().save(*args, **kw)
        self.save_seconds += time.perf_counter() - t0
        self.saves += 1


class SyncSaver(TimedSaver):
    sync = True


def one_run(rungs: int, state_every: float, out: Path, sync: bool = False) -> dict:
    prof = profile_mod.load(None, [f"prune.rungs={rungs}", "distill.enabled=false",
                                   f"run.state_every={state_every}"])
    path = new_run_dir(out, "bench", time.time())
    (path / "profile.toml").write_text(prof.to_toml())
    rundir = RunDir(path)
    epochs = []
    ladder = Ladder(prof, rundir, ev.Fanout(rundir, lambda e: epochs.append(e.seconds)
                                            if e.type == "epoch_finished" else None))
    # The ladder builds its saver from ladder_resume.StateSaver at run(); the bench swaps in its timed one
    # for this run only (the production class has no hook for it).
    production, ladder_resume.StateSaver = ladder_resume.StateSaver, SyncSaver if sync else TimedSaver
    try:
        t0 = time.perf_counter()
        assert ladder.run() == "completed"
        wall = time.perf_counter() - t0
    finally:
        ladder_resume.StateSaver = production
    rundir.close()
    saver = ladder.saver
    return {"wall": wall, "save": saver.save_seconds, "saves": saver.saves, "epochs": len(epochs),
            "epoch_mean_ms": 1e3 * statistics.mean(epochs), "writer": saver.writer.seconds_writing,
            "writes": saver.writer.writes}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rungs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = {"every-epoch": [], "rung-ends": [], "sync-every": []}
    with tempfile.TemporaryDirectory() as tmp:
        one_run(1, 0, Path(tmp))  # warm-up (imports, allocator)
        for _ in range(args.repeats):
            for mode, every in (("every-epoch", 0), ("rung-ends", 1e9), ("sync-every", 0)):
                results[mode].append(one_run(args.rungs, every, Path(tmp), sync=mode == "sync-every"))
    print(f"torch {torch.__version__}, 1 thread, teacher ladder with {args.rungs} rungs, {args.repeats} repeats")
    for mode, rows in results.items():
        wall = [r["wall"] for r in rows]
        share = [r["save"] / r["wall"] for r in rows]
        print(f"{mode:<12} wall {statistics.median(wall):6.2f} s (min {min(wall):.2f}), epochs {rows[0]['epochs']}, "
              f"epoch mean {statistics.median(r['epoch_mean_ms'] for r in rows):.1f} ms, "
              f"state saves {rows[0]['saves']} (written {rows[0]['writes']}), "
              f"training-thread save time {1e3 * statistics.median(r['save'] for r in rows):.0f} ms = "
              f"{100 * statistics.median(share):.2f}% of the run, "
              f"background writing {statistics.median(r['writer'] for r in rows):.2f} s")
    b = statistics.median(r["wall"] for r in results["rung-ends"])
    for mode in ("every-epoch", "sync-every"):
        a = statistics.median(r["wall"] for r in results[mode])
        print(f"wall-time difference {mode} vs rung-ends: {100 * (a - b) / b:+.2f}% (median of {args.repeats})")


if __name__ == "__main__":
    main()
