"""The suite's costly results, built once per test run (issue 28): one finished short run and one recorded
sweep, each trained by the first test that asks for it and then read by every other test, in this process
and in the other pytest-xdist workers.

conftest.py turns these into the session fixtures `finished_run`, `finished_run_output`, `recorded_sweep`
and their writable copies `finished_run_copy`, `recorded_sweep_copy`. The shared folders are read-only for
the tests: a test that resumes, deletes or corrupts takes a copy (`copy_shared`).
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

DONE = ".built"  # written last, beside the built folder: a build cut short is built again, never reused

# The recorded sweep: 2 noise levels × 2 seeds of a short ladder whose stop criteria fire (no smoothing,
# patience 1, zero tolerance): what `dsd-tui sweep --set ... --grid data.noise=0.2,0.4 --seeds 0,1` writes.
SWEEP_SETS = ("prune.rungs=4", "train.dense_epochs=3", "train.epochs=2", "stop.delta=0.0", "stop.smooth=1",
              "stop.patience=1")
SWEEP_GRID = ("data.noise=0.2,0.4",)
SWEEP_SEEDS = "0,1"


def shared_root(tmp_path_factory, name: str) -> Path:
    """Where the one copy of `name` lives: under xdist, in the folder all workers' temp folders share
    (`getbasetemp().parent`, one per test run); without it, in this run's own temp folder."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    return tmp_path_factory.getbasetemp() / f"shared-{name}"


def build_once(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """`build(folder)` once per test run (the documented pytest-xdist pattern: the first worker builds under a
    file lock, the others wait for it and reuse the folder); returns the folder."""
    root = shared_root(tmp_path_factory, name)
    done = root.parent / f"{root.name}{DONE}"
    with FileLock(str(root) + ".lock"):
        if not done.is_file():
            if root.exists():  # a build that failed in another worker: start over
                shutil.rmtree(root)
            root.mkdir(parents=True)
            build(root)
            done.write_text("")
    return root


def fingerprint(root: Path) -> list[tuple[str, int, int]]:
    """Every path under root with its size and modification time: what a test must leave as it found it."""
    out = []
    for p in sorted(root.rglob("*")):
        st = p.stat()
        out.append((str(p.relative_to(root)), st.st_size if p.is_file() else -1, st.st_mtime_ns))
    return out


def copy_shared(src: Path, dest_parent: Path) -> Path:
    """A writable copy of a shared run or sweep folder, `dest_parent/<same name>`, for a test that modifies it."""
    dest = Path(dest_parent) / Path(src).name
    shutil.copytree(src, dest)
    return dest


def build_finished_run(root: Path, overrides: tuple[str, ...]) -> None:
    """`dsd-tui run --no-tui --out root/runs --set ...` through the real CLI (in this process); its output
    (the headless table) is kept in root/output.txt, outside the run directory."""
    from click.testing import CliRunner

    from dsd_tui.cli import main
    sets = [a for o in overrides for a in ("--set", o)]
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(root / "runs"), *sets])
    assert result.exit_code == 0, result.output
    (root / "output.txt").write_text(result.output)


def finished_run_dir(root: Path) -> Path:
    return Path((root / "output.txt").read_text().splitlines()[0])


def printed(run_dir: Path) -> str:
    """What `run --no-tui` printed while building a shared run (kept beside its --out folder)."""
    return (Path(run_dir).parents[1] / "output.txt").read_text()


def shared_headless_run(tmp_path_factory, name: str, *overrides: str) -> Path:
    """A module's own finished run (settings its assertions depend on), built once per test run like the
    shared ones, not once in each xdist worker that runs one of its tests; `name` must be unique in the suite.
    Read-only, as the shared runs are."""
    return finished_run_dir(build_once(tmp_path_factory, name, lambda root: build_finished_run(root, overrides)))


def build_recorded_sweep(root: Path) -> None:
    """The sweep `dsd-tui sweep` writes, without Ray: the plan and its sweep.json from `prepare`, then each
    ladder through `run_ladder`, the function a Ray worker runs."""
    from dsd_tui.study import sweep as sweep_mod
    out = root / "sweep"
    plan = sweep_mod.plan_sweep(None, list(SWEEP_SETS), list(SWEEP_GRID), SWEEP_SEEDS, str(out))
    sweep_mod.prepare(*plan)
    for p in plan[4]:
        assert sweep_mod.run_ladder(str(out / p.name), p.profile, False)["status"] == "completed"
