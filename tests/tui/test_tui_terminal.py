"""In a real terminal (a pty): after the monitor or `watch` closes, the end-of-run summary stays.

The monitor draws on the terminal's alternate screen, which is gone when it quits; what the
headless view prints at the end of a run (the verdicts, the stop-criteria table, the status) must
then be written to the normal screen, after the alternate screen is left.
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from tui_support import SHORT, recorded_copy, short_profile

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

LEAVE_ALT_SCREEN = b"\x1b[?1049l"


class Pty:
    """A command on a pseudo-terminal of `size` (columns, rows); everything it writes is kept."""

    def __init__(self, argv: list[str], cwd: Path, size=(100, 32), term: str = "xterm-256color", env=None):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = {**os.environ, **(env or {}), "TERM": term, "PYTHONPATH": str(Path(__file__).parents[2])}
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
                                     start_new_session=True)
        os.close(slave)
        self.out = b""

    def read(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the command ended and closed the terminal
                    return
                if not chunk:
                    return
                self.out += chunk

    def until(self, predicate, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if predicate():
                return True
            self.read(0.2)
        return predicate()

    def press(self, key: bytes) -> None:
        os.write(self.master, key)

    def finish(self, seconds: float = 30) -> int:
        """Wait up to `seconds` for the command to end, keep what it wrote last; kill it if it is still running.
        Returns its exit code (-9 when killed)."""
        end = time.monotonic() + seconds
        while self.proc.poll() is None and time.monotonic() < end:
            self.read(0.2)
        self.read(0.5)
        self.close()
        return self.proc.wait()

    def close(self) -> None:
        """Kill the command if it still runs and close the terminal (a failed assertion leaves no process)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def __enter__(self) -> "Pty":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def after_screen(self) -> str:
        """What the command wrote after it last left the alternate screen: what stays on the terminal."""
        assert LEAVE_ALT_SCREEN in self.out, self.out[-2000:]
        return self.out.rsplit(LEAVE_ALT_SCREEN, 1)[1].decode(errors="replace").replace("\r", "")


def test_watch_leaves_the_summary_of_a_finished_run_on_the_terminal(tmp_path):
    events = recorded_copy(tmp_path)
    (events.parent / "profile.toml").write_text(short_profile().to_toml())  # what makes it a run directory
    with Pty([sys.executable, "-m", "dsd_tui", "watch", str(events.parent)], tmp_path) as term:
        assert term.until(lambda: b"completed" in term.out, 180)
        term.read(1.0)
        term.press(b"q")
        assert term.finish() == 0
    left = term.after_screen()
    assert "-- teacher phase done: best validation rung 2, 5 rungs trained" in left
    assert f"-- quickstart: {events.parent}" in left  # the directory watched
    assert "-- stop criteria vs the ladder's best" in left and "early-stop" in left
    assert "run completed in" in left


def test_a_monitor_run_leaves_its_summary_on_the_terminal_after_q(tmp_path):
    argv = [sys.executable, "-m", "dsd_tui", "run", "--out", str(tmp_path / "runs")]
    for item in SHORT + ["prune.rungs=1", "model.hidden=[64,64]", "distill.enabled=false"]:
        argv += ["--set", item]
    summaries = lambda: list((tmp_path / "runs").glob("*/summary.json"))  # noqa: E731
    done = lambda: summaries() and json.loads(summaries()[0].read_text())["status"] == "completed"  # noqa: E731
    with Pty(argv, tmp_path) as term:
        assert term.until(done, 240), term.out[-3000:]
        term.read(1.5)
        term.press(b"q")
        assert term.finish() == 0
    left = term.after_screen()
    assert "-- teacher phase done: best validation rung" in left and "teacher verdict:" in left
    assert "-- stop criteria vs the ladder's best" in left and "run completed in" in left
