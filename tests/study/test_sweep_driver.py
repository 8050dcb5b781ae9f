"""The sweep driver (dsd_tui/study/sweep.py) against a fake Ray (fake_ray.py), in this process, through the real
`dsd-tui sweep` command: one driver per folder, SIGINT and SIGTERM stop it resumably (exit 130), a worker that
dies fails its ladder only, a ladder another process holds is left alone, and the task options reach Ray.
The ladders are real and tiny (tenths of a second each).

What only a real Ray cluster shows keeps one e2e test each: a sweep on a real cluster (test_sweep_ray.py), a
SIGTERM to a driver whose `ray.init` installed Ray's own handler (test_hostile3.py), the plan from a real
cluster's nodes (test_sweep_packing.py), a fresh worker per GPU task and no GPU in CPU tasks
(test_gpu_readiness.py)."""
from __future__ import annotations

import io
import json
import logging
import os
import signal
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_ray import SAFETY_S, FakeRay
from relhelp import one_line, snapshot_tree

from dsd_tui.cli import main
from dsd_tui.record.rundir import RunDir, read_events
from dsd_tui.runner import RunSession
from dsd_tui.study import sweep as sweep_mod
from dsd_tui.study.sweep_lock import SweepLock

ONE = ["prune.rungs=1", "train.dense_epochs=1", "train.epochs=1", "model.hidden=[16]", "entropy.enabled=false",
       "distill.enabled=false"]
GRID = "prune.criterion=magnitude,random"
A, B = "prune.criterion-magnitude__seed-0", "prune.criterion-random__seed-0"  # its two ladders


@pytest.fixture
def fake_ray(monkeypatch):
    """make(**FakeRay options): a fake Ray that `sweep.import_ray` returns from then on (one per driver run)."""
    made: list[FakeRay] = []
    # a driver that starts a local cluster points PYTHONPATH at this source tree for its workers: undo it after
    if "PYTHONPATH" in os.environ:
        monkeypatch.setenv("PYTHONPATH", os.environ["PYTHONPATH"])
    else:
        monkeypatch.delenv("PYTHONPATH", raising=False)

    def make(**options) -> FakeRay:
        fake = FakeRay(**options)
        monkeypatch.setattr(sweep_mod, "import_ray", lambda: fake)
        made.append(fake)
        return fake
    yield make
    for fake in made:
        fake.close()


def plan(out: Path):
    return sweep_mod.plan_sweep(None, ONE, [GRID], "0", str(out))


def sweep_cli(out: Path, *extra: str):
    args = ["sweep", "--grid", GRID, "--seeds", "0", "--out", str(out), "--table-every", "0", *extra]
    for s in ONE:
        args += ["--set", s]
    return CliRunner().invoke(main, args)


def half_done(out: Path, name: str) -> None:
    """The sweep's ladder `name` run until its first rung finished, then stopped, as a driver that went away
    leaves it (resumable)."""
    the_plan = plan(out)
    sweep_mod.prepare(*the_plan)
    ladder = next(p for p in the_plan[4] if p.name == name)
    session = RunSession.at(out / name, ladder.profile)
    session.stop_after_rung.set()
    assert session.run() == "interrupted"


def ladders(out: Path) -> dict:
    return {lad["name"]: lad for lad in json.loads((out / "sweep.json").read_text())["ladders"]}


def statuses(out: Path) -> dict:
    return {name: lad["status"] for name, lad in ladders(out).items()}


def run_starts(run_dir: Path) -> list[bool]:
    return [e.resumed for e in read_events(run_dir / "events.jsonl") if e.type == "run_started"]


# ---------------------------------------------------------------- one driver per folder

def test_a_second_driver_on_the_same_folder_is_refused_in_one_line_and_changes_nothing(tmp_path, fake_ray):
    out = tmp_path / "sweep"
    half_done(out, A)  # the first driver's ladder, half done
    fake = fake_ray()
    with SweepLock(out):  # the first driver, still running
        before = snapshot_tree(out)
        one_line(sweep_cli(out), 2, "driven by another dsd-tui process", str(out), f"(pid {os.getpid()})")
    assert snapshot_tree(out) == before, "the second driver changed the sweep folder"
    assert fake.inits == [] and fake.tasks == [], "the second driver started Ray or submitted a ladder"


