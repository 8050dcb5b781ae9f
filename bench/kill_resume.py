"""Kill a ladder with SIGKILL in the middle of a rung, resume it, and compare its metrics with an
uninterrupted run of the same command (bench/gpu_check.sh; docs/reliability.md for the guarantees).

    python bench/kill_resume.py --reference RUN_DIR --out DIR -- run --no-tui --set ...

The run is killed once the events show the first epoch of a rung of at least two epochs (so the kill
lands inside that rung), then `dsd-tui resume` finishes it. On the CPU the resumed metrics must be
identical (exit 1 otherwise); on CUDA, whose kernels need not be deterministic, the largest metric
difference is printed and only a resume that does not complete fails.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

METRICS = ("train_acc", "train_loss", "val_acc", "test_acc", "test_loss", "entropy_mean", "sparsity")


def _events(run: Path) -> list[dict]:
    try:
        lines = (run / "events.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(ln) for ln in lines[:-1]]  # the last line may be torn


def _mid_rung(events: list[dict]) -> dict | None:
    return next((e for e in events if e["type"] == "epoch_finished" and e["epoch"] == 1 and e["epochs"] >= 2), None)


def _rungs(run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    return summary["status"], {(p["name"], r["rung"]): r for p in summary["phases"] for r in p["rungs"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", required=True, help="the uninterrupted run directory")
    ap.add_argument("--out", required=True, help="parent folder for the killed run")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="-- then the dsd-tui arguments of the reference run")
    a = ap.parse_args()
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    cmd = [sys.executable, "-m", "dsd_tui"]
    Path(a.out).mkdir(parents=True, exist_ok=True)
    log = Path(a.out) / "killed-run.log"
    with open(log, "w") as f, open(log.with_suffix(".err"), "w") as err:  # files: nobody has to drain pipes
        proc = subprocess.Popen([*cmd, *args, "--out", a.out], stdout=f, stderr=err)
    end = time.time() + 600
    while not log.read_text().strip() and proc.poll() is None and time.time() < end:
        time.sleep(0.01)
    run = Path(log.read_text().splitlines()[0].strip()) if log.read_text().strip() else Path(a.out) / "?"
    point = None
    while point is None and proc.poll() is None and time.time() < end:
        point = _mid_rung(_events(run))
        time.sleep(0.01)
    if point is None:
        print(f"kill/resume: the run ended before a rung of 2+ epochs was half done (exit {proc.poll()})")
        return 1
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    print(f"kill/resume: SIGKILL after {point['phase']} rung {point['rung']} epoch 1 of {point['epochs']}")
    t0 = time.time()
    resumed = subprocess.run([*cmd, "resume", str(run), "--no-tui"], capture_output=True, text=True)
    if resumed.returncode != 0:
        print(f"kill/resume: resume failed (exit {resumed.returncode}): {resumed.stderr.strip()[-500:]}")
        return 1
    status, got = _rungs(run)
    ref_status, want = _rungs(Path(a.reference))
    if status != "completed" or got.keys() != want.keys():
        print(f"kill/resume: resumed run {status} with rungs {sorted(got)}; reference {ref_status} {sorted(want)}")
        return 1
    worst = max((abs(got[k][m] - want[k][m]), k, m) for k in want for m in METRICS
                if want[k].get(m) is not None and got[k].get(m) is not None)
    identical = all(got[k][m] == want[k][m] for k in want for m in METRICS)
    device = json.loads((run / "summary.json").read_text())["environment"]["device"]
    print(f"kill/resume: resumed in {time.time() - t0:.1f} s; {len(want)} rungs; metrics "
          f"{'identical to' if identical else 'differ from'} the uninterrupted run (largest difference "
          f"{worst[0]:.2g} in {worst[2]} of {worst[1][0]} rung {worst[1][1]}; device {device})")
    return 0 if identical or not device.startswith("cpu") else 1


if __name__ == "__main__":
    sys.exit(main())
