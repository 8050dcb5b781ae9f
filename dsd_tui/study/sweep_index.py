"""A sweep directory's index (`sweep.json`) and the runs behind a path given on the command line.

SWEEP_DIR/
  sweep.json     {"schema": "dsd_tui.sweep/1", "name", "identity", "profile", "grid", "seeds",
                  "ladders": [{"name", "settings", "seed", "status", "error", "seconds", "attempts"}],
                  "study" (a sweep made from a study file): {"name", "description", "plot"}}
  profile.toml   the base profile (before the grid and the seed are applied)
  <ladder name>/ an ordinary run directory per ladder
sweep.json is rewritten atomically whenever a ladder's status changes. A ladder's own
events.jsonl stays the truth about it; sweep.json is the list of what was planned.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from dsd_tui.errors import UsageError
from dsd_tui.paths import MAX_RECORD_BYTES, read_bounded
from dsd_tui.record import events as ev
from dsd_tui.record.rundir import (
    EVENTS,
    atomic_write_text,
    fold_events,
    is_run_dir,
    read_events,
    rebuild_summary,
    writer_alive,
)
from dsd_tui.study.grid import LadderPlan, setting_key, value_text

SWEEP = "sweep.json"
SCHEMA = "dsd_tui.sweep/1"
FINISHED = ev.FINISHED  # completed | stopped: ran to its end


def is_sweep_dir(path: Path) -> bool:
    return (Path(path) / SWEEP).is_file()


def read_index(path: Path) -> dict:
    path = Path(path)
    try:
        index = json.loads(read_bounded(path / SWEEP, "sweep index", MAX_RECORD_BYTES))  # not a FIFO, not huge
    except FileNotFoundError:
        raise UsageError(f"{path}: not a sweep directory (no {SWEEP}); give the folder `dsd-tui sweep` printed "
                         f"first") from None
    except (OSError, ValueError, RecursionError) as e:  # RecursionError: JSON nested thousands deep
        raise UsageError(f"{path / SWEEP}: unreadable ({e.__class__.__name__}); it is written atomically, so "
                         f"something else changed it") from None
    if not isinstance(index, dict) or index.get("schema") != SCHEMA:
        raise UsageError(f"{path / SWEEP}: not a {SCHEMA} index")
    problem = index_problem(index)
    if problem:
        raise UsageError(f"{path / SWEEP}: {problem}; it is written atomically by `dsd-tui sweep`, so something else "
                         f"changed it: restore it, or run the sweep command again in a new --out folder")
    return index


def index_problem(index: dict) -> str | None:
    """What makes a sweep.json with the right schema unusable (fields missing or of the wrong type), or None."""
    for key, kind in (("ladders", list), ("seeds", list), ("grid", dict)):
        if not isinstance(index.get(key), kind):
            return f"{key!r} is missing or not a {kind.__name__}"
    for i, lad in enumerate(index["ladders"]):
        if not isinstance(lad, dict):
            return f"ladder {i} is not an object"
        name = lad.get("name")
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
            return f"ladder {i} has no usable name (a folder inside the sweep)"
        if not isinstance(lad.get("settings"), dict) or not isinstance(lad.get("status"), str):
            return f"ladder {name!r} lacks its settings or status"
        if not isinstance(lad.get("seed"), int) or isinstance(lad.get("seed"), bool):
            return f"ladder {name!r} has no integer seed"
    return None


def write_index(path: Path, index: dict) -> None:
    index["updated"] = time.time()
    atomic_write_text(Path(path) / SWEEP, json.dumps(index, indent=2) + "\n")


def new_index(name: str, ident: str, base_profile: dict, grid: dict) -> dict:
    return {"schema": SCHEMA, "name": name, "identity": ident, "created": time.time(), "profile": base_profile,
            "grid": grid, "seeds": [], "ladders": []}


def add_plans(index: dict, plans: list[LadderPlan]) -> None:
    """Add the ladders the index does not hold yet (a re-run with more seeds extends the sweep)."""
    known = {lad["name"] for lad in index["ladders"]}
    for plan in plans:
        if plan.name not in known:
            index["ladders"].append({"name": plan.name, "settings": plan.settings, "seed": plan.seed,
                                     "status": "pending", "error": None, "seconds": None, "attempts": 0})
        if plan.seed not in index["seeds"]:
            index["seeds"].append(plan.seed)


def ladder_entry(index: dict, name: str) -> dict:
    return next(lad for lad in index["ladders"] if lad["name"] == name)


# ---------------------------------------------------------------- runs behind paths

@dataclass
class RunRef:
    """One run directory and what it is in a study: its settings (grid values) and seed."""

    path: Path
    summary: dict
    settings: dict = field(default_factory=dict)
    seed: int | None = None
    sweep: str = ""  # the sweep directory it belongs to ("" for a run given on its own)

    @property
    def status(self) -> str:
        return self.summary.get("status", "?")


@dataclass
class Group:
    """Runs that differ only by seed: the unit of mean ± std."""

    label: str
    settings: dict
    runs: list[RunRef]


def load_run(path: Path, settings: dict | None = None, sweep: str = "", events: list | None = None) -> RunRef:
    """A run directory as a RunRef (its log folded: `events` when already read); an empty log that no process
    holds is refused (`rundir.read_run_events`)."""
    summary = (fold_events(events) if events is not None else rebuild_summary(path)).summary()
    seed = summary.get("profile", {}).get("run", {}).get("seed")
    return RunRef(Path(path), summary, dict(settings or {}), seed, sweep)


def sweep_runs(path: Path) -> list[RunRef]:
    """The ladders of a sweep that have a run directory (planned but never started ones are left out, and so
    is one killed before its first event, whose log is empty: the sweep restarts it when run again)."""
    index = read_index(path)
    out = []
    for lad in index["ladders"]:
        run = Path(path) / lad["name"]
        if is_run_dir(run):
            events = read_events(run / EVENTS)
            if events or writer_alive(run):
                out.append(load_run(run, lad["settings"], str(path), events))
    return out


def collect(paths) -> list[RunRef]:
    """Run directories and sweep directories, in the order given, as RunRefs."""
    if not paths:
        raise UsageError("no runs given; pass run directories or sweep directories")
    runs = []
    for p in map(Path, paths):
        if is_sweep_dir(p):
            found = sweep_runs(p)
            if not found:
                raise UsageError(f"{p}: this sweep has no ladder with a run directory yet")
            runs += found
        elif is_run_dir(p):
            runs.append(load_run(p))
        else:
            raise UsageError(f"{p}: neither a run directory (events.jsonl + profile.toml) nor a sweep directory "
                             f"({SWEEP}); give folders printed by `dsd-tui run` or `dsd-tui sweep`")
    return runs


def group(runs: list[RunRef]) -> list[Group]:
    """Ladders of one sweep with equal settings form a group; a plain run is a group of its own."""
    groups: dict[tuple, Group] = {}
    counted: dict[tuple, set] = {}
    for r in runs:
        key = (os.path.realpath(r.sweep), setting_key(r.settings)) if r.sweep else (os.path.realpath(r.path), "")
        if key not in groups:
            groups[key] = Group(label_for(r), r.settings, [])
            counted[key] = set()
        # a run counts once in its group however often it is named (`compare RUN RUN`, `SWEEP SWEEP`, a symlink):
        # counted twice it made n = 2 and a std of 0 out of one ladder. A sweep's ladder named on its own is
        # still its own curve beside the sweep's (another group).
        if os.path.realpath(r.path) not in counted[key]:
            counted[key].add(os.path.realpath(r.path))
            groups[key].runs.append(r)
    labels = [g.label for g in groups.values()]
    for g in groups.values():  # two sweeps with the same grid: keep their labels apart
        if labels.count(g.label) > 1:
            g.label = f"{Path(g.runs[0].sweep or g.runs[0].path).name}: {g.label}"
    return list(groups.values())


def label_for(run: RunRef) -> str:
    if not run.sweep:
        return run.path.name
    if not run.settings:
        return Path(run.sweep).name
    return " ".join(f"{k.split('.')[-1]}={value_text(v)}" for k, v in run.settings.items())
