"""What the live monitor costs a run: quickstart wall time under the TUI (driven headless) vs --no-tui.

    PYTHONPATH=. python bench/tui_overhead.py --pairs 6 --set prune.rungs=3

Each run is a fresh process (same profile, one torch thread). The pairs alternate their order
(tui first, then headless first, ...) so drift on a shared machine hits both sides alike; the
result is the median of each side and the median of the per-pair ratios. "run s" is timed inside
the process around the run itself (for the TUI: app start, the run in its worker, app exit);
"train s" is the engine's own time for its rungs (the sum of the rung records' `seconds`: epochs
plus measurement), i.e. how much the UI slows the training itself, without the app's start-up;
"cpu s" is the process's CPU time over the same span (all threads; less sensitive than wall time to
other jobs on a shared machine); for the tui side the main thread's CPU time (the UI alone: app
import, start-up, redraws; the session's set-up, which both sides do, left out) is printed too;
"process s" adds interpreter start and imports. `--cpu N` pins every run, all its threads, to CPU N:
on a VM whose cores run at different speeds (the 2-core VM of 2 Dec 2026: a pure-Python loop takes
1.38-1.45 s on CPU 0 and 1.06 s on CPU 1) an unpinned run's time depends on where the scheduler puts
its training thread, by more than the effect measured. Pinned, the UI thread shares the training's
core, so every CPU second the UI spends is taken from the training: the worst case for the TUI. The TUI side is
`run_app(session, headless=True, exit_when_done=True)`: the real app, worker, inbox and redraws,
with no terminal to write to; the headless side is the --no-tui path (the run in the main thread,
the headless printer writing to a file).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one(mode: str, overrides: list[str]) -> None:
    """Child: one run, prints {"mode", "run_seconds", "cpu_seconds", "status"} as JSON on the last line."""
    from dsd_tui import profile as profile_mod
    from dsd_tui.headless import HeadlessPrinter
    from dsd_tui.runner import RunSession
    prof = profile_mod.load(None, overrides)
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "printed.txt", "w") as printed:
        t0, cpu0 = time.perf_counter(), _cpu()
        if mode == "tui":
            session = RunSession.new(prof, tmp)
            ui0 = time.thread_time()
            from dsd_tui.tui.app import run_app
            status = run_app(session, headless=True, exit_when_done=True)  # the ladder runs in a worker thread
        else:
            session = RunSession.new(prof, tmp, sinks=[HeadlessPrinter(out=printed, live=False)])
            ui0 = time.thread_time()
            status = session.run()
        seconds, cpu = time.perf_counter() - t0, _cpu() - cpu0
        ui = time.thread_time() - ui0  # the main thread after the session's set-up: the UI (tui), the run (headless)
        summary = json.loads((session.path / "summary.json").read_text())
        by_phase = {p["name"]: sum(r["seconds"] for r in p["rungs"]) for p in summary["phases"]}
    print(json.dumps({"mode": mode, "run_seconds": seconds, "train_seconds": sum(by_phase.values()),
                      "phase_seconds": by_phase, "cpu_seconds": cpu, "main_thread_cpu_seconds": ui,
                      "status": status}))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(mode: str, overrides: list[str], cpu: int | None = None) -> dict:
    cmd = [sys.executable, __file__, "--one", mode] + [a for o in overrides for a in ("--set", o)]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - t0
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--cpu", type=int, help="pin every run to this CPU (taskset)")
    ap.add_argument("--one", choices=["tui", "headless"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(args.one, args.overrides)
        return
    runs: dict[str, list[dict]] = {"tui": [], "headless": []}
    ratios = []
    for i in range(args.pairs):
        order = ("tui", "headless") if i % 2 == 0 else ("headless", "tui")
        pair = {}
        for mode in order:
            pair[mode] = child(mode, args.overrides, args.cpu)
            assert pair[mode]["status"] == "completed", pair[mode]
            runs[mode].append(pair[mode])
            print(f"pair {i + 1} {mode:<8} run {pair[mode]['run_seconds']:7.2f} s   "
                  f"train {pair[mode]['train_seconds']:7.2f} s   cpu {pair[mode]['cpu_seconds']:7.2f} s   "
                  f"process {pair[mode]['process_seconds']:7.2f} s   "
                  f"({', '.join(f'{k} {v:.1f} s' for k, v in pair[mode]['phase_seconds'].items())})", flush=True)
        ratios.append(pair["tui"]["run_seconds"] / pair["headless"]["run_seconds"])
        ui = pair["tui"]["main_thread_cpu_seconds"]
        print(f"pair {i + 1} tui main thread (the UI): {ui:.2f} s CPU = "
              f"{100 * ui / pair['tui']['run_seconds']:.1f}% of its run", flush=True)
    print()
    for key in ("run_seconds", "train_seconds", "cpu_seconds", "process_seconds"):
        med = {m: statistics.median(r[key] for r in rs) for m, rs in runs.items()}
        print(f"median {key}: tui {med['tui']:.2f}, headless {med['headless']:.2f} "
              f"({(med['tui'] / med['headless'] - 1) * 100:+.1f}%)")
    print(f"median per-pair ratio (run s): {(statistics.median(ratios) - 1) * 100:+.1f}%  "
          f"[{', '.join(f'{(r - 1) * 100:+.1f}%' for r in ratios)}]")
    if len(ratios) > 1:  # the pairs' spread: what the machine's noise leaves of the comparison
        mean, se = statistics.mean(ratios), statistics.stdev(ratios) / len(ratios) ** 0.5
        print(f"mean per-pair ratio: {(mean - 1) * 100:+.1f}% ± {200 * se:.1f}% (2 standard errors)")


if __name__ == "__main__":
    main()