def test_a_running_driver_holds_the_lock_and_it_goes_away_with_the_driver(tmp_path, fake_ray, monkeypatch):
    out = tmp_path / "sweep"
    fake = fake_ray(hold=True)
    second = fake_ray()
    ended: dict = {}

    def first_driver():  # in a thread: the second driver below must be the main thread's CLI
        try:
            ended["result"] = sweep_mod.run_sweep(*plan(out), sweep_mod.SweepOptions(table_every=0), out=io.StringIO())
        except BaseException as e:  # noqa: BLE001 - asserted below
            ended["error"] = e
    thread = threading.Thread(target=first_driver, name="first-driver")
    monkeypatch.setattr(sweep_mod, "import_ray", lambda: fake if threading.current_thread() is thread else second)
    thread.start()
    try:
        fake.until(FakeRay.driver_waits_on_held_tasks, "the first driver waiting on its ladders")
        before = snapshot_tree(out)
        one_line(sweep_cli(out), 2, "driven by another dsd-tui process", f"(pid {os.getpid()})")
        assert snapshot_tree(out) == before, "the second driver changed the sweep folder"
        assert second.inits == [] and second.tasks == [], "the second driver reached Ray"
    finally:
        fake.release()
        thread.join(SAFETY_S)
    assert "error" not in ended and ended["result"].ok, ended
    assert fake.submitted() == [A, B] and not fake.errors, fake.errors
    assert statuses(out) == {A: "completed", B: "completed"}

    third = fake_ray()
    again = sweep_cli(out)  # the first driver is gone, and so is its lock
    assert again.exit_code == 0, (again.output, again.stderr)
    assert "2 ladders (2 already finished, 0 to resume, 0 to start)" in again.stdout
    assert third.tasks == [] and third.inits == [], "nothing to run: Ray is not even started"


# ---------------------------------------------------------------- signals

