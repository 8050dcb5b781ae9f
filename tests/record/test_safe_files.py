"""A write that fails at the OS boundary (here: the disk is full when a checkpoint is renamed into
place) leaves every earlier file intact and valid, ends the run with one clear line and exit 1,
and the run resumes once the disk has room. summary.json is only ever replaced whole."""
from __future__ import annotations

import errno
import json
import os

import pytest
from click.testing import CliRunner
from relhelp import QUICK, load_summary, run_dirs, sets

from dsd_tui.cli import main
from dsd_tui.record.rundir import RunDir, WriteFailed, atomic_write_text, read_events, safe_torch_load

ONE_PHASE = [*QUICK, "distill.enabled=false"]


pytestmark = pytest.mark.usefixtures("keep_signal_handlers")


def disk_full_for(monkeypatch, suffix: str):
    """os.replace fails with ENOSPC for destinations ending in `suffix`, like a full disk would."""
    real = os.replace

    def replace(src, dst, *a, **kw):
        if str(dst).endswith(suffix):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real(src, dst, *a, **kw)
    monkeypatch.setattr(os, "replace", replace)


def test_failed_checkpoint_write_keeps_previous_files_and_run_resumes(tmp_path, monkeypatch):
    disk_full_for(monkeypatch, "teacher-rung02.pt")
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path), *sets(*ONE_PHASE)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "teacher-rung02.pt" in lines[0] and "No space left" in lines[0]
    assert "dsd-tui resume" in lines[0] and "Traceback" not in result.output + result.stderr
    run = run_dirs(tmp_path)[0]

    summary = load_summary(run)  # valid JSON, with the rungs that finished
    assert [r["rung"] for r in summary["phases"][0]["rungs"]] == [0, 1]
    for rung in (0, 1):
        ck = safe_torch_load(run / "checkpoints" / f"teacher-rung{rung:02d}.pt")
        assert ck["rung"] == rung
    assert not (run / "checkpoints" / "teacher-rung02.pt").exists()
    assert not list(run.rglob(".*.tmp")), "no temporary file is left behind"
    cursor = safe_torch_load(run / "state" / "latest.pt")["cursor"]
    assert (cursor["rung"], cursor["epoch"]) == (2, 3)  # the last epoch of rung 2 is saved

    monkeypatch.undo()  # the disk has room again
    result = CliRunner().invoke(main, ["resume", str(run), "--no-tui"])
    assert result.exit_code == 0, result.stderr
    summary = load_summary(run)
    assert summary["status"] == "completed"
    assert [r["rung"] for r in summary["phases"][0]["rungs"]] == [0, 1, 2, 3]


def test_failed_summary_write_keeps_the_previous_summary(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    atomic_write_text(run / "summary.json", json.dumps({"status": "running", "phases": []}))
    rundir = RunDir(run)
    disk_full_for(monkeypatch, "summary.json")
    with pytest.raises(WriteFailed, match="previous version is intact"):
        rundir.write_summary()
    rundir.close()
    assert json.loads((run / "summary.json").read_text()) == {"status": "running", "phases": []}
    assert not list(run.glob(".*.tmp"))


def test_a_torn_last_event_line_is_cut_before_appending(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.jsonl").write_bytes(b'{"type":"log","time":1,"message":"a"}\n{"type":"lo')  # killed mid-append
    rundir = RunDir(run)
    from dsd_tui.record import events as ev
    rundir(ev.Log(message="b"))
    rundir.close()
    assert [e.message for e in read_events(run / "events.jsonl")] == ["a", "b"]


def test_failed_state_write_in_the_background_fails_the_run_cleanly(tmp_path, monkeypatch):
    disk_full_for(monkeypatch, "latest.pt")
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path), *sets(*ONE_PHASE)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "latest.pt" in lines[0] and "No space left" in lines[0], result.stderr
    assert load_summary(run_dirs(tmp_path)[0])["status"] == "failed"
