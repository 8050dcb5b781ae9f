"""Terminals as users have them (issue 26): TERM=dumb runs headless with a note, an ASCII locale neither
breaks reading the bundled TOML nor printing a "δ", the log re-wraps on resize, and a narrow terminal
stacks the panes instead of crushing them."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_tui_app import monitor_app
from test_tui_terminal import Pty
from tui_support import SHORT, recorded_clock, recorded_copy

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

ROOT = Path(__file__).parents[2]
# Both phases, 3 rungs each, of one epoch, on a narrow MLP and 200 samples: what the terminal shows is the
# point, not the training.
LADDER = SHORT[:1] + ["train.dense_epochs=1", "train.epochs=1", "model.hidden=[64, 64]", "data.train_size=200",
                      "data.val_size=50"]
C_LOCALE = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "",
            "PYTHONPATH": str(ROOT)}


def dsd_tui(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dsd_tui", *args], cwd=cwd, env=C_LOCALE, capture_output=True,
                          timeout=600)


def test_an_ascii_locale_lists_the_profiles_and_runs_a_ladder(tmp_path):
    listed = dsd_tui("profiles", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr.decode()
    assert b"Traceback" not in listed.stderr and b"cifar10-vgg-noise10" in listed.stdout
    assert "δ".encode() not in listed.stdout and b"VGG-like (?=5" in listed.stdout  # degraded, not failed
    sets = [f"--set={s}" for s in LADDER]
    ran = dsd_tui("run", "--no-tui", "--out", str(tmp_path), *sets, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr.decode()
    assert b"run completed in" in ran.stdout
    run_dir = Path(ran.stdout.decode("ascii").splitlines()[0])
    assert "DSD²" in (run_dir / "profile.toml").read_text(encoding="utf-8")  # files stay UTF-8
    assert json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["status"] == "completed"


def test_term_dumb_runs_headless_with_a_one_line_note(tmp_path):
    sets = [f"--set={s}" for s in LADDER]
    with Pty([sys.executable, "-m", "dsd_tui", "run", "--out", str(tmp_path), *sets], tmp_path, term="dumb") as pty:
        assert pty.until(lambda: pty.proc.poll() is not None, 300)
        pty.read(1)
    out = pty.out.decode("utf-8", "replace")
    assert pty.proc.returncode == 0, out
    assert "TERM=dumb cannot draw the full-screen monitor, so running headless as with --no-tui" in out
    assert "\x1b[?1049h" not in out  # never entered the alternate screen
    assert "run completed in" in out


def test_the_monitor_runs_in_an_ascii_locale_and_degrades_what_it_cannot_show(tmp_path):
    sets = [f"--set={s}" for s in LADDER]
    locale = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    with Pty([sys.executable, "-m", "dsd_tui", "run", "--out", str(tmp_path), *sets], tmp_path, env=locale) as pty:
        assert pty.until(lambda: b"trained 6/6 rungs" in pty.out and b"completed" in pty.out, 300), pty.out[-2000:]
        pty.press(b"q")
        assert pty.until(lambda: pty.proc.poll() is not None, 60)
        pty.read(1)
    out = pty.out.decode("ascii", "replace")
    assert pty.proc.returncode == 0 and "Traceback" not in out, out[-2000:]
    assert "entropy 0?" in out or "H 0?" in out  # the en dash of the scale, degraded to "?"
    assert "run completed in" in out  # the end report, after the screen is gone


def test_the_log_rewraps_on_resize_and_a_narrow_terminal_stacks_the_panes(tmp_path):
    app, _mon = monitor_app(events_path=recorded_copy(tmp_path), clock=recorded_clock())

    async def main():
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.pause(0.3)
            log = app.query_one("#log")
            longest = max(len(line) for line in log.lines_written)
            wide = max(len(strip.text.rstrip()) for strip in log.lines)
            await pilot.resize_terminal(60, 30)
            await pilot.pause(0.3)
            assert app.screen.has_class("-narrow")
            table, side = app.query_one("#table"), app.query_one("#side")
            assert table.size.width >= 40 and side.size.width >= 40  # stacked: each pane has the width
            narrow = max(len(strip.text.rstrip()) for strip in log.lines)
            assert narrow <= log.scrollable_content_region.width < wide <= longest
            await pilot.resize_terminal(200, 50)
            await pilot.pause(0.3)
            assert not app.screen.has_class("-narrow")
            assert max(len(strip.text.rstrip()) for strip in log.lines) == wide  # wrapped again to the width
    asyncio.run(main())