@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT-in-background"])
def test_a_signal_stops_the_driver_cancels_its_running_ladders_and_a_rerun_resumes_them(tmp_path, fake_ray, how):
    """A is resumed and held (running when the signal comes), B runs to its end first. SIGTERM comes after
    `ray.init` replaced the driver's handler with Ray's (the fake does that too); SIGINT comes to a driver
    started in the background by a shell, which inherits SIGINT ignored."""
    out = tmp_path / "sweep"
    half_done(out, A)
    sig = signal.SIGINT if how.endswith("background") else signal.SIGTERM
    if how.endswith("background"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # conftest's keep_signal_handlers puts it back
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    fake = fake_ray(hold={A})
    sender = fake.signal_when(lambda f: f.driver_waits_on_held_tasks() and f.task(B).finished, sig)
    result = sweep_cli(out)
    left_held = fake.close()
    sender.join(SAFETY_S)

    one_line(result, 130, f"interrupted by {sig.name}", "run the same command again", str(out))
    assert not fake.errors, fake.errors
    assert [(task.ladder, force) for task, force in fake.cancels] == [(A, True)], "only A was running"
    assert left_held == [], "the driver left its running ladder behind"
    assert statuses(out) == {A: "interrupted", B: "completed"}
    assert fake.shutdowns == 1, "the cluster it started is shut down"
    assert {s: signal.getsignal(s) for s in handlers} == handlers, "the driver's (or Ray's) handlers outlived it"
    assert sweep_mod.next_step(out / A) == "resume" and (out / A / "state" / "latest.pt").is_file()
    finished = (out / B / "events.jsonl").read_bytes()

    again = fake_ray()
    rerun = sweep_cli(out)  # the same command: the interrupted driver's lock is gone
    assert rerun.exit_code == 0, (rerun.output, rerun.stderr)
    assert "2 ladders (1 already finished, 1 to resume, 0 to start)" in rerun.stdout
    assert again.submitted() == [A] and again.task(A).args[2] is True, "A resumed, B skipped"
    assert statuses(out) == {A: "completed", B: "completed"} and ladders(out)[A]["attempts"] == 2
    assert run_starts(out / A) == [False, True], "A was resumed, not restarted"
    assert (out / B / "events.jsonl").read_bytes() == finished


def test_a_signal_while_the_ladders_are_submitted_cancels_those_already_submitted(tmp_path, fake_ray):
    """The signal's KeyboardInterrupt arrives while the driver submits B, after A went to the cluster: A is
    cancelled too (on a cluster joined with --address it would otherwise train on after the driver left)."""
    out = tmp_path / "sweep"
    fake = fake_ray(hold=True)
    submit = fake._submit

    def second_submit_interrupted(*args):
        if fake.tasks:
            raise KeyboardInterrupt  # what signals.sweep_stops' handler raises in the main thread
        return submit(*args)
    fake._submit = second_submit_interrupted
    result = sweep_cli(out)
    fake.close()
    assert result.exit_code == 130, (result.output, result.stderr)
    assert fake.submitted() == [A] and [(t.ladder, force) for t, force in fake.cancels] == [(A, True)]
    assert statuses(out) == {A: "interrupted", B: "interrupted"}
    assert fake.shutdowns == 1


# ---------------------------------------------------------------- failures and ladders in use

def test_a_ladder_whose_worker_dies_fails_alone_and_a_rerun_runs_only_it(tmp_path, fake_ray):
    out = tmp_path / "sweep"
    fake = fake_ray(die={B})
    first = sweep_cli(out)
    one_line(first, 1, "1 ladder(s) did not finish", B)
    lad = ladders(out)
    assert lad[A]["status"] == "completed" and lad[B]["status"] == "failed"
    assert lad[B]["error"].startswith("WorkerCrashedError: The worker died unexpectedly"), lad[B]["error"]
    assert "failed: WorkerCrashedError" in first.stdout and "[2/2]" in first.stdout
    assert sorted(fake.submitted()) == [A, B]
    finished = (out / A / "events.jsonl").read_bytes()

    again = fake_ray()
    rerun = sweep_cli(out)
    assert rerun.exit_code == 0, (rerun.output, rerun.stderr)
    assert "2 ladders (1 already finished, 0 to resume, 1 to start)" in rerun.stdout
    assert again.submitted() == [B], "the finished ladder ran again"
    assert (out / A / "events.jsonl").read_bytes() == finished
    assert statuses(out) == {A: "completed", B: "completed"} and ladders(out)[B]["attempts"] == 2


def test_a_ladder_in_use_by_another_process_is_left_alone(tmp_path, fake_ray):
    out = tmp_path / "sweep"
    the_plan = plan(out)
    sweep_mod.prepare(*the_plan)
    path = out / B
    path.mkdir()
    (path / "profile.toml").write_text(next(p for p in the_plan[4] if p.name == B).profile.to_toml())
    held = RunDir(path)  # a run starting in another process: its log is open and locked, still empty
    try:
        before = snapshot_tree(path)
        fake = fake_ray()
        result = sweep_cli(out)
        one_line(result, 1, "1 ladder(s) did not finish", B)
        assert "2 ladders (0 already finished, 0 to resume, 1 to start, 1 in use by another process, left alone)" \
            in result.stdout
        assert fake.submitted() == [A]
        assert ladders(out)[B]["status"] == "failed" and "in use by another dsd-tui process; left as it is" \
            in ladders(out)[B]["error"]
        assert snapshot_tree(path) == before, "the driver touched a ladder in use"
    finally:
        held.close()

    again = fake_ray()
    rerun = sweep_cli(out)  # no longer in use: killed before its first event, so started again
    assert rerun.exit_code == 0, (rerun.output, rerun.stderr)
    assert again.submitted() == [B] and again.task(B).args[2] is False
    assert statuses(out) == {A: "completed", B: "completed"}


# ---------------------------------------------------------------- what reaches Ray

NO_GPU = {"env_vars": {"CUDA_VISIBLE_DEVICES": ""}}


@pytest.mark.parametrize("gpus, extra, options, plan_line", [
    (0, [], {"num_cpus": 1.0, "num_gpus": 0, "max_retries": 0, "runtime_env": NO_GPU},
     "plan: 2 ladder(s), 2 at a time (1 CPU per ladder)"),
    (1, [], {"num_cpus": 1.0, "num_gpus": 1.0, "max_retries": 0, "max_calls": 1},
     "plan: 2 ladder(s), 1 at a time (1 GPU and 1 CPU per ladder)"),
    (1, ["--gpus-per-ladder", "0.5"], {"num_cpus": 1.0, "num_gpus": 0.5, "max_retries": 0, "max_calls": 1},
     "plan: 2 ladder(s), 2 at a time (0.5 GPU and 1 CPU per ladder)"),
], ids=["cpu", "gpu", "half-gpu"])
def test_cpu_ladders_see_no_gpu_and_gpu_ladders_get_a_fresh_worker(tmp_path, fake_ray, gpus, extra, options, plan_line):
    """The options task_options() gives reach `ray.remote` (the real worker behaviour behind them:
    test_gpu_readiness.py); a local cluster gets --num-cpus and is shut down after."""
    fake = fake_ray(gpus=gpus)
    result = sweep_cli(tmp_path / "sweep", "--num-cpus", "3", *extra)
    assert result.exit_code == 0, (result.output, result.stderr)
    assert [task.options for task in fake.tasks] == [options, options]
    assert plan_line in result.stdout and f"ray: 3 CPUs, {gpus} GPUs" in result.stdout
    assert [(i["address"], i["num_cpus"], i["logging_level"]) for i in fake.inits] == [("local", 3, logging.WARNING)]
    assert fake.shutdowns == 1


def test_a_driver_that_joins_a_running_cluster_leaves_it_running(tmp_path, fake_ray):
    fake = fake_ray(initialized=True)  # as after `ray start --head` and --address auto
    result = sweep_cli(tmp_path / "sweep", "--address", "auto")
    assert result.exit_code == 0, (result.output, result.stderr)
    assert sorted(fake.submitted()) == [A, B]
    assert fake.inits == [] and fake.shutdowns == 0
