"""Per-layer sparsity in every rung record, and the layer-collapse alert, from a real run in which a
layer is made to collapse (tests/layer_support.py)."""
from __future__ import annotations

import csv
import io
import json

import pytest
import torch
from click.testing import CliRunner
from layer_support import COLLAPSING, collapsing_run
from tui_support import screen_text, watch_run

from dsd_tui.cli import main
from dsd_tui.record import layers
from dsd_tui.record.rundir import read_events


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        session, printed = collapsing_run(tmp_path_factory.mktemp("collapse"), mp)
    return session.path, printed


def test_every_rung_record_holds_the_pruned_fraction_of_each_layer_as_its_checkpoint_masks_say(run):
    path, _ = run
    summary = json.loads((path / "summary.json").read_text())
    phase = summary["phases"][0]
    assert phase["layer_weights"] == {"features.0.weight": 64 * 64, COLLAPSING: 64 * 64, "classifier.weight": 640}
    for r in phase["rungs"]:
        masks = torch.load(path / "checkpoints" / f"teacher-rung{r['rung']:02d}.pt", weights_only=True)["masks"]
        assert r["layer_sparsity"] == pytest.approx({n: 1 - m.float().mean().item() for n, m in masks.items()})
        kept = sum(layers.kept_count(s, phase["layer_weights"][n]) for n, s in r["layer_sparsity"].items())
        assert kept == r["remaining_weights"]
    events = [e for e in read_events(path / "events.jsonl") if e.type == "rung_finished"]
    assert [e.record.layer_sparsity for e in events] == [r["layer_sparsity"] for r in phase["rungs"]]


def test_a_collapsed_layer_is_an_event_a_printed_line_and_a_summary_entry_naming_layer_and_rung(run):
    path, printed = run
    collapses = [e for e in read_events(path / "events.jsonl") if e.type == "layer_collapse"]
    assert [(e.phase, e.rung, e.layer, e.level, e.kept, e.weights) for e in collapses] == [
        ("teacher", 1, COLLAPSING, "collapsed", 0, 4096)]
    assert f"[COLLAPSED] layer {COLLAPSING} collapsed: no weight of 4,096 kept at teacher rung 1" in printed
    summary = json.loads((path / "summary.json").read_text())
    assert summary["layer_collapse"] == [{"phase": "teacher", "rung": 1, "layer": COLLAPSING, "level": "collapsed",
                                          "kept": 0, "weights": 4096}]


def test_export_layers_csv_is_one_row_per_phase_rung_and_layer(run):
    path, _ = run
    result = CliRunner().invoke(main, ["export", str(path), "--format", "layers-csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 2 * 3
    collapsed = [r for r in rows if r["level"] == "collapsed"]
    assert [(r["phase"], r["rung"], r["layer"], r["weights"], r["kept"], float(r["sparsity"])) for r in collapsed] \
        == [("teacher", "1", COLLAPSING, "4096", "0", 1.0)]
    dense = [r for r in rows if r["rung"] == "0"]
    assert {r["layer"]: float(r["sparsity"]) for r in dense} == {"features.0.weight": 0.0, COLLAPSING: 0.0,
                                                                  "classifier.weight": 0.0}


def test_grades_collapsed_at_zero_warning_under_one_percent_or_ten_weights_and_only_when_worse():
    assert layers.grade(0, 100) == "collapsed"
    assert layers.grade(9, 100) == "warning" and layers.grade(10, 100) is None
    assert layers.grade(99, 10_000) == "warning" and layers.grade(100, 10_000) is None
    assert layers.grade(5, 5) is None  # a small layer never pruned is healthy
    sizes = {"a": 10_000, "b": 100}
    assert layers.worsened(None, {"a": 0.995, "b": 0.0}, sizes) == [
        {"layer": "a", "level": "warning", "kept": 50, "weights": 10_000}]
    assert layers.worsened({"a": 0.995, "b": 0.0}, {"a": 0.996, "b": 1.0}, sizes) == [
        {"layer": "b", "level": "collapsed", "kept": 0, "weights": 100}]  # a: still a warning, not announced again


# ------------------------------------------------------------------ the monitor over that run
def test_the_layers_pane_marks_the_collapsed_layer_and_the_log_and_table_name_it(run):
    path, _ = run
    summary = json.loads((path / "summary.json").read_text())

    async def check(pilot, app):
        pane = app.query_one("#layers")
        assert pane.display and app.query_one("#entropy").display  # 100×32: both, no key needed
        assert [(r.name, r.weights, r.kept, r.level) for r in pane.rows_shown] == [
            ("features.0.weight", 4096, pytest.approx(1 - 0.06884765625), None),
            (COLLAPSING, 4096, 0.0, "collapsed"), ("classifier.weight", 640, pytest.approx(1 - 0.059375), None)]
        text = screen_text(app)
        r1 = summary["phases"][0]["rungs"][1]  # the inspector's title prices the rung (forward MACs, speed-up)
        speedup = f"×{r1['dense_macs'] / r1['macs']:.3g}"
        assert pane.border_title == f"kept per layer (3): teacher r1 · {r1['macs'] / 1e3:.3g} kMAC {speedup} · 1 ✗/!"
        assert "✗ features.2 " in text and "features.0 " in text and " 0%" in text
        assert any(f"[COLLAPSED] layer {COLLAPSING} collapsed" in line for line in app.query_one("#log").lines_written)
        regimes = [str(app.query_one("#table").get_row_at(i)[7]).strip() for i in range(2)]
        assert regimes == [r["regime"] for r in summary["phases"][0]["rungs"]]
    watch_run(path, check, (100, 32), settle=0.3)


def test_the_rung_inspector_shows_the_rung_under_the_cursor_then_follows_the_newest_again(run):
    path, _ = run
    summary = json.loads((path / "summary.json").read_text())
    dense = summary["phases"][0]["rungs"][0]

    async def check(pilot, app):
        pane, entropy = app.query_one("#layers"), app.query_one("#entropy")
        app.query_one("#table").focus()
        await pilot.press("up")
        await pilot.pause(0.2)
        assert [(r.name, r.kept, r.level) for r in pane.rows_shown] == [
            ("features.0.weight", 1.0, None), (COLLAPSING, 1.0, None), ("classifier.weight", 1.0, None)]
        assert pane.border_title.startswith("kept per layer (3): teacher r0 · cursor · ")  # then its MACs
        assert pane.border_title.endswith(" kMAC ×1")  # the dense rung: no speed-up
        assert entropy.border_title == f"entropy 0–{entropy.top:.2f} bits: teacher r0 · cursor · 2 layers, one scale"
        assert entropy.current == pytest.approx(dense["entropy"])
        await pilot.press("down")
        await pilot.pause(0.2)
        assert [r.level for r in pane.rows_shown] == [None, "collapsed", None]
        assert "cursor" not in pane.border_title and "cursor" not in entropy.border_title
    watch_run(path, check, (100, 32), settle=0.3)


def test_below_100x32_the_side_pane_shows_the_entropy_and_l_switches_it_to_the_layers(run):
    path, _ = run

    async def check(pilot, app):
        pane, entropy = app.query_one("#layers"), app.query_one("#entropy")
        assert entropy.display and not pane.display
        await pilot.press("l")
        await pilot.pause(0.2)
        assert pane.display and not entropy.display
        assert "✗ fea" in screen_text(app) and [r.level for r in pane.rows_shown] == [None, "collapsed", None]
    watch_run(path, check, (80, 24), settle=0.3)
