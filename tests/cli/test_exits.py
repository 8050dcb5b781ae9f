"""One exit path: the exit-code table in exits.py is what the CLI returns for each class of error, and the
study commands reach it without importing cli.py (no import cycle)."""
from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from click.testing import CliRunner
from relhelp import env

from dsd_tui import exits
from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.errors import RunFailed

pytestmark = pytest.mark.usefixtures("keep_signal_handlers")


def test_importing_the_study_commands_does_not_import_the_cli():
    code = ("import sys, dsd_tui.cli_study\n"
            "print(sorted(m for m in sys.modules if m in ('dsd_tui.cli', 'dsd_tui.exits')))")
    done = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["['dsd_tui.exits']"]
    from dsd_tui import cli_study  # not even lazily, inside a function
    assert "dsd_tui.cli" not in inspect.getsource(cli_study)


def test_the_table():
    assert (exits.DONE, exits.FAILED, exits.USAGE, exits.INTERRUPTED) == (0, 1, 2, 130)
    assert {s: exits.status_code(s) for s in ("completed", "stopped", "failed", "interrupted", None)} == {
        "completed": 0, "stopped": 0, "failed": 1, "interrupted": 130, None: 1}
    assert exits.EPILOG == ("Exit codes: 0 done, 1 the run failed (or a download: missing file, no connection, cut "
                            "transfer, full disk), 2 bad usage/profile/input (or a checksum that does not match), "
                            "130 interrupted.")


def test_a_bad_profile_exits_with_the_usage_code():
    result = CliRunner().invoke(main, ["run", "--no-tui", "--set", "train.epochs=-1"])
    assert result.exit_code == exits.USAGE, (result.output, result.exception)
    assert result.stderr.startswith("dsd-tui: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_a_study_command_with_bad_input_exits_with_the_usage_code(tmp_path):
    result = CliRunner().invoke(main, ["aggregate", str(tmp_path)])
    assert result.exit_code == exits.USAGE, (result.output, result.exception)
    assert result.stderr.startswith("dsd-tui: ") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("raised, code, line", [
    (RunFailed("disk on fire"), exits.FAILED, "dsd-tui: the run failed: disk on fire"),
    (KeyboardInterrupt(), exits.INTERRUPTED, "dsd-tui: interrupted before the run started"),
], ids=["run-failed", "ctrl-c"])
def test_each_class_of_error_ends_with_its_code_and_one_line(raised, code, line, monkeypatch, tmp_path):
    def load(*_a, **_kw):
        raise raised
    monkeypatch.setattr(profile_mod, "load", load)
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path)])
    assert result.exit_code == code, (result.output, result.exception)
    assert result.stderr.splitlines() == [line]
    assert not any(tmp_path.iterdir())


def test_a_ctrl_c_in_a_command_without_its_own_message_is_130(monkeypatch, tmp_path):
    from dsd_tui.record import rundir

    def require(*_a, **_kw):
        raise KeyboardInterrupt
    monkeypatch.setattr(rundir, "require_run_dir", require)
    result = CliRunner().invoke(main, ["export", str(tmp_path)])
    assert result.exit_code == exits.INTERRUPTED, (result.output, result.exception)
    assert result.stderr.splitlines() == ["dsd-tui: interrupted"]
