"""The end-of-run summary left on the terminal by the monitor and `watch`: the same lines the
headless view prints at the end, for a finished, a stopped and an interrupted run."""
from __future__ import annotations

import io

from tui_support import RECORDED

from dsd_tui.headless import HeadlessPrinter, end_of_run_report
from dsd_tui.record import events as ev
from dsd_tui.record.rundir import read_events
from dsd_tui.record.summary import SummaryBuilder


def fold(events) -> dict:
    b = SummaryBuilder()
    for e in events:
        b.consume(e)
    return b.summary()


def printed_end(events) -> list[str]:
    """What the headless printer printed from the first phase_finished on."""
    out = io.StringIO()
    printer = HeadlessPrinter(out, live=False)
    for e in events:
        printer(e)
    lines = out.getvalue().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("-- teacher phase done"))
    return [line for line in lines[first:] if not line.startswith(("student ", "-- student phase:", "phase "))
            and "[STOP]" not in line and "[shadow]" not in line and not line.startswith("         keeps")]


def test_a_finished_run_leaves_what_the_headless_view_printed_at_its_end():
    events = read_events(RECORDED)
    report = end_of_run_report(fold(events))
    assert report[0].startswith("-- quickstart: ")
    assert "\n".join(report[1:]) == "\n".join(printed_end(events))


def test_a_stopped_run_says_so_and_an_interrupted_one_keeps_its_finished_phases():
    events = read_events(RECORDED)
    end = next(i for i, e in enumerate(events) if e.type == "run_finished")
    stopped = events[:end] + [ev.RunFinished(status="stopped", seconds=8.0)]
    assert end_of_run_report(fold(stopped))[-1] == "run stopped in 8.0 s of training"
    teacher_done = next(i for i, e in enumerate(events) if e.type == "phase_finished")
    report = end_of_run_report(fold(events[:teacher_done + 3] + [ev.RunInterrupted(reason="quit (q)")]))
    assert report[1].startswith("-- teacher phase done: best validation rung 2")
    assert not any("student phase done" in line for line in report)
    assert report[-1] == "run interrupted: quit (q)"
