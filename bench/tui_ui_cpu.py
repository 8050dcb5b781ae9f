"""Where the live monitor's CPU goes: the UI thread's CPU during a real run, and one pane redraw's cost.

    PYTHONPATH=. python bench/tui_ui_cpu.py run [--variant normal|notick|nothing] [--set KEY=VALUE ...]
    PYTHONPATH=. python bench/tui_ui_cpu.py redraw [--size 80x24]

`run`: a real quickstart (shortened with --set) under `run_app(headless=True)`; prints the UI
thread's CPU (`time.thread_time()` in the app's thread) from the app's mount to its exit, against the
wall time of that span, and the number of pane redraws. `--variant notick` switches off the header
and progress tick, `nothing` the tick and every pane redraw too: what is left is Textual's own work
(and the garbage collections its allocations trigger). `redraw`: the watch-mode app in `run_test`
fed the recorded quickstart (screenshots/quickstart-events.jsonl.gz) one rung at a time; prints
the median CPU of a pane redraw (consume, draw, and the compositor's render of it).
"""
from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import statistics
import tempfile
import time
from pathlib import Path

RECORDED = Path(__file__).resolve().parent.parent / "screenshots" / "quickstart-events.jsonl.gz"


def ui_cpu_of_a_run(variant: str, overrides: list[str]) -> None:
    from dsd_tui import profile as profile_mod
    from dsd_tui.runner import RunSession
    from dsd_tui.tui.app import DsdApp
    from dsd_tui.tui.screens.monitor import MonitorScreen

    marks: dict = {}

    class Probe(MonitorScreen):
        def on_mount(self) -> None:
            super().on_mount()
            marks["mounted"] = (time.thread_time(), time.perf_counter())

        def _tick(self) -> None:
            if variant == "normal":
                super()._tick()

        def _draw(self) -> None:
            if variant != "nothing":
                super()._draw()

    class ProbeApp(DsdApp):
        def exit(self, *a, **k):
            marks.setdefault("done", (time.thread_time(), time.perf_counter(), self.start.redraws))
            return super().exit(*a, **k)

    prof = profile_mod.load(None, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        session = RunSession.new(prof, tmp)
        app = ProbeApp(Probe(session=session, exit_when_done=True))
        app.run(headless=True)
        (c0, w0), (c1, w1, redraws) = marks["mounted"], marks["done"]
        print(f"{variant}: UI thread {c1 - c0:.3f} s CPU over {w1 - w0:.1f} s of the run "
              f"({100 * (c1 - c0) / (w1 - w0):.2f}%), {redraws} pane redraws")


def redraw_cost(size: tuple[int, int]) -> None:
    from dsd_tui.record import events as ev
    from dsd_tui.tui.app import DsdApp
    from dsd_tui.tui.screens.monitor import MonitorScreen

    lines = gzip.open(RECORDED, "rt").read().splitlines(keepends=True)
    events = [ev.from_dict(json.loads(line)) for line in lines[1:]]
    rungs, current = [], []
    for e in events:
        current.append(e)
        if e.type == "rung_finished":
            rungs.append(current)
            current = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "events.jsonl").write_text(lines[0])
        monitor = MonitorScreen(events_path=Path(tmp) / "events.jsonl", clock=lambda: events[-1].time)
        app = DsdApp(monitor)

        async def main() -> list[float]:
            costs = []
            async with app.run_test(size=size) as pilot:
                await pilot.pause(0.2)
                for group in rungs:
                    t = time.thread_time()
                    monitor.consume(group)
                    monitor.redraw()
                    await pilot.pause()
                    await pilot.pause()
                    costs.append(time.thread_time() - t)
            return costs
        costs = asyncio.run(main())
    print(f"{size[0]}x{size[1]}: pane redraw {1e3 * statistics.median(costs):.1f} ms CPU "
          f"(median of {len(costs)} rungs; "
          f"last 10: {1e3 * statistics.median(costs[-10:]):.1f} ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["run", "redraw"])
    ap.add_argument("--variant", choices=["normal", "notick", "nothing"], default="normal")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--size", default="80x24")
    args = ap.parse_args()
    if args.what == "run":
        ui_cpu_of_a_run(args.variant, args.overrides)
    else:
        redraw_cost(tuple(int(v) for v in args.size.split("x")))


if __name__ == "__main__":
    main()
