"""Snapshots of the monitor's main screen at 80×24, fed by the recorded short run in tests/data.

Update them after an intended change with `pytest tests/tui/test_tui_snapshots.py --snapshot-update`
and look at the SVGs in tests/tui/__snapshots__/ before committing.
"""
from __future__ import annotations

from tui_support import RESNET18, SIZE, recorded_clock, recorded_copy, resnet18_copy

from dsd_tui.tui.app import DsdApp
from dsd_tui.tui.screens.monitor import MonitorScreen

MID_RUN = 36  # events: the teacher ladder done and its stop fired, the student in its rung 1


def test_finished_run_shows_both_ladders_the_best_rungs_and_the_stop_banner(snap_compare, tmp_path):
    """The end of a run: all rungs in the table, both phases on the plot, the banner still up."""
    app = DsdApp(MonitorScreen(events_path=recorded_copy(tmp_path), clock=recorded_clock()))
    assert snap_compare(app, terminal_size=SIZE)


def test_mid_run_shows_progress_and_time_left(snap_compare, tmp_path):
    """During a run: rung and ladder progress, the estimate of time left, the student phase starting."""
    app = DsdApp(MonitorScreen(events_path=recorded_copy(tmp_path, MID_RUN), clock=recorded_clock(MID_RUN)))
    assert snap_compare(app, terminal_size=SIZE)


def test_help_screen_lists_the_keys(snap_compare, tmp_path):
    """The help screen over the monitor."""
    app = DsdApp(MonitorScreen(events_path=recorded_copy(tmp_path), clock=recorded_clock()))
    assert snap_compare(app, terminal_size=SIZE, press=["question_mark"])


def test_a_resnet18_run_at_100x32_shows_the_layers_and_entropy_panes_with_collapsed_layers(snap_compare, tmp_path):
    """Many layers: 21 prunable (kept per layer, ✗ on the collapsed ones) and 17 ReLU layers, both panes
    scrolling beside the table, no key needed at 100×32."""
    app = DsdApp(MonitorScreen(events_path=resnet18_copy(tmp_path), clock=recorded_clock(source=RESNET18)))
    assert snap_compare(app, terminal_size=(100, 32))
