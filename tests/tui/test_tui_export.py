"""The monitor's `e` key offers the model export of the rung in view (the inspector's rung) beside the
summary, and writes it under RUN_DIR/exports/ with a name from the phase and rung, never replacing a file."""
from __future__ import annotations

import json

import torch
from textual.widgets._toast import Toast
from tui_support import wait_for, watch_run

import dsd_tui
from dsd_tui.tui.screens.export_choices import ExportChoices


def files(run_dir) -> set:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()}


def toasts(app) -> list[str]:
    return [str(t.render()) for t in app.screen.query(Toast)]


def table_rows(run_dir) -> list[tuple[str, int]]:
    """(phase, rung) of every finished rung, in the monitor table's order: teacher, then student."""
    summary = json.loads((run_dir / "summary.json").read_text())
    return [(p["name"], r["rung"]) for p in summary["phases"] for r in p["rungs"]]


def test_e_then_m_exports_the_inspected_rung_under_exports_and_never_overwrites(finished_run_copy):
    run_dir = finished_run_copy  # the shared short run (conftest.py), copied: the export writes into it
    before = files(run_dir)
    rows = table_rows(run_dir)
    phase, rung = rows[-2]  # the inspector after one "up": the row above the newest
    name = f"{phase}-rung{rung:02d}"

    async def scenario(pilot, app):
        assert await wait_for(pilot, lambda: app.query_one("#table").row_count == len(rows), 5)
        await pilot.press("up")
        await pilot.press("e")
        assert isinstance(app.screen, ExportChoices)
        await pilot.press("m")
        assert await wait_for(pilot, lambda: (run_dir / "exports" / f"{name}.pt").exists(), 5)
        await pilot.press("e", "m")  # again: a new name, the first file kept
        assert await wait_for(pilot, lambda: (run_dir / "exports" / f"{name}-2.pt").exists(), 5)
        await pilot.press("e", "c")
        assert await wait_for(pilot, lambda: (run_dir / "exports" / f"{name}-sparse.pt").exists(), 5)
        await pilot.press("e", "escape")
        assert not isinstance(app.screen, ExportChoices)
    watch_run(run_dir, scenario)
    first = torch.load(run_dir / "exports" / f"{name}.pt", weights_only=True)
    assert (first["phase"], first["rung"], first["storage"]) == (phase, rung, "dense")
    assert torch.load(run_dir / "exports" / f"{name}-sparse.pt", weights_only=True)["storage"] == "sparse"
    x = torch.randn(3, 64)
    with torch.no_grad():
        want = dsd_tui.load_model(run_dir, phase=phase, rung=rung)(x)
        for export in (f"{name}.pt", f"{name}-2.pt", f"{name}-sparse.pt"):
            torch.testing.assert_close(dsd_tui.load_model(run_dir / "exports" / export)(x), want, rtol=0, atol=1e-6)
    assert files(run_dir) - before == {f"exports/{name}.pt", f"exports/{name}-2.pt", f"exports/{name}-sparse.pt"}


def test_a_rung_without_its_checkpoint_is_a_toast_and_writes_nothing(finished_run_copy):
    run_dir = finished_run_copy  # the shared short run (conftest.py), copied: a checkpoint is removed
    rows = table_rows(run_dir)
    phase, rung = rows[-1]
    (run_dir / "checkpoints" / f"{phase}-rung{rung:02d}.pt").unlink()
    before = files(run_dir)

    async def scenario(pilot, app):
        assert await wait_for(pilot, lambda: app.query_one("#table").row_count == len(rows), 5)
        await pilot.press("e", "m")  # the newest rung, whose checkpoint is gone
        assert await wait_for(pilot, lambda: any(f"no checkpoint for {phase} rung {rung}" in t
                                                 for t in toasts(app)), 5)
    watch_run(run_dir, scenario)
    assert files(run_dir) == before
