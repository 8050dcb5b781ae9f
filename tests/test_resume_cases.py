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
    assert session.run() == "completed"
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


def test_resume_before_the_first_epoch_ended_starts_over(tmp_path):
    prof = profile_mod.load(None, STOPPING)
    ref = RunSession.new(prof, str(tmp_path / "ref"))
    assert ref.run() == "completed"
    session = RunSession.new(prof, str(tmp_path / "run"))
    session.rundir.close()  # as if killed while loading data: a run directory with no state yet
    assert not (session.path / STATE).exists()
    result = CliRunner().invoke(main, ["resume", str(session.path), "--no-tui"])
    assert result.exit_code == 0, result.stderr
    assert metrics(load_summary(session.path)) == metrics(load_summary(ref.path))


def test_a_run_still_in_use_cannot_be_resumed_twice(tmp_path):
    session = RunSession.new(profile_mod.load(None, STOPPING), str(tmp_path))  # holds the run's lock
    before = (session.path / EVENTS).read_bytes()
    result = CliRunner().invoke(main, ["resume", str(session.path), "--no-tui"])
    assert result.exit_code == 2
    assert "in use by another dsd-tui process" in result.stderr
    assert (session.path / EVENTS).read_bytes() == before
    session.rundir.close()
    assert isinstance(RunDir(session.path), RunDir)  # free again once the holder closed it
