"""The CLI's way into the monitor when there is no terminal: `run` goes headless, `watch` says why not."""
from __future__ import annotations

import json

from click.testing import CliRunner

from dsd_tui.cli import main

TINY = ["--set", "prune.rungs=1", "--set", "train.dense_epochs=1", "--set", "train.epochs=1",
        "--set", "distill.enabled=false"]


def test_run_without_no_tui_and_without_a_terminal_runs_headless(tmp_path):
    result = CliRunner().invoke(main, ["run", "--out", str(tmp_path), *TINY])
    assert result.exit_code == 0, result.output
    assert "not a terminal, so running headless" in result.stderr
    run_dir = next(tmp_path.iterdir())
    assert result.stdout.splitlines()[0] == str(run_dir)
    assert "teacher     1" in result.stdout  # the headless table's row for rung 1
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"


def test_watch_without_a_terminal_is_one_line_and_exit_2(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "events.jsonl").write_text('{"type": "log", "time": 1.0, "message": "a run started"}\n')
    (run_dir / "profile.toml").write_text("")
    result = CliRunner().invoke(main, ["watch", str(run_dir)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "needs a terminal" in result.stderr
    assert f"dsd-tui export {run_dir}" in result.stderr
