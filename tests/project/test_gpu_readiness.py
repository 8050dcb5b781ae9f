"""The GPU readiness items (docs/reliability.md, bench/gpu_check.sh) fixed and tested on the CPU: a resume
state written on the other device is one line, not "RNG state is wrong size"; Ray ladders with GPUs get a
fresh worker each and ladders without GPUs see none; the test suite itself runs on the CPU."""
from __future__ import annotations

import os

import pytest
import torch
from click.testing import CliRunner
from relhelp import QUICK, event_lines

from dsd_tui.cli import main
from dsd_tui.record.rundir import STATE, safe_torch_load

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

CUDA_STATE_BYTES = 16  # a CUDA (Philox) generator's state: seed and offset, 8 bytes each


def interrupted_run(tmp_path):
    """A short run stopped after its first rung (resumable: its state is on disk)."""
    from dsd_tui import profile as profile_mod
    from dsd_tui.runner import RunSession
    session = RunSession.new(profile_mod.load(None, QUICK), str(tmp_path / "runs"))
    session.stop_after_rung.set()
    assert session.run() == "interrupted"
    session.rundir.close()
    return session.path


def test_a_resume_state_from_the_other_device_is_one_line(tmp_path):
    run = interrupted_run(tmp_path)
    state = safe_torch_load(run / STATE, "state")
    assert state["generator"].numel() == torch.Generator().get_state().numel()  # written on the CPU
    state["generator"] = torch.zeros(CUDA_STATE_BYTES, dtype=torch.uint8)  # as a CUDA run writes it
    torch.save(state, run / STATE)
    before = event_lines(run)
    result = CliRunner().invoke(main, ["resume", str(run), "--no-tui"])
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert "written on a CUDA GPU (16-byte generator state)" in result.stderr
    assert "resume it on a machine with a CUDA GPU" in result.stderr
    assert event_lines(run) == before  # nothing added to the run


def test_the_resume_path_itself_refuses_the_other_devices_generator():
    from dsd_tui.core.ladder_resume import restore
    from dsd_tui.errors import UsageError
    model = torch.nn.Linear(2, 2)
    state = {"model": model.state_dict(), "masks": {}, "generator": torch.zeros(CUDA_STATE_BYTES, dtype=torch.uint8)}
    with pytest.raises(UsageError, match="written on a CUDA GPU"):
        restore(state, model, torch.Generator())


def test_the_test_suite_runs_on_the_cpu():
    """conftest hides GPUs, so a GPU host runs the suite against the CPU expectations it was written for."""
    if os.environ.get("DSD_TUI_TEST_GPU") == "1":
        pytest.skip("DSD_TUI_TEST_GPU=1: the GPUs are asked for")
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == ""
    assert not torch.cuda.is_available()


ray = pytest.importorskip("ray", reason="ray is not installed")


def test_ray_gpu_ladders_get_a_fresh_worker_and_cpu_ladders_see_no_gpu(monkeypatch):
    """A local Ray cluster that declares one (logical) GPU on this CPU machine: two GPU tasks in a row run in
    two processes, each shown its GPU; a zero-GPU task is shown none. Needs Ray: worker reuse (`max_calls`) and
    the CUDA_VISIBLE_DEVICES a worker is given are Ray's; test_sweep_driver.py checks, on a fake Ray, that the
    driver asks for them."""
    from dsd_tui.study.sweep import task_options

    def worker():  # nested: pickled by value, so the workers need not import this test module
        import os
        return os.getpid(), os.environ.get("CUDA_VISIBLE_DEVICES")
    if ray.is_initialized():
        pytest.skip("a Ray instance is already running in this process")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)  # Ray refuses a logical GPU none of which is visible
    ray.init(address="local", num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        gpu_task = ray.remote(**task_options(1, 0.5))(worker)
        first = ray.get(gpu_task.remote())
        second = ray.get(gpu_task.remote())
        assert first[0] != second[0], "a GPU ladder reused the previous ladder's worker process"
        assert first[1] == second[1] == "0"
        cpu_task = ray.remote(**task_options(1, 0))(worker)
        assert ray.get(cpu_task.remote())[1] == ""
    finally:
        ray.shutdown()


def test_compile_without_a_c_compiler_is_one_line_before_the_run(tmp_path):
    """Inductor builds its kernels with a C compiler: a host without one (PATH holds none here) is told before
    the run starts, not by a failure at the first compiled step."""
    import subprocess
    import sys

    from relhelp import env
    out = tmp_path / "runs"
    e = {**env(), "PATH": str(tmp_path), "CC": ""}  # no compiler reachable
    done = subprocess.run([sys.executable, "-m", "dsd_tui", "run", "--no-tui", "--out", str(out), "--set",
                           "train.compile=true", "--set", "prune.rungs=1"], env=e, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "needs a C compiler" in done.stderr and "train.compile=false" in done.stderr
    assert not out.exists()
