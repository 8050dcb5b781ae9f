"""The result on the screen: verdicts and the teacher choice while the monitor is open, entropy on one
honest scale, one count of rungs, and the run's time across a resume (issue 26)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from relhelp import load_summary
from test_tui_app import monitor_app, run
from tui_support import RECORDED, recorded_clock, recorded_copy, screen_text

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.record.rundir import read_events
from dsd_tui.record.rung import RungRecord
from dsd_tui.record.summary import StopEntry, SummaryBuilder
from dsd_tui.runner import RunSession
from dsd_tui.stops.teacher_choice import choice_line
from dsd_tui.stops.verdicts import one_line
from dsd_tui.tui import view
from dsd_tui.tui.widgets.entropy_pane import BLOCKS, spark_text

pytestmark = pytest.mark.usefixtures("keep_signal_handlers")


def test_a_thousandth_of_a_bit_is_not_drawn_as_a_full_swing():
    """features.1 went 0.7675 → 0.7662 bits at a teacher rung; on the shared 0…top scale that is one block
    height (or none), never the bottom-to-top swing a per-row min–max scale drew."""
    row = spark_text([0.7675, 0.7665, 0.7662], top=0.95, cells=3, width=40).plain
    assert len(set(row)) == 1 and row[0] not in (BLOCKS[0], BLOCKS[-1])
    # two layers on the same scale compare: the lower one draws lower
    low, high = (spark_text([h], top=0.95, cells=1, width=1).plain for h in (0.2, 0.9))
    assert BLOCKS.index(low) < BLOCKS.index(high) == len(BLOCKS) - 1


def test_the_sparkline_is_the_rung_axis_with_the_selected_rung_marked_and_binned_when_narrow():
    t = spark_text([0.5, 0.6], top=1.0, cells=5, width=40, mark=1)
    assert t.plain[8:] == "············"  # rungs 2…4 not trained yet, four columns each at this width
    assert [s.style for s in t.spans if s.start == 4] == ["reverse"]
    assert len(spark_text([0.5] * 35, top=1.0, cells=35, width=12).plain) <= 12


def test_the_monitor_keeps_both_verdicts_the_teacher_choice_and_the_entropy_scale(tmp_path):
    path = recorded_copy(tmp_path)
    b = SummaryBuilder()
    for e in read_events(RECORDED):
        b.consume(e)
    app, _mon = monitor_app(events_path=path, clock=recorded_clock())

    async def check(pilot):
        text = screen_text(app)
        for phase in ("teacher", "student"):
            assert one_line(phase, b.phases[phase].verdict) in text
        assert view.teacher_choice(b).startswith("student distils from teacher rung") and view.teacher_choice(b) in text
        assert f"entropy 0–{view.entropy_top(b):.2f} bits: student r4 · 2 layers, one scale" in text
        rows = list(app.query("EntropyRow"))
        assert rows and {r.top for r in rows} == {view.entropy_top(b)}  # every layer on the one scale
        assert "student rung 4 of 0…4" in text and "trained 10/10 rungs" in text
        log = app.query_one("#log").lines_written
        assert any(line.startswith("teacher phase done") and "verdict:" in line for line in log)
    run(check, app, size=(200, 50))


def rec(rung: int, val: float, test: float = 0.5) -> RungRecord:
    return RungRecord.from_json({"rung": rung, "sparsity": 1 - 0.8 ** rung, "val_acc": val, "test_acc": test})


def test_the_teacher_choice_names_its_rule_its_tie_and_why_the_stop_kept_another_rung():
    records = [rec(0, 0.70), rec(1, 0.81), rec(2, 0.75), rec(3, 0.81)]
    stop = StopEntry("teacher", 2, "early-stop", "no gain", selected_rung=1, active=True, action="alert")
    line = choice_line({"source": "best", "rung": 3}, records, [stop])
    assert line == ("student distils from teacher rung 3 (best validation 0.810 of all 4 rungs, tie with rung 1 "
                    "broken toward the sparser; the stop (early-stop) kept rung 1)")
    assert choice_line({"source": "best", "rung": 3}, records) == (
        "student distils from teacher rung 3 (best validation 0.810, tie with rung 1 broken toward the sparser)")
    assert choice_line({"source": "dense", "rung": 0}, records).endswith('(distill.teacher = "dense")')
    assert choice_line(None, records) is None


def test_one_count_of_rungs_in_the_headless_view_and_the_profiles():
    result = CliRunner().invoke(main, ["profiles"])
    assert "34 pruning rungs, 35 trained" in result.output and "35 rungs" not in result.output


def test_after_an_interrupt_and_a_resume_the_run_time_counts_every_process(tmp_path):
    prof = profile_mod.load(None, ["prune.rungs=3", "train.dense_epochs=2", "train.epochs=1", "model.hidden=[64]"])

    def stop_in_student(event):
        if event.type == "rung_finished" and event.phase == "student":
            session.stop_now.set()  # as Ctrl-C: the next batch boundary
    session = RunSession.new(prof, str(tmp_path), sinks=[stop_in_student])
    assert session.run() == "interrupted"
    first = load_summary(session.path)
    assert first["interrupted"].startswith("stopped at the end of a batch") and "dsd-tui resume" in first["interrupted"]
    result = CliRunner().invoke(main, ["resume", str(session.path), "--no-tui"])
    assert result.exit_code == 0, result.output
    got = load_summary(session.path)
    rung_seconds = sum(r["seconds"] for p in got["phases"] for r in p["rungs"])
    assert got["seconds"] >= rung_seconds
    assert got["seconds"] > got["seconds_this_process"] > 0
    assert f"run completed in {got['seconds']:.1f} s of training" in result.output
    # the monitor's header says the same time as the summary once the run ended
    b = SummaryBuilder()
    for e in read_events(session.path / "events.jsonl"):
        b.consume(e)
    assert view.progress(b).elapsed == pytest.approx(got["seconds"])
    assert json.loads((session.path / "summary.json").read_text())["seconds"] == got["seconds"]
