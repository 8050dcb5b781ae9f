"""The monitor's `e` key offers the model export of the rung in view (the inspector's rung) beside the
summary, and writes it under RUN_DIR/exports/ with a name from the phase and rung, never replacing a file."""
from __future__ import annotations

import asyncio

import torch
from relhelp import headless_run
from textual.widgets._toast import Toast
from tui_support import SIZE, wait_for

import dsd_tui
from dsd_tui.tui.app import DsdApp
from dsd_tui.tui.screens.export_choices import ExportChoices
from dsd_tui.tui.screens.monitor import MonitorScreen

LADDER = ("prune.rungs=3", "train.dense_epochs=1", "train.epochs=1", "distill.enabled=false",
          "entropy.enabled=false", "model.hidden=[16]")


def files(run_dir) -> set:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()}


def watch(run_dir, scenario):
    app = DsdApp(MonitorScreen(events_path=run_dir / "events.jsonl"))

    async def main():
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.pause(0.2)
            await scenario(pilot, app)
    asyncio.run(main())


def toasts(app) -> list[str]:
    return [str(t.render()) for t in app.screen.query(Toast)]


def test_e_then_m_exports_the_inspected_rung_under_exports_and_never_overwrites(tmp_path):
    run_dir = headless_run(tmp_path, *LADDER)
    before = files(run_dir)

    async def scenario(pilot, app):
        assert await wait_for(pilot, lambda: app.query_one("#table").row_count == 4, 5)
        await pilot.press("up")  # the inspector: rung 2, one above the newest
        await pilot.press("e")
        assert isinstance(app.screen, ExportChoices)
        await pilot.press("m")
        assert await wait_for(pilot, lambda: (run_dir / "exports" / "teacher-rung02.pt").exists(), 5)
        await pilot.press("e", "m")  # again: a new name, the first file kept
        assert await wait_for(pilot, lambda: (run_dir / "exports" / "teacher-rung02-2.pt").exists(), 5)
        await pilot.press("e", "c")
        assert await wait_for(pilot, lambda: (run_dir / "exports" / "teacher-rung02-sparse.pt").exists(), 5)
        await pilot.press("e", "escape")
        assert not isinstance(app.screen, ExportChoices)
    watch(run_dir, scenario)
    first = torch.load(run_dir / "exports" / "teacher-rung02.pt", weights_only=True)
    assert (first["phase"], first["rung"], first["storage"]) == ("teacher", 2, "dense")
    assert torch.load(run_dir / "exports" / "teacher-rung02-sparse.pt", weights_only=True)["storage"] == "sparse"
    x = torch.randn(3, 64)
    with torch.no_grad():
        want = dsd_tui.load_model(run_dir, rung=2)(x)
        for name in ("teacher-rung02.pt", "teacher-rung02-2.pt", "teacher-rung02-sparse.pt"):
            torch.testing.assert_close(dsd_tui.load_model(run_dir / "exports" / name)(x), want, rtol=0, atol=1e-6)
    assert files(run_dir) - before == {"exports/teacher-rung02.pt", "exports/teacher-rung02-2.pt",
                                       "exports/teacher-rung02-sparse.pt"}


def test_a_rung_without_its_checkpoint_is_a_toast_and_writes_nothing(tmp_path):
    run_dir = headless_run(tmp_path, *LADDER)
    (run_dir / "checkpoints" / "teacher-rung03.pt").unlink()
    before = files(run_dir)

    async def scenario(pilot, app):
        assert await wait_for(pilot, lambda: app.query_one("#table").row_count == 4, 5)
        await pilot.press("e", "m")  # the newest rung, 3, whose checkpoint is gone
        assert await wait_for(pilot, lambda: any("no checkpoint for teacher rung 3" in t for t in toasts(app)), 5)
    watch(run_dir, scenario)
    assert files(run_dir) == before
