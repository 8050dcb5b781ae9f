"""Helpers for the reliability tests: the shortened quickstart, the real CLI in a subprocess (or in this
process, for a finished run folder), and summary comparison without the timing fields."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1])

# The embedded quickstart, shortened to a few seconds: both phases, 4 rungs each.
QUICK = ["prune.rungs=3", "train.dense_epochs=6", "train.epochs=3", "model.hidden=[128, 128]"]
# wall clock, locations, and the machine's memory figures (record/memory.py): not the same between two runs
TIMING = {"seconds", "seconds_this_process", "started", "finished", "run_dir", "time", "path", "peak_rss_mb",
          "gpu_peak_mb"}


def sets(*overrides: str) -> list[str]:
    return [a for o in overrides for a in ("--set", o)]


def headless_run(out: Path, *overrides: str) -> Path:
    """`run --no-tui --out OUT --set ...` in this process, which must succeed; returns the run folder."""
    from click.testing import CliRunner

    from dsd_tui.cli import main
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(out), *sets(*overrides)])
    assert result.exit_code == 0, result.output
    return Path(result.output.splitlines()[0])


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = SRC + os.pathsep + e.get("PYTHONPATH", "")
    e["OMP_NUM_THREADS"] = "1"
    return e


def cli(*args: str, **kw) -> subprocess.Popen:
    """Start `python -m dsd_tui ARGS` (the real command) and return the process."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, "-m", "dsd_tui", *args], env=env(), **kw)


def cli_run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dsd_tui", *args], env=env(), capture_output=True, text=True,
                          timeout=timeout)


def run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in Path(out).iterdir() if p.is_dir()) if Path(out).is_dir() else []


def wait_for(predicate, timeout: float = 60.0, step: float = 0.02):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("condition not met in time")


def event_lines(run: Path) -> int:
    try:
        return (run / "events.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def metrics(summary: dict):
    """The summary without wall-clock fields: what must be identical between two runs."""
    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in TIMING}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    return strip(summary)


def load_summary(run: Path) -> dict:
    return json.loads((Path(run) / "summary.json").read_text())


def snapshot_tree(root: Path) -> dict:
    """{relative path: bytes} of every file under root (to show nothing was written or changed)."""
    root = Path(root)
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def one_line(result, code: int, *words: str) -> str:
    """A Click runner's result that is the CLI's one-line error: exit `code`, one `dsd-tui: ...` line on stderr
    holding every one of `words`, no traceback anywhere. Returns the line."""
    assert result.exit_code == code, (result.output, result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dsd-tui: "), result.stderr
    assert "Traceback" not in result.output + result.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def one_line_exit_2(result, *words: str) -> str:
    """`one_line` for bad input (exit 2)."""
    return one_line(result, 2, *words)
