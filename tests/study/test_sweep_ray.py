"""A real sweep on a real local Ray cluster (2 CPUs): failures stay local, a re-run skips and resumes."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'dsd-tui[ray]'); the sweep needs it")

from dsd_tui.cli import main  # noqa: E402
from dsd_tui.record.rundir import read_events  # noqa: E402
from dsd_tui.runner import RunSession  # noqa: E402
from dsd_tui.study import sweep as sweep_mod  # noqa: E402

TINY = ["prune.rungs=2", "train.dense_epochs=3", "train.epochs=2", "distill.enabled=true"]
GRID = "distill.teacher=best,/nonexistent/teacher.pt"  # the second value fails when the student phase starts


@pytest.fixture(scope="module")
def cluster():
    started = sweep_mod.connect(num_cpus=2)
    yield ray
    if started:
        ray.shutdown()


def sweep_args(out):
    args = ["sweep", "--grid", GRID, "--seeds", "0,1", "--out", str(out), "--table-every", "0"]
    for s in TINY:
        args += ["--set", s]
    return args


def run_starts(run_dir) -> list[bool]:
    return [e.resumed for e in read_events(run_dir / "events.jsonl") if e.type == "run_started"]


def test_sweep_reports_a_failing_ladder_finishes_the_others_and_a_rerun_skips_them(cluster, tmp_path):
    """Needs Ray: the ladders run in Ray's worker processes, which must import this dsd_tui (the driver's
    PYTHONPATH), unpickle the profiles and send the results back; a fake Ray runs them in this process. The
    driver's own logic is tested on a fake Ray in test_sweep_driver.py."""
    out = tmp_path / "sweep"
    # One ladder is left half-done first, as if an earlier sweep had been killed after its first rung.
    plan = sweep_mod.plan_sweep(None, TINY, [GRID], "0,1", str(out))
    sweep_mod.prepare(*plan)
    half = next(p for p in plan[4] if p.settings["distill.teacher"] == "best" and p.seed == 1)
    session = RunSession.at(out / half.name, half.profile)
    session.stop_after_rung.set()
    assert session.run() == "interrupted"

    first = CliRunner().invoke(main, sweep_args(out))
    assert first.exit_code == 1, first.output  # some ladders failed
    index = json.loads((out / "sweep.json").read_text())
    status = {(lad["settings"]["distill.teacher"], lad["seed"]): lad["status"] for lad in index["ladders"]}
    assert status == {("best", 0): "completed", ("best", 1): "completed",
                      ("/nonexistent/teacher.pt", 0): "failed", ("/nonexistent/teacher.pt", 1): "failed"}
    failed = [lad for lad in index["ladders"] if lad["status"] == "failed"]
    assert all("no such teacher checkpoint" in lad["error"] for lad in failed)
    assert "1 to resume, 3 to start" in first.stdout
    assert first.stdout.count("failed in") == 2 and first.stdout.count("completed in") == 2
    assert run_starts(out / half.name) == [False, True], "the half-done ladder was resumed, not restarted"
    done = [out / lad["name"] for lad in index["ladders"] if lad["status"] == "completed"]
    before = {p: (p / "events.jsonl").read_bytes() for p in done}

    again = CliRunner().invoke(main, sweep_args(out))
    assert again.exit_code == 1, again.output
    # a ladder refused as bad input (the missing teacher) left no run directory, so it is started again
    assert "2 already finished, 0 to resume, 2 to start" in again.stdout
    assert {p: (p / "events.jsonl").read_bytes() for p in done} == before, "finished ladders must not run again"
    index = json.loads((out / "sweep.json").read_text())
    assert sorted(lad["attempts"] for lad in index["ladders"] if lad["status"] == "failed") == [2, 2]
    assert "4 ladders: 2 completed, 2 failed" in again.stdout
