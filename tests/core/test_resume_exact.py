"""A run killed with SIGKILL at random points and resumed each time ends with the same metrics as
an uninterrupted run (CPU, fixed seed): the promise of `dsd-tui resume`."""
from __future__ import annotations

import os
import random
import signal
import time

import pytest
from click.testing import CliRunner
from relhelp import QUICK, cli, event_lines, load_summary, metrics, run_dirs, sets, wait_for

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.runner import RunSession

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

KILLS = 3


def test_sigkill_at_random_points_then_resume_gives_identical_summary(tmp_path):
    ref = RunSession.new(profile_mod.load(None, QUICK), str(tmp_path / "ref"))
    assert ref.run() == "completed"
    expected = load_summary(ref.path)
    total = event_lines(ref.path)

    seed = int(os.environ.get("DSD_KILL_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    # kill when the events file has grown to these line counts, plus a random few milliseconds
    points = sorted(rng.sample(range(3, total - 12), KILLS))
    out = tmp_path / "killed"
    proc = cli("run", "--no-tui", "--out", str(out), *sets(*QUICK))
    run = wait_for(lambda: run_dirs(out) and run_dirs(out)[0])
    kills = 0
    killed_after_the_end = False
    for i, point in enumerate(points):
        grown = point + i * 3  # each resume replays a few events (run_started, phase_started, ...)
        wait_for(lambda: event_lines(run) >= grown or proc.poll() is not None, timeout=120)
        time.sleep(rng.uniform(0, 0.03))  # a few epochs of this ladder at most: later kills could miss the run
        if proc.poll() is not None:
            break  # it finished before this point
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if finished(run):  # on a quick machine the kill can land after the run completed, before it exited
            killed_after_the_end = True
            break
        kills += 1
        # a process to kill again; after the last kill, the resume that finishes runs in this process (a
        # fresh interpreter adds seconds of imports, and all it reads is the state on disk either way)
        proc = cli("resume", str(run), "--no-tui") if i < len(points) - 1 else None
    if proc is None:
        finish = CliRunner().invoke(main, ["resume", str(run), "--no-tui"])
        assert finish.exit_code == 0, f"seed {seed}, points {points}: {finish.output[-2000:]}"
    elif not killed_after_the_end:
        stdout, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"seed {seed}, points {points}: {stderr.decode()[-2000:]}"
    assert kills >= 2, f"seed {seed}: only {kills} kills landed"

    got = load_summary(run)
    assert got["status"] == "completed"
    assert metrics(got) == metrics(expected), f"kill seed {seed}, points {points}"
    assert CliRunner().invoke(main, ["resume", str(run), "--no-tui"]).exit_code == 2  # finished: nothing to resume


def finished(run) -> bool:
    """The run's summary says it completed (summary.json is rewritten atomically at the main events)."""
    try:
        return load_summary(run).get("status") == "completed"
    except (OSError, ValueError):
        return False
