"""A short real ladder (digits, MLP) run through the CLI: stop criteria end phases and record savings."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from shared_runs import printed, shared_headless_run

from dsd_tui.cli import main
from dsd_tui.record.rundir import read_events

SHORT = ["--set", "prune.rungs=5", "--set", "train.dense_epochs=4", "--set", "train.epochs=2",
         "--set", "data.train_size=400",
         # min_delta = 1: no rung can count as an improvement, so early-stop fires exactly at rung `patience`
         "--set", "stop.min_delta=1.0", "--set", "stop.patience=2", "--set", "stop.smooth=1",
         "--set", 'stop.active="early-stop"', "--set", 'stop.active_student="early-stop"']


def run(tmp_path: Path, *extra: str):
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path), *SHORT, *extra])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.splitlines()[0])
    return result.output, json.loads((run_dir / "summary.json").read_text()), run_dir


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """`run(..., "--set", 'stop.action="stop"')`, built once per test run (shared_runs.py), not once per
    xdist worker; read-only."""
    run_dir = shared_headless_run(tmp_path_factory, "stop-e2e-stopped", *SHORT[1::2], 'stop.action="stop"')
    return printed(run_dir), json.loads((run_dir / "summary.json").read_text()), run_dir


def test_a_run_whose_active_stop_fired_ends_stopped_with_exit_0(stopped):
    """action = "stop" ending a phase early is a finished run: status "stopped" (run() asserted exit 0)."""
    out, summary, run_dir = stopped
    assert summary["status"] == "stopped"
    finished = [e for e in read_events(run_dir / "events.jsonl") if e.type == "run_finished"]
    assert [e.status for e in finished] == ["stopped"]
    assert out.rstrip().splitlines()[-1].startswith("run stopped in ")


def test_action_stop_ends_each_phase_at_the_firing_rung(stopped):
    _out, summary, run_dir = stopped
    for phase in summary["phases"]:
        assert [r["rung"] for r in phase["rungs"]] == [0, 1, 2]
        assert phase["stopped_early"] is True
    assert not (run_dir / "checkpoints" / "teacher-rung03.pt").exists()
    fired = [e for e in read_events(run_dir / "events.jsonl") if e.type == "stop_fired" and e.active]
    assert [(e.phase, e.rung, e.action) for e in fired] == [("teacher", 2, "stop"), ("student", 2, "stop")]


def test_a_stop_records_what_it_kept_and_what_it_saved(stopped):
    _out, summary, _ = stopped
    entry = next(s for s in summary["stops"] if s["phase"] == "teacher" and s["criterion"] == "early-stop")
    teacher = summary["phases"][0]["rungs"]
    assert entry["selected_rung"] == 0 and entry["selected_test_acc"] == teacher[0]["test_acc"]
    assert entry["selected_sparsity"] == 0.0
    assert (entry["rungs_trained"], entry["rungs_full"]) == (3, 6)
    assert (entry["epochs_trained"], entry["epochs_full"]) == (8, 14)  # 4+2+2 of 4+5×2
    assert entry["density_epochs_trained"] == pytest.approx(4 + 2 * 0.8 + 2 * 0.64, abs=1e-3)
    assert entry["density_epochs_full"] == pytest.approx(4 + 2 * sum(0.8 ** k for k in range(1, 6)), abs=1e-6)
    assert "has not beaten" in entry["reason"]


def test_summary_carries_verdicts_and_regimes(stopped):
    _out, summary, _ = stopped
    teacher, student = summary["phases"]
    assert {"dense_test_acc", "dip_points", "recovery_points", "collapse_points", "sdd"} <= set(teacher["verdict"])
    assert "dodged" in student["verdict"] and "dodged" not in teacher["verdict"]
    assert all(r["regime"] in ("memorising", "critical", "recovered", "collapsing") for r in teacher["rungs"])


def test_headless_output_ends_with_verdicts_and_the_comparison_table(stopped):
    out, _summary, _ = stopped
    assert "teacher verdict: dense" in out and "sparse double descent:" in out
    assert "cost 3/6 rungs, 8/14 epochs" in out
    table = out[out.index("-- stop criteria vs the ladder's best"):]
    assert "no stop (best val)" in table and "best test (oracle)" in table
    assert "did not fire" in table  # tolerance-drop had no chance within 3 rungs


def test_action_alert_records_the_firing_and_keeps_going(tmp_path):
    _out, summary, _ = run(tmp_path, "--set", "distill.enabled=false")
    teacher = summary["phases"][0]
    assert len(teacher["rungs"]) == 6 and teacher["stopped_early"] is False
    assert summary["status"] == "completed"  # an alert does not make the run "stopped"
    entry = next(s for s in summary["stops"] if s["criterion"] == "early-stop")
    assert (entry["rung"], entry["action"], entry["rungs_trained"]) == (2, "alert", 3)


def test_a_resumed_headless_run_tables_the_rungs_from_before_the_interruption(tmp_path):
    from conftest import short_overrides

    from dsd_tui import profile
    from dsd_tui.runner import RunSession

    prof = profile.load(None, [s for s in short_overrides("distill.enabled=false") if s != "--set"])
    session = RunSession.new(prof, str(tmp_path))
    session.stop_after_rung.set()
    assert session.run() == "interrupted"  # after rung 0
    result = CliRunner().invoke(main, ["resume", "--no-tui", str(session.path)])
    assert result.exit_code == 0, result.output
    table = result.output[result.output.index("-- stop criteria vs the ladder's best"):]
    assert "no stop (best val)" in table and "3/3" in table  # rung 0 counted although trained before
