"""A NaN/Inf loss is caught in the epoch it appears: the rung is recorded as diverged with a warning
event, and the run either fails cleanly (exit 1, one line, no traceback) or, with
train.on_divergence = "next-rung", restores the last good weights and goes on."""
from __future__ import annotations

import math

import pytest
from click.testing import CliRunner
from relhelp import load_summary, run_dirs, sets

from dsd_tui.cli import main
from dsd_tui.record.rundir import read_events, safe_torch_load

BASE = ["prune.rungs=2", "train.dense_epochs=3", "train.epochs=2", "model.hidden=[64]", "distill.enabled=false"]


pytestmark = pytest.mark.usefixtures("keep_signal_handlers")


def test_divergence_fails_the_run_cleanly(tmp_path):
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path),
                                       *sets(*BASE, 'train.optimizer="sgd"', "train.lr=1e30")])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "teacher rung 0 diverged at epoch 1" in lines[0] and "train.lr" in lines[0]
    assert "Traceback" not in result.output + result.stderr
    run = run_dirs(tmp_path)[0]
    summary = load_summary(run)
    assert summary["status"] == "failed"
    rung = summary["phases"][0]["rungs"][0]
    assert rung["diverged"] is True and rung["diverged_epoch"] == 1 and rung["test_acc"] is None
    types = [e.type for e in read_events(run / "events.jsonl")]
    assert "warning" in types and types[-1] == "run_failed"


def test_next_rung_restores_the_last_good_weights_and_goes_on(tmp_path):
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path),
                                       *sets(*BASE, 'prune.retrain="finetune"', "prune.finetune_lr=1e30",
                                             'train.on_divergence="next-rung"')])
    assert result.exit_code == 0, result.stderr
    run = run_dirs(tmp_path)[0]
    summary = load_summary(run)
    assert summary["status"] == "completed"
    rungs = summary["phases"][0]["rungs"]
    assert [r.get("diverged", False) for r in rungs] == [False, True, True]
    assert rungs[2]["sparsity"] == pytest.approx(1 - 0.8 ** 2, abs=1e-4)  # pruning went on from good weights
    assert summary["phases"][0]["best_rung"] == 0
    warnings = [e for e in read_events(run / "events.jsonl") if e.type == "warning"]
    assert len(warnings) == 2
    state = safe_torch_load(run / "state" / "latest.pt")
    assert all(math.isfinite(float(v.float().abs().max())) for v in state["model"].values())
    assert not (run / "checkpoints" / "teacher-rung01.pt").exists()
