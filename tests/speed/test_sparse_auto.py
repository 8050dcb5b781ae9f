"""`train.sparse_kernels = "auto"`, the default since issue 16: the CSR kernels exactly where they were
measured to win (the CPU at one thread, fp32, no compile; layers by `sparse_kernels`' thresholds),
`false` the exact dense path, runs deterministic, and a SIGKILL in the middle of a CSR rung resumed to
the same numbers. Also the rung records' `peak_rss_mb` (record/memory.py)."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from csr_support import csr_spy
from relhelp import env, load_summary, metrics, run_dirs, sets, wait_for

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.profile import TrainSection
from dsd_tui.record import events as ev
from dsd_tui.record.rundir import EVENTS, STATE, read_events, safe_torch_load
from dsd_tui.runner import RunSession
from dsd_tui.speed.modes import Speed

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

# The quickstart's 512-wide MLP (the layer size the CSR kernels need), pruned 80% then 96%: rungs 1 and 2
# of both phases put the 512×512 hidden layer on CSR under the default. EPOCHS a rung leave the SIGKILL
# test 7 mid-rung resume states to land on (it kills on the first it sees, written every epoch end).
EPOCHS = 8
AUTO = ["prune.rungs=2", "prune.rate=0.8", "train.dense_epochs=3", f"train.epochs={EPOCHS}",
        "model.hidden=[512, 512]"]


def run(tmp_path, name: str, *extra: str, sinks=()) -> tuple[dict, list, Path]:
    with csr_spy() as used:
        session = RunSession.new(profile_mod.load(None, [*AUTO, *extra]), str(tmp_path / name), sinks=list(sinks))
        assert session.run() == "completed"
    return load_summary(session.path), used, session.path


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory):
    return run(tmp_path_factory.mktemp("auto"), "ref")


@pytest.mark.parametrize("setting, device, threads, extra, on", [
    ("auto", "cpu", 1, {}, True),
    ("auto", "cuda", 1, {}, False),  # measured on the CPU only
    ("auto", "cpu", 2, {}, False),  # measured at one thread only
    ("auto", "cpu", 0, {}, False),  # torch's default thread count
    ("auto", "cpu", 1, {"precision": "bf16"}, False),
    ("auto", "cpu", 1, {"compile": True}, False),
    (True, "cuda", 1, {}, True),  # forced on
    (True, "cpu", 4, {}, True),
    (False, "cpu", 1, {}, False),
])
def test_auto_turns_the_kernels_on_only_where_they_were_measured_to_win(setting, device, threads, extra, on):
    speed = Speed.from_profile(TrainSection(sparse_kernels=setting, **extra), torch.device(device), images=False,
                               threads=threads)
    assert speed.sparse_kernels is on
    assert speed.describe()["sparse_kernels"] is on and speed.describe()["sparse_kernels_setting"] == setting


def test_auto_is_the_default_and_the_key_takes_auto_true_or_false(tmp_path):
    assert profile_mod.load(None).train.sparse_kernels == "auto"
    assert profile_mod.load(None, ["train.sparse_kernels=auto"]).train.sparse_kernels == "auto"
    assert profile_mod.load(None, ['train.sparse_kernels="auto"', "train.precision=bf16"]).train.precision == "bf16"
    prof = profile_mod.load(None, ["train.sparse_kernels=false"])
    assert profile_mod.from_dict(profile_mod.parse_toml(prof.to_toml(), "p"), "p") == prof  # profile.toml round trip
    for bad in ("maybe", "1", "[true]"):
        result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path), "--set",
                                           f"train.sparse_kernels={bad}"])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "train.sparse_kernels" in lines[0] and '"auto", true or false' in lines[0]
        assert "Traceback" not in result.output
    assert not any(tmp_path.iterdir())  # no run directory started


def test_the_default_run_trains_its_sparse_rungs_on_csr_and_false_is_the_dense_path(tmp_path, auto_run):
    auto, used, path = auto_run
    assert auto["environment"]["speed"]["sparse_kernels"] is True
    assert auto["environment"]["speed"]["sparse_kernels_setting"] == "auto"
    assert auto["profile"]["train"]["sparse_kernels"] == "auto"
    # dense rung 0 of each phase: nothing qualifies; rungs 1 and 2: the 512×512 layer (the 512×64 input layer
    # keeps more than 20% of its weights, the 10×512 classifier has too few outputs)
    assert used == [(), ("features.2",), ("features.2",)] * 2
    logs = [e.message for e in read_events(path / EVENTS) if e.type == "log" and "CSR kernels" in e.message]
    assert logs == ["teacher rung 1: CSR kernels for features.2 (train.sparse_kernels)",
                    "student rung 1: CSR kernels for features.2 (train.sparse_kernels)"]

    dense, dense_used, dense_path = run(tmp_path, "dense", "train.sparse_kernels=false")
    assert dense_used == []  # the exact dense path never enters the kernel switch
    assert dense["environment"]["speed"]["sparse_kernels"] is False
    teacher_auto, teacher_dense = (s["phases"][0]["rungs"] for s in (auto, dense))
    assert metrics(teacher_auto[0]) == metrics(teacher_dense[0])  # no CSR layer yet: bitwise the dense path
    # the CSR rungs sum in another order: their weights differ in the last bits (the recorded losses only
    # after a dozen epochs or more), the dense rung's not at all
    for rung in (0, 1, 2):
        weights = [safe_torch_load(p / "checkpoints" / f"teacher-rung{rung:02d}.pt")["state_dict"]
                   for p in (path, dense_path)]
        same = all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
        assert same == (rung == 0), rung


def test_the_default_is_deterministic(tmp_path, auto_run):
    again, _, _ = run(tmp_path, "again")
    assert metrics(again) == metrics(auto_run[0])


# The real CLI, with the resume-state writer's duty cycle lifted (it normally rests ~99× as long as each
# write takes, so a short rung may end before a mid-rung state reaches the disk): every epoch end that
# finds the writer idle is written, and the test can wait for one inside a CSR rung before it kills.
EVERY_EPOCH = ("import sys; from dsd_tui.record import resume_state; "
               "resume_state.StateWriter.__init__.__defaults__ = (1.0,); "
               "from dsd_tui.cli import main; sys.exit(main())")


def test_sigkill_inside_a_csr_rung_then_resume_gives_the_uninterrupted_numbers(tmp_path, auto_run):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", EVERY_EPOCH, "run", "--no-tui", "--out", str(out), *sets(*AUTO)],
                            env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        run_dir = wait_for(lambda: run_dirs(out) and run_dirs(out)[0], timeout=120)
        cursor = wait_for(lambda: mid_csr_rung(run_dir) or proc.poll() is not None, timeout=300, step=0.005)
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert isinstance(cursor, dict), f"the run ended before a mid-rung state was seen: {proc.stderr.read()[-800:]}"
    killed_at = safe_torch_load(run_dir / STATE)["cursor"]
    assert killed_at["rung"] >= 1 and not killed_at["rung_done"] and killed_at["epoch"] >= 1, killed_at

    resumed = CliRunner().invoke(main, ["resume", str(run_dir), "--no-tui"])  # a fresh process is not the point
    assert resumed.exit_code == 0, resumed.output[-2000:]
    got = load_summary(run_dir)
    assert got["status"] == "completed"
    assert metrics(got) == metrics(auto_run[0]), f"killed at {killed_at}"
    # the resumed run put the rung it resumed back on CSR kernels
    events = list(read_events(run_dir / EVENTS))
    restart = max(i for i, e in enumerate(events) if e.type == "run_started")
    assert any(e.type == "log" and e.message.startswith(f"{killed_at['phase']} rung {killed_at['rung']}: CSR kernels")
               for e in events[restart:])


def mid_csr_rung(run_dir):
    """The saved cursor when it is inside a pruned rung (epoch ≥ 1, not finished), else None."""
    try:
        cursor = safe_torch_load(run_dir / STATE)["cursor"]
    except Exception:  # not written yet
        return None
    inside = cursor["rung"] >= 1 and not cursor["rung_done"] and 1 <= cursor["epoch"] < EPOCHS
    return cursor if inside else None


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the current RSS from /proc (Linux)")
def test_every_rung_record_keeps_the_process_peak_rss(tmp_path, auto_run):
    records = [r for p in auto_run[0]["phases"] for r in p["rungs"]]
    peaks = [r["peak_rss_mb"] for r in records]
    assert all(isinstance(p, float) and 50 < p < 64_000 for p in peaks), peaks  # MiB; torch alone is > 50
    assert peaks == sorted(peaks)  # a process high-water mark never falls
    assert all("gpu_peak_mb" not in r for r in records)  # CUDA only

    ballast = []

    def grow(event):  # the process's RSS raised 400 MiB above its peak so far during the teacher's rung 1, then freed
        if isinstance(event, ev.EpochFinished) and (event.phase, event.rung, event.epoch) == ("teacher", 1, 1):
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            ballast.append(np.ones((peak - rss + 400 * 2**20) // 8))
        elif isinstance(event, ev.EpochFinished) and (event.phase, event.rung, event.epoch) == ("teacher", 1, 2):
            ballast.clear()

    grown, _, path = run(tmp_path, "grown", "distill.enabled=false", "train.epochs=3", sinks=[grow])  # epochs 1, 2
    rungs = grown["phases"][0]["rungs"]
    assert rungs[1]["peak_rss_mb"] - rungs[0]["peak_rss_mb"] > 300, [r["peak_rss_mb"] for r in rungs]
    assert rungs[2]["peak_rss_mb"] >= rungs[1]["peak_rss_mb"]  # the peak stays although the memory was freed
    exported = CliRunner().invoke(main, ["export", str(path), "--format", "csv"])
    assert exported.exit_code == 0 and "peak_rss_mb" in exported.output.splitlines()[0]


def test_the_run_started_lines_name_the_default_kernels_and_the_way_back_to_the_exact_path():
    from dsd_tui.tui.view import log_line

    def started(**speed):
        return ev.RunStarted(name="r", run_dir="d", profile={}, environment={"speed": speed}, phases=["teacher"],
                             rungs=1, resumed=False)
    auto = log_line(started(precision="fp32", sparse_kernels=True, sparse_kernels_setting="auto",
                            sparse_kernels_layers={"teacher": ["features.2"], "student": ["features.2"]}))[1]
    assert auto.endswith("; sparse kernels: auto, CSR for features.2 once ≤ 20% kept "
                         "(exact dense path: train.sparse_kernels=false)")
    assert "opt-in" not in auto  # the default is not an opt-in mode
    older = log_line(started(precision="fp32", sparse_kernels=True, sparse_kernels_setting="auto"))[1]
    assert older.endswith("; sparse kernels: auto (exact dense path: train.sparse_kernels=false)")  # no layer list
    forced = log_line(started(precision="fp32", sparse_kernels=True, sparse_kernels_setting=True,
                              sparse_kernels_layers={"teacher": []}))[1]
    assert forced.endswith("; opt-in speed modes: sparse_kernels (no layer qualifies)")
    off = log_line(started(precision="fp32", sparse_kernels=False, sparse_kernels_setting="auto"))[1]  # e.g. a GPU
    assert "sparse" not in off


def test_a_run_whose_layers_are_all_too_small_says_no_layer_qualifies_in_both_front_ends(tmp_path):
    """auto is in effect (the CPU, one thread, fp32), but a 64-64 MLP has no Linear layer of 32,768 weights and
    512 outputs: the run-started line says no layer takes the kernels, the same in the headless printer and in
    the monitor's log, instead of a bare "sparse kernels: auto"."""
    from dsd_tui.tui.view import log_line

    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path / "runs"),
                                       *sets("model.hidden=[64, 64]", "prune.rungs=1", "train.dense_epochs=1",
                                             "train.epochs=1", "data.train_size=200", "data.val_size=50")])
    assert result.exit_code == 0, result.output
    note = "; sparse kernels: auto, no layer qualifies: the exact dense path"
    assert next(line for line in result.output.splitlines() if " started on " in line).endswith(note)
    run = run_dirs(tmp_path / "runs")[0]
    assert log_line(read_events(run / EVENTS)[0])[1].endswith(note)
    assert load_summary(run)["environment"]["speed"]["sparse_kernels_layers"] == {"teacher": [], "student": []}
    assert "CSR kernels for" not in result.output  # and no rung went on them
