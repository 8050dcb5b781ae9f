"""The monitor's display data, read off the summary: rows, plot series, entropy, progress, log lines."""
from __future__ import annotations

import dataclasses

from tui_support import RECORDED

from dsd_tui.record import events as ev
from dsd_tui.record.rundir import read_events
from dsd_tui.record.summary import SummaryBuilder
from dsd_tui.tui import view
from dsd_tui.tui.widgets.canvas import BRAILLE, Canvas, Trace, nice_range


def built(lines: int | None = None) -> SummaryBuilder:
    b = SummaryBuilder()
    for e in read_events(RECORDED)[:lines]:
        b.consume(e)
    return b


def test_table_rows_are_the_summary_records_with_the_best_rung_of_each_phase_marked():
    b = built()
    rows = view.table_rows(b)
    summary = b.summary()
    expected = [(p["name"], r["rung"], r["sparsity"], r["test_acc"], r["val_acc"], r["entropy_mean"])
                for p in summary["phases"] for r in p["rungs"]]
    assert [(r.phase, r.rung, r.sparsity, r.test_acc, r.val_acc, r.entropy_mean) for r in rows] == expected
    best = {(r.phase, r.rung) for r in rows if r.best}
    assert best == {(p["name"], p["best_rung"]) for p in summary["phases"]} == {("teacher", 2), ("student", 4)}


def test_plot_series_follow_the_phase_and_metric_choice():
    b = built()
    both = view.plot_series(b)
    assert [s.label for s in both] == ["teacher test", "teacher val", "student test", "student val"]
    teacher_test = [(r.rung, r.test_acc) for r in b.records("teacher")]
    assert both[0].points == tuple(teacher_test) and both[0].line and not both[1].line
    only = view.plot_series(b, "student", "entropy")
    assert [s.label for s in only] == ["student entropy"]
    assert only[0].points == tuple((r.rung, r.entropy_mean) for r in b.records("student"))


def test_entropy_follows_the_running_phase_unless_one_is_chosen():
    b = built()
    assert view.entropy_phase(b, "both") == "student"
    assert view.entropy_phase(b, "teacher") == "teacher"
    layers = view.entropy_by_layer(b, "teacher")
    assert list(layers) == ["features.1", "features.3"]
    assert layers["features.3"] == [r.entropy["features.3"] for r in b.records("teacher")]


def test_progress_counts_rungs_over_all_phases_and_estimates_time_left():
    lines = [i for i, e in enumerate(read_events(RECORDED)) if e.type == "rung_finished"][2] + 1
    b = built(lines)  # three teacher rungs done
    p = view.progress(b, now=b.started + 10.0)
    assert (p.phase, p.rung, p.rungs, p.rungs_done, p.rungs_total) == ("teacher", 2, 4, 3, 10)
    assert p.elapsed == 10.0 and p.status == "running"
    per_epoch = sum(r.seconds for r in b.records("teacher")) / sum(r.epochs for r in b.records("teacher"))
    left_epochs = 2 * 2 + (3 + 4 * 2)  # two teacher rungs, then the whole student ladder
    assert abs(p.eta - left_epochs * per_epoch) < 1e-9
    done = view.progress(built(), now=b.started + 1e6)
    assert done.eta is None and done.status == "completed" and done.elapsed < 1e6


def test_active_stops_only_and_their_text_names_criterion_rung_and_selection():
    b = built()
    stops = view.active_stops(b)
    assert [(s.criterion, s.phase, s.rung) for s in stops] == [("early-stop", "teacher", 1)]
    text = view.stop_text(stops[0])
    assert "early-stop" in text and "rung 1" in text and "keep rung 0" in text and "has not improved" in text


def test_log_lines_skip_epochs_and_flag_active_stops():
    assert view.log_line(ev.EpochFinished(phase="teacher", rung=0, epoch=1, epochs=2, train_loss=1.0,
                                          train_acc=0.5, lr=0.1, seconds=0.1)) is None
    sev, text = view.log_line(ev.StopFired(phase="teacher", rung=3, criterion="x", reason="why",
                                           selected_rung=1, active=True, action="alert"))
    assert sev == "alert" and "[STOP]" in text
    assert view.log_line(ev.Warning(message="disk")) == ("warning", "warning: disk")


def test_canvas_draws_markers_at_points_and_braille_between():
    c = Canvas(10, 3, (0.0, 9.0), (0.0, 1.0))
    c.draw(Trace(((0.0, 0.0), (9.0, 1.0)), "●", "bold"))
    rows = [r.plain for r in c.rows()]
    assert rows[2][0] == "●" and rows[0][9] == "●"
    assert any(BRAILLE < ord(ch) <= BRAILLE + 0xFF for ch in rows[1])
    assert nice_range([0.52, 0.91]) == (0.5, 0.95) and nice_range([]) == (0.0, 1.0)
    lo, hi = nice_range([0.7, 0.7])
    assert hi > lo


def test_the_header_resources_are_threads_on_a_cpu_and_memory_peak_and_utilisation_on_cuda():
    from dsd_tui.core.device_stats import gpu_now
    b = built()
    assert b.environment["device"] == "cpu" and view.progress(b, 0.0).resources == "1 threads"
    assert gpu_now("cpu") is None
    cuda = SummaryBuilder()
    events = read_events(RECORDED)
    start = events[0]
    cuda.consume(ev.RunStarted(name=start.name, run_dir=start.run_dir, profile=start.profile,
                               environment={**start.environment, "device": "cuda:0"}, phases=start.phases,
                               rungs=start.rungs))
    record = next(e for e in events if e.type == "rung_finished").record
    cuda.consume(ev.RungFinished(phase="teacher", rung=0, record=dataclasses.replace(record, gpu_peak_mb=1536.4)))
    assert view.resources(cuda) == "peak 1,536 MiB"  # watch: only the recorded peaks
    assert view.resources(cuda, {"mem_mb": 812.0, "util": 97.0}) == "812 MiB · peak 1,536 MiB · util 97%"
    assert view.resources(cuda, {"mem_mb": 812.0, "util": None}) == "812 MiB · peak 1,536 MiB"  # no NVML


def test_plot_marks_hold_the_dense_reference_the_best_rungs_and_the_firings():
    b = built()
    marks = view.plot_marks(b)
    summary = b.summary()
    teacher, student = summary["phases"]
    assert marks.reference == teacher["rungs"][0]["test_acc"] and marks.reference_label == "teacher dense"
    assert marks.best == (("teacher", 2, teacher["rungs"][2]["test_acc"]),
                          ("student", 4, student["rungs"][4]["test_acc"]))
    assert marks.fired == tuple(sorted({(s["rung"], s["active"]) for s in summary["stops"]}))
    student_only = view.plot_marks(b, "student", "val")
    assert student_only.reference == student["rungs"][0]["val_acc"] and len(student_only.best) == 1
