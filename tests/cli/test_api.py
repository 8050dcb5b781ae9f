"""The Python API from a plain script: dsd_tui.run() returns the summary, load_summary() reads it back,
and the caller's torch thread count and SIGINT handler are what they were before."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import dsd_tui

ROOT = Path(__file__).resolve().parents[2]
TINY = ["prune.rungs=1", "train.dense_epochs=1", "train.epochs=1", "data.train_size=200", "data.val_size=50"]

SCRIPT = textwrap.dedent("""
    import json, signal, sys
    import torch
    import dsd_tui

    torch.set_num_threads(2)
    handler = signal.getsignal(signal.SIGINT)
    seen = []
    summary = dsd_tui.run("quickstart", overrides={tiny!r}, out=sys.argv[1],
                          on_event=lambda e: seen.append((e.type, torch.get_num_threads())))
    assert torch.get_num_threads() == 2, torch.get_num_threads()
    assert signal.getsignal(signal.SIGINT) is handler
    assert ("run_started", 1) in seen, seen[:3]   # run.threads = 1 held during the run only
    again = dsd_tui.load_summary(summary["run_dir"])
    print(json.dumps({{"summary": summary, "again": again}}))
""")


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    script = tmp / "notebook_cell.py"
    script.write_text(SCRIPT.format(tiny=TINY))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script), str(tmp / "runs")], capture_output=True, text=True,
                          env=env, cwd=tmp, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1]), tmp


def test_run_returns_the_summary_and_load_summary_reads_the_same(scripted):
    out, tmp = scripted
    summary = out["summary"]
    assert summary["status"] == "completed" and summary["schema"] == "dsd_tui.summary/1"
    run_dir = Path(summary["run_dir"])
    assert run_dir.parent == tmp / "runs"
    assert [p["name"] for p in summary["phases"]] == ["teacher", "student"]
    assert [r["rung"] for r in summary["phases"][0]["rungs"]] == [0, 1]
    assert out["again"] == summary
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    assert summary["profile"]["train"]["epochs"] == 1
    env = summary["environment"]
    assert env["dsd_tui"] == dsd_tui.__version__
    assert {"cuda", "cudnn"} <= env.keys()  # the versions torch was built with (None without them)


def test_bad_input_raises_usage_error_and_writes_nothing(tmp_path):
    with pytest.raises(dsd_tui.UsageError, match="train.epochs"):
        dsd_tui.run("quickstart", overrides=["train.epochs=-1"], out=tmp_path / "runs")
    with pytest.raises(dsd_tui.UsageError, match="no bundled profile"):
        dsd_tui.run("no-such-profile", out=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    with pytest.raises(dsd_tui.UsageError, match="not a dsd_tui run directory"):
        dsd_tui.load_summary(tmp_path)
