"""Resume at the awkward places: right after an active criterion stopped a phase, before the first
epoch ended, and while another process still holds the run."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from relhelp import load_summary, metrics

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.record.rundir import EVENTS, STATE, RunDir, read_events, safe_torch_load
from dsd_tui.runner import RunSession

STOPPING = ["prune.rungs=6", "train.dense_epochs=3", "train.epochs=1", "model.hidden=[64]", "distill.enabled=false",
            'stop.criteria=["early-stop"]', 'stop.active="early-stop"', 'stop.active_student=""',
            'stop.action="stop"', "stop.patience=1", "stop.smooth=1"]


pytestmark = pytest.mark.usefixtures("keep_signal_handlers")


def cut_events_before(run, event_type: str) -> None:
    """Make the run look killed just before the first event of this type was written."""
    lines = (run / EVENTS).read_bytes().splitlines(keepends=True)
    types = [e.type for e in read_events(run / EVENTS)]
    (run / EVENTS).write_bytes(b"".join(lines[:types.index(event_type)]))


def test_resume_after_an_active_stop_does_not_train_past_it(tmp_path):
    prof = profile_mod.load(None, STOPPING)
    session = RunSession.new(prof, str(tmp_path))
    assert session.run() == "stopped"
    expected = load_summary(session.path)
    stopped_at = len(expected["phases"][0]["rungs"]) - 1
    assert expected["phases"][0]["stopped_early"] and stopped_at < 6, "the criterion must fire for this test"
    assert safe_torch_load(session.path / STATE)["cursor"]["stopped_early"] is True

    cut_events_before(session.path, "phase_finished")  # killed after the stop's state was saved
    result = CliRunner().invoke(main, ["resume", str(session.path), "--no-tui"])
    assert result.exit_code == 0, result.stderr
    got = load_summary(session.path)
    assert metrics(got) == metrics(expected)
    assert not (session.path / "checkpoints" / f"teacher-rung{stopped_at + 1:02d}.pt").exists()
    assert got["status"] == "stopped"  # the resumed run knows the phase was stopped before the kill
    again = CliRunner().invoke(main, ["resume", str(session.path), "--no-tui"])
    assert again.exit_code == 2 and "already finished (stopped)" in again.stderr


def test_a_run_interrupted_after_a_stopped_phase_still_ends_stopped(tmp_path):
    """The teacher phase was stopped early before the interruption: the resumed run (which skips that
    phase) still ends "stopped", with the same numbers as an uninterrupted run."""
    prof = profile_mod.load(None, [s for s in STOPPING if not s.startswith("distill.")])
    ref = RunSession.new(prof, str(tmp_path / "ref"))
    assert ref.run() == "stopped"

    def after_teacher(event):
        if event.type == "phase_finished" and event.phase == "teacher":
            session.stop_after_rung.set()  # ends the run after the student's first rung
    session = RunSession.new(prof, str(tmp_path / "run"), sinks=[after_teacher])
    assert session.run() == "interrupted"
    result = CliRunner().invoke(main, ["resume", str(session.path), "--no-tui"])
    assert result.exit_code == 0, result.stderr
    got = load_summary(session.path)
    assert got["status"] == "stopped" and [p["stopped_early"] for p in got["phases"]] == [True, False]
    assert metrics(got) == metrics(load_summary(ref.path))


class Killed(BaseException):
    """A kill that leaves no chance to write anything more (not an Exception: the run cannot catch it)."""


def test_resume_before_the_first_epoch_ended_starts_over(tmp_path):
    prof = profile_mod.load(None, STOPPING)
    ref = RunSession.new(prof, str(tmp_path / "ref"))
    assert ref.run() == "stopped"

    def killed_after_the_first_event(e):
        if e.type == "log":  # the first event after run_started
            raise Killed
    session = RunSession.new(prof, str(tmp_path / "run"), sinks=[killed_after_the_first_event])
    with pytest.raises(Killed):  # killed before the first epoch ended: a log begun, no resume state yet
        session.run()
    assert not (session.path / STATE).exists()
    assert [e.type for e in read_events(session.path / EVENTS)] == ["run_started", "log"]
    result = CliRunner().invoke(main, ["resume", str(session.path), "--no-tui"])
    assert result.exit_code == 0, result.stderr
    assert metrics(load_summary(session.path)) == metrics(load_summary(ref.path))
    # (killed before its first event, the log is empty and resume refuses it: tests/project/test_hostile.py)


def test_a_run_still_in_use_cannot_be_resumed_twice(tmp_path):
    session = RunSession.new(profile_mod.load(None, STOPPING), str(tmp_path))  # holds the run's lock
    before = (session.path / EVENTS).read_bytes()
    result = CliRunner().invoke(main, ["resume", str(session.path), "--no-tui"])
    assert result.exit_code == 2
    assert "in use by another dsd-tui process" in result.stderr
    assert (session.path / EVENTS).read_bytes() == before
    session.rundir.close()
    assert isinstance(RunDir(session.path), RunDir)  # free again once the holder closed it
