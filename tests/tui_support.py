"""Helpers shared by the monitor's tests: the recorded run, a short real profile, screen text. The export
tests (CSV, TensorBoard, W&B) take the recorded run from here too."""
from __future__ import annotations

import asyncio
import io
import json
import shutil
from pathlib import Path

from rich.console import Console

from dsd_tui import profile as profile_mod
from dsd_tui.record.rundir import read_events, rebuild_summary

RECORDED = Path(__file__).parent / "data" / "tui-short-run.jsonl"
# A short ResNet-18 run on synthetic data (scripts/make_screenshots.py RESNET18): 21 prunable layers,
# 17 ReLU layers, the deepest layers collapsing from rung 3 on.
RESNET18 = Path(__file__).parent / "data" / "tui-resnet18-run.jsonl"
# A real quickstart shortened to seconds: 2 pruning rungs, 3 dense epochs, 2 epochs per rung.
SHORT = ["prune.rungs=2", "train.dense_epochs=3", "train.epochs=2"]
SIZE = (80, 24)


def short_profile(*extra: str):
    return profile_mod.load(None, SHORT + list(extra))


def recorded_copy(tmp_path: Path, lines: int | None = None) -> Path:
    """A run directory holding the recorded events (all, or the first `lines`); returns its events.jsonl."""
    run = tmp_path / "run"
    run.mkdir()
    events = run / "events.jsonl"
    if lines is None:
        shutil.copy(RECORDED, events)
    else:
        events.write_text("".join(RECORDED.read_text().splitlines(keepends=True)[:lines]))
    return events


def recorded_run(tmp_path: Path) -> Path:
    """The recorded run as a run directory that `export` reads (its events and an empty profile.toml)."""
    run = recorded_copy(tmp_path).parent
    (run / "profile.toml").write_text("")
    return run


def resnet18_copy(tmp_path: Path) -> Path:
    """A run directory holding the recorded ResNet-18 events; returns its events.jsonl."""
    run = tmp_path / "resnet18"
    run.mkdir()
    shutil.copy(RESNET18, run / "events.jsonl")
    return run / "events.jsonl"


def recorded_clock(lines: int | None = None, source: Path = RECORDED):
    """A clock frozen at the last recorded event, so elapsed and ETA are the same on every machine."""
    text = source.read_text().splitlines()[:lines]
    last = json.loads(text[-1])["time"]
    return lambda: last


def summary_of(events_path: Path) -> dict:
    return rebuild_summary(events_path.parent).summary()


def screen_text(app) -> str:
    """What the terminal shows, as plain text."""
    w, h = app.size
    console = Console(width=w, height=h, file=io.StringIO(), record=True, force_terminal=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens,
                                                      simplify=True))
    return console.export_text()


async def wait_for(pilot, predicate, seconds: float = 60.0, step: float = 0.05) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        if predicate():
            return True
        await pilot.pause(step)
    return predicate()


def watch_run(run_dir: Path, scenario, size=SIZE, settle: float = 0.2) -> None:
    """The monitor following RUN_DIR/events.jsonl (as `dsd-tui watch`) in a Pilot of `size` with
    notifications: `await scenario(pilot, app)` once it has had `settle` seconds to draw."""
    from dsd_tui.tui.app import DsdApp
    from dsd_tui.tui.screens.monitor import MonitorScreen
    app = DsdApp(MonitorScreen(events_path=Path(run_dir) / "events.jsonl"))

    async def main():
        async with app.run_test(size=size, notifications=True) as pilot:
            await pilot.pause(settle)
            await scenario(pilot, app)
    asyncio.run(main())


__all__ = ["RECORDED", "RESNET18", "resnet18_copy", "SHORT", "SIZE", "read_events", "recorded_copy", "recorded_clock",
           "screen_text", "short_profile", "summary_of", "wait_for", "watch_run"]
