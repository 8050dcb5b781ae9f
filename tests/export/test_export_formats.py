"""`dsd-tui export --format` comes from the EXPORT_FORMATS registry: its choices, help and completion are the
registry's names (read when Click needs them), the command calls the chosen format's `write`, and importing
the CLI imports no format (nor torch or tensorboard)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from relhelp import SRC

from dsd_tui.cli import main
from dsd_tui.export.formats import EXPORT_FORMATS, ExportFormat
from dsd_tui.registry import PYTHON


@pytest.fixture
def run(finished_run):
    return finished_run  # any finished run: the shared one (conftest.py)


def test_help_and_completion_list_the_registrys_formats():
    names = EXPORT_FORMATS.names()
    assert names == ["csv", "json", "layers-csv", "model", "onnx", "tensorboard", "wandb"]
    assert "[" + "|".join(names) + "]" in CliRunner().invoke(main, ["export", "--help"]).output
    env = {"_DSD_TUI_COMPLETE": "bash_complete", "COMP_WORDS": "dsd-tui export x --format ", "COMP_CWORD": "4"}
    result = CliRunner().invoke(main, [], env=env, prog_name="dsd-tui")
    assert result.stdout.splitlines() == [f"plain,{n}" for n in names]


def test_importing_the_cli_imports_no_format_nor_torch():
    code = ("import sys, dsd_tui.cli; print(sorted(m for m in sys.modules if m == 'torch' or m.startswith("
            "('dsd_tui.export', 'tensorboard'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": SRC}, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_registered_format_is_a_choice_and_the_command_dispatches_to_it(run, tmp_path):
    def write(run_dir, events, output):
        (tmp_path / "got.json").write_text(json.dumps({"run": str(run_dir), "events": len(events), "o": output}))

    EXPORT_FORMATS.register("test-count", ExportFormat(write, "events counted"), origin=PYTHON)
    try:
        result = CliRunner().invoke(main, ["export", str(run), "--format", "test-count", "-o", "X"])
        assert result.exit_code == 0, result.output
        got = json.loads((tmp_path / "got.json").read_text())
        assert got["run"] == str(run) and got["events"] > 5 and got["o"] == "X"
    finally:
        EXPORT_FORMATS.unregister("test-count")
    refused = CliRunner().invoke(main, ["export", str(run), "--format", "test-count"])
    assert refused.exit_code == 2 and "'test-count' is not one of 'csv', 'json'" in refused.output


@pytest.mark.parametrize("fmt, first", [("json", "{"), ("csv", "phase,rung,"), ("layers-csv", "phase,rung,")])
def test_each_text_format_prints_or_writes_the_same_text(run, tmp_path, fmt, first):
    printed = CliRunner().invoke(main, ["export", str(run), "--format", fmt])
    assert printed.exit_code == 0 and printed.output.startswith(first)
    target = tmp_path / f"out.{fmt}"
    written = CliRunner().invoke(main, ["export", str(run), "--format", fmt, "-o", str(target)])
    assert written.exit_code == 0 and target.read_text() == printed.output
