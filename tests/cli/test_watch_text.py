"""`dsd-tui watch` without a terminal: --once prints the state as text, --no-tui follows a run to its end,
a sweep directory answers at once; no escape codes, nothing written into the run directory."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from click.testing import CliRunner
from tui_support import RECORDED

from dsd_tui.cli import main
from dsd_tui.record.rundir import RunDir, rebuild_summary, writer_alive
from dsd_tui.study import sweep as sweep_mod
from dsd_tui.watch_text import watch_run_text

ROOT = Path(__file__).resolve().parents[2]
LINES = RECORDED.read_text().splitlines(keepends=True)


def run_copy(tmp_path: Path, lines: int | None = None) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "profile.toml").write_text("")
    (run / "events.jsonl").write_text("".join(LINES[:lines]))
    return run


def cli(*args, timeout=60, **kw):
    """The real command in a subprocess whose stdin and stdout are not a terminal."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "dsd_tui", *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, env=env, timeout=timeout, **kw)


def rows(text: str, phase: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.startswith(phase + " ")]


def test_once_prints_the_finished_run_as_plain_text(tmp_path):
    run = run_copy(tmp_path)
    before = sorted(p.name for p in run.iterdir())
    result = CliRunner().invoke(main, ["watch", "--once", str(run)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b" not in out and "\r" not in out
    summary = rebuild_summary(run).summary()
    for phase in summary["phases"]:
        got = rows(out, phase["name"])
        assert [int(r[1]) for r in got] == [r["rung"] for r in phase["rungs"]]
        assert [float(r[5]) for r in got] == [round(r["test_acc"], 3) for r in phase["rungs"]]
        assert got[phase["best_rung"]][-1].endswith("*")
    assert "[shadow] tolerance-drop fired at rung 4" in out
    assert ": completed" in out.splitlines()[0]
    assert out.rstrip().splitlines()[-1].startswith("run completed")
    assert sorted(p.name for p in run.iterdir()) == before  # read-only


def test_once_on_a_running_run_says_where_it_is(tmp_path):
    run = run_copy(tmp_path, 20)  # teacher rung 3 has finished its epoch 2 of 2, not yet its measurement
    result = CliRunner().invoke(main, ["watch", "--once", str(run)])
    assert result.exit_code == 0, result.output
    assert ": running" in result.stdout.splitlines()[0]
    assert result.stdout.rstrip().splitlines()[-1] == "now: teacher rung 3, epoch 2/2, train loss 1.5916, acc 0.573"
    assert [int(r[1]) for r in rows(result.stdout, "teacher")] == [0, 1, 2]


def test_no_tui_follows_the_run_until_it_ends(tmp_path, monkeypatch):
    import dsd_tui.watch_text as watch_text
    run = run_copy(tmp_path, 20)
    writer = RunDir(run)  # a live run holds the lock on events.jsonl
    followed = threading.Event()

    class Follower(watch_text.EventFollower):
        def poll(self):
            events = super().poll()
            if self._offset:  # the state so far has been read: what comes next must be followed
                followed.set()
            return events
    monkeypatch.setattr(watch_text, "EventFollower", Follower)

    def the_run_goes_on():
        followed.wait(120)  # a hang guard; the lines come once the follower has read the file
        with open(run / "events.jsonl", "a") as f:
            for line in LINES[20:]:
                f.write(line)
                f.flush()
                time.sleep(0.02)

    t = threading.Thread(target=the_run_goes_on)
    t.start()
    try:
        result = CliRunner().invoke(main, ["watch", "--no-tui", str(run)])
    finally:
        t.join()
        writer.close()
    assert result.exit_code == 0, result.output
    assert followed.is_set()  # every line from 21 on (rungs 3, 4, the student, the end) came after the first read
    out = result.stdout
    assert "\x1b" not in out
    assert [int(r[1]) for r in rows(out, "teacher")] == [0, 1, 2, 3, 4]
    assert [int(r[1]) for r in rows(out, "student")] == [0, 1, 2, 3, 4]
    assert out.rstrip().splitlines()[-1].startswith("run completed in")


def test_following_a_run_nobody_writes_any_more_ends(tmp_path):
    run = run_copy(tmp_path, 20)  # no end event: a run killed with SIGKILL
    writer = RunDir(run)
    assert writer_alive(run)
    writer.close()
    assert not writer_alive(run)
    out = io.StringIO()
    done = []
    t = threading.Thread(target=lambda: done.append(watch_run_text(run, True, out, poll_s=0.05, probe_after_s=0.3)))
    t.start()
    t.join(30)
    assert done == ["running"]
    assert "no process writes this run any more" in out.getvalue()


def test_watch_sweep_without_a_terminal_ends_at_once(tmp_path):
    sweep_dir = tmp_path / "sweep"
    plan = sweep_mod.plan_sweep(None, ["prune.rungs=4"], ["data.noise=0.2,0.4"], "0", str(sweep_dir))
    sweep_mod.prepare(*plan)
    first = sweep_dir / plan[4][0].name  # one ladder finished (the recorded run), the other not started
    first.mkdir()
    (first / "profile.toml").write_text("")
    (first / "events.jsonl").write_text("".join(LINES))
    (first / "summary.json").write_text(json.dumps(rebuild_summary(first).summary()))
    result = cli("watch", str(sweep_dir), timeout=180)  # before: escape codes until killed
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "needs a terminal" in result.stderr and "--once" in result.stderr
    once = CliRunner().invoke(main, ["watch", "--once", str(sweep_dir)])
    assert once.exit_code == 0, once.output
    assert "\x1b" not in once.stdout
    lines = once.stdout.splitlines()
    assert lines[1].split()[:3] == ["noise=0.2", "0", "completed"]
    assert lines[2].split()[:3] == ["noise=0.4", "0", "pending"]
    assert lines[-1] == "2 ladders: 1 completed, 1 pending"
