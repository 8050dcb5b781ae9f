"""The docs scripts regenerate docs/results.md's tables from the saved quickstart summaries."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = sorted(str(p) for p in (ROOT / "docs" / "data").glob("quickstart-seed*.json"))


def script(name: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / name), *DATA], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_results_table_rebuilds_the_comparison_in_the_docs():
    assert len(DATA) == 3
    out = script("results_table.py")
    results = (ROOT / "docs" / "results.md").read_text()
    row = next(line for line in out.splitlines() if line.startswith("| teacher | entropy-gated |"))
    assert row in results  # the committed table is what the saved runs say
    assert "### Teacher per rung" in out and "### Student per rung" in out


def test_stop_sweep_replays_the_defaults_on_the_saved_runs():
    out = script("stop_sweep.py")
    line = next(x for x in out.splitlines() if x.startswith("teacher  entropy-gated   smooth=5"))
    assert "25/22/1.8 22/19/1.2 26/23/1.7" in line
