"""The prepared GPU check runs end to end on the CPU in its smoke mode, so a GPU session only has to run it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_smoke_runs_every_step_on_cpu(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)}
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--smoke"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    result = json.loads((tmp_path / "throughput.json").read_text())
    assert set(result["train"]) == {"ref", "fp32", "bf16", "compile"}
    assert all(row["images_per_s"] > 0 for row in result["train"].values())
    assert result["entropy"]["ratio"] > 0 and result["checkpoint"]["checkpoint_mb"] > 40  # ResNet-18 weights
    assert "entropy pass" in out and "ladder wall time" in out
    # one verdict per check, all passing, and the list at the end (issue 24: independent checks, one budget)
    verdicts = out.split("== verdicts\n", 1)[1].splitlines()
    assert len(verdicts) == 14 and all(v.strip().startswith("PASS") for v in verdicts), verdicts
    assert out.count("-- verdict ") == 14
    for name in ("preflight", "the ladder's rungs, files, generator state", "doctor's estimate",
                 "resume on the other device", "device strings", "Ray: a tiny sweep"):
        assert any(name in v for v in verdicts), name
    assert "sgd on cpu: plain step" in out and "0 weights differ after 25 steps" in out
    assert "generator state 5056 bytes (want 5056)" in out and "cpu → cpu: exit 0" in out
    assert "--gpus-per-ladder 0: exit 0; ladders trained on ['cpu', 'cpu']" in out
    mlp = json.loads((tmp_path / "mlp.json").read_text())["train_by_sparsity"]
    assert set(mlp) == {"0.893", "0.982"} and all(set(t) == {"ref", "fp32", "bf16", "sparse"} for t in mlp.values())
    assert all(t["sparse"]["csr_layers"] for t in mlp.values())  # the CSR kernels ran
    runs = list((tmp_path / "runs").iterdir())
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert [len(p["rungs"]) for p in summary["phases"]] == [3, 3]  # teacher and KD student, rungs 0..2
    assert "goal fp32:" in out and "goal bf16:" in out
    modes = [json.loads((r / "summary.json").read_text()) for r in (tmp_path / "modes").iterdir()]
    assert [(m["profile"]["train"]["precision"], m["status"]) for m in modes] == [("bf16", "completed")]
    assert "kill/resume: SIGKILL after teacher rung 0 epoch 1 of 2" in out
    assert "metrics identical to the uninterrupted run" in out
    packing = json.loads((tmp_path / "packing.json").read_text())["rows"]  # issue 16: ladders at once
    assert [r["concurrent"] for r in packing] == [2] and packing[0]["aggregate_images_per_s"] > 0
