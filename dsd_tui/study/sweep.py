"""`dsd-tui sweep`: the ladders of a sweep as Ray tasks, one run directory each.

The driver (this process) plans the ladders, decides for each whether it is finished (skip), has
resume state (resume) or must start, submits one Ray task per ladder and records every outcome in
sweep.json as it arrives. A task never raises: a ladder that fails comes back as a result, is
reported, and the other ladders go on. Each task asks for one GPU (or `gpus_per_task`, from
`--gpus-per-ladder`: a fraction packs several small ladders on one GPU) where the cluster has GPUs,
one CPU otherwise; before submitting, the driver prints the plan (`resource_plan.py`): how many
ladders run at once, on which nodes and GPUs.

Ladders write their run directories themselves, so on a multi-node cluster the sweep directory
must be on a filesystem every node mounts (docs/scaling.md).
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from dsd_tui import signals
from dsd_tui.errors import UsageError
from dsd_tui.record.rundir import (
    EVENTS,
    FOLDERS,
    PROFILE,
    atomic_write_text,
    fold_events,
    is_own_temp,
    is_run_dir,
    read_events,
    rebuild_summary,
    writer_alive,
)
from dsd_tui.study import resource_plan, sweep_table
from dsd_tui.study import sweep_index as idx
from dsd_tui.study.grid import LadderPlan
from dsd_tui.study.sweep_lock import LOCK, SweepLock


@dataclass(frozen=True)
class SweepOptions:
    address: str | None = None  # join this Ray cluster; None starts a local one
    gpus_per_task: float | None = None  # None: 1 where the cluster has GPUs, else 0
    cpus_per_task: float = 1.0
    num_cpus: int | None = None  # local cluster only: CPUs it may use (None: all)
    table_every: float = 60.0  # seconds between status tables (0: only at the end)


@dataclass
class SweepResult:
    counts: dict  # status -> number of ladders
    failed: list  # names of ladders that failed

    @property
    def ok(self) -> bool:
        return not self.failed


# ---------------------------------------------------------------- one ladder (runs in a Ray worker)

def run_ladder(run_dir: str, profile, resume: bool) -> dict:
    """Run (or resume) one ladder to its end. Returns {"status", "error", "seconds", "host"}; never raises."""
    from dsd_tui.runner import RunSession
    t0 = time.time()
    host = socket.gethostname()
    path = Path(run_dir)
    error = None
    try:
        if not path.parent.is_dir():
            raise UsageError(f"the sweep directory {path.parent} is not visible on {host}; put it on a "
                             f"filesystem every node mounts")
        session = RunSession.resume_from(str(path)) if resume else RunSession.at(path, profile)
        status = session.run()
        error = session.error
    except UsageError as e:
        status, error = "failed", str(e)
    except Exception as e:  # noqa: BLE001 - one ladder's bug must not end the sweep
        status, error = "failed", f"{e.__class__.__name__}: {e}"
    return {"status": status, "error": error, "seconds": time.time() - t0, "host": host}


def next_step(path: Path) -> str:
    """start (no run yet) | skip (finished) | resume | restart (a ladder killed before its first event: an empty
    log and nothing else of its own, so its folder is cleared and the ladder starts again) | busy (a process
    still holds its log: left alone).

    Every ladder with an event is resumed, so `resume`'s own rules decide (record/resume_check.py): one killed in
    its first epoch starts over in place, one with finished rungs but no resume state is refused (the ladder
    fails with resume's line) and nothing in it is deleted."""
    if not is_run_dir(path):
        return "start"
    # read_events, not rebuild_summary: a ladder killed before its first event (an empty log) restarts
    events = read_events(path / EVENTS)
    if fold_events(events).status in idx.FINISHED:
        return "skip"
    if writer_alive(path):
        return "busy"
    if events:
        return "resume"
    return "restart" if only_own_files(path) else "resume"


# What a ladder killed before its first event can hold: its profile, its empty log, its two empty folders, and
# the temporary files of its own atomic writes (rundir.OWN_TEMP).
_FRESH_FILES = (PROFILE, EVENTS)


def only_own_files(path: Path) -> bool:
    """Does the ladder folder hold nothing but what a run writes before its first event?"""
    for entry in path.iterdir():
        if entry.name in _FRESH_FILES and entry.is_file() and not entry.is_symlink():
            continue
        if entry.name in FOLDERS and entry.is_dir() and not entry.is_symlink():
            if all(is_own_temp(sub.name) for sub in entry.iterdir()):
                continue
            return False
        if is_own_temp(entry.name):
            continue
        return False
    return True


def clear_fresh_ladder(path: Path) -> None:
    """Remove exactly the files `only_own_files` allowed, then the folder; anything else is left in place."""
    for sub in FOLDERS:
        folder = path / sub
        if folder.is_dir():
            for entry in folder.iterdir():
                if is_own_temp(entry.name):
                    entry.unlink(missing_ok=True)
            folder.rmdir()
    for entry in path.iterdir():
        if entry.name in _FRESH_FILES or is_own_temp(entry.name):
            entry.unlink(missing_ok=True)
    path.rmdir()


# ---------------------------------------------------------------- Ray

def import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError("ray is not installed; install it with: pip install 'dsd-tui[ray]'") from None
    return ray


def connect(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Join the cluster at `address`, or start a local one. Returns True if this call started Ray."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address:
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            first = str(e).strip().splitlines()[0][:120] if str(e).strip() else e.__class__.__name__
            raise UsageError(f"--address {address}: cannot join the Ray cluster ({first}); start it with "
                             f"`ray start --head` or check the address") from None
        return True
    _workers_find_this_package()
    # address="local": always a fresh private instance, even where RAY_ADDRESS or a `ray start` cluster exists
    ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=False)
    return True


def _workers_find_this_package() -> None:
    """Local workers inherit our environment: make sure they import this dsd_tui (a source tree too)."""
    root = str(Path(__file__).resolve().parents[2])
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([root] + parts)


def check_address(address: str | None, seconds: float = 5.0) -> None:
    """A quick TCP check of HOST:PORT, so a wrong --address is one line now, not Ray retrying for minutes."""
    if not address or address == "auto":
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address {address}: expected HOST:PORT (e.g. 10.0.0.1:6379) or auto")
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as e:
        raise UsageError(f"--address {address}: nothing answers there ({e.strerror or e}); start the cluster with "
                         f"`ray start --head` or check the address") from None


def task_options(cpus: float, gpus: float) -> dict:
    """Ray's options for one ladder task, given to `ray.remote(**options)` (Ray refuses `max_calls` in
    `.options()`).

    - GPU ladders get a fresh worker process each (`max_calls=1`, also Ray's default for GPU tasks declared
      this way; it was lost while the resources came through `.options()`): a reused worker keeps the GPU
      it first initialised (a later ladder could train on the previous ladder's GPU) and carries over the
      allocator, cuDNN and compile caches.
    - CPU ladders see no GPU (`CUDA_VISIBLE_DEVICES=""`): with zero GPUs per task Ray no longer hides them,
      so `run.device = "auto"` ladders would all train on cuda:0, outside Ray's scheduling.
    """
    if gpus > 0:
        return {"num_cpus": cpus, "num_gpus": gpus, "max_retries": 0, "max_calls": 1}
    return {"num_cpus": cpus, "num_gpus": 0, "max_retries": 0,
            "runtime_env": {"env_vars": {"CUDA_VISIBLE_DEVICES": ""}}}


def task_resources(ray, opts: SweepOptions, ladders: int = 0):
    """(cpus, gpus, plan): per task one GPU where the cluster has GPUs, else none, unless
    `--gpus-per-ladder` says otherwise; and the plan of what runs at once."""
    gpus = resource_plan.gpus_per_ladder(opts.gpus_per_task, float(ray.cluster_resources().get("GPU", 0.0)))
    return opts.cpus_per_task, gpus, resource_plan.plan(resource_plan.cluster_nodes(ray), ladders,
                                                        opts.cpus_per_task, gpus)


# ---------------------------------------------------------------- the driver

def prepare(sweep_dir: Path, base, grid: dict, ident: str, plans: list[LadderPlan], study: dict | None = None) -> dict:
    """Create or reopen the sweep directory; the index then lists every planned ladder."""
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {sweep_dir}: cannot create the sweep directory ({e.strerror})") from None
    if idx.is_sweep_dir(sweep_dir):
        index = idx.read_index(sweep_dir)
        if index.get("identity") != ident:
            raise UsageError(f"--out {sweep_dir}: holds another sweep (other profile or grid); choose a new "
                             f"folder, or leave --out out to get one named from the settings")
    else:
        if any(p.name != LOCK for p in sweep_dir.iterdir()):
            raise UsageError(f"--out {sweep_dir}: the folder is not empty and holds no sweep; choose a new folder")
        index = idx.new_index(base.run.name, ident, base.to_dict(), grid)
        atomic_write_text(sweep_dir / PROFILE, base.to_toml())
    if study is not None:
        index["study"] = study  # what `dsd-tui plot` draws for it (study_file.Study.as_index_entry)
    idx.add_plans(index, plans)
    idx.write_index(sweep_dir, index)
    return index


def run_sweep(sweep_dir: Path, base, grid: dict, ident: str, plans: list[LadderPlan],
              opts: SweepOptions = SweepOptions(), out: TextIO | None = None, study: dict | None = None) -> SweepResult:
    out = out or sys.stdout
    sweep_dir = Path(sweep_dir)
    import_ray()  # the two checks that need no cluster come before anything is written
    check_address(opts.address)
    resource_plan.check_request(opts.gpus_per_task)
    refuse_foreign_folder(sweep_dir)  # before the lock file is made in it
    with SweepLock(_made(sweep_dir)), signals.sweep_stops():  # one driver per folder; SIGINT/SIGTERM stop it
        return _run_locked(sweep_dir, base, grid, ident, plans, opts, out, study)


def _made(sweep_dir: Path) -> Path:
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {sweep_dir}: cannot create the sweep directory ({e.strerror})") from None
    return sweep_dir


def refuse_foreign_folder(sweep_dir: Path) -> None:
    if sweep_dir.is_dir() and not idx.is_sweep_dir(sweep_dir) and any(p.name != LOCK for p in sweep_dir.iterdir()):
        raise UsageError(f"--out {sweep_dir}: the folder is not empty and holds no sweep; choose a new folder")


def _run_locked(sweep_dir, base, grid, ident, plans, opts, out, study) -> SweepResult:
    index = prepare(sweep_dir, base, grid, ident, plans, study)
    steps = {plan.name: next_step(sweep_dir / plan.name) for plan in plans}
    for plan in plans:
        entry = idx.ladder_entry(index, plan.name)
        if steps[plan.name] == "skip":
            entry["status"] = rebuild_summary(sweep_dir / plan.name).status
        elif steps[plan.name] == "busy":
            entry.update(status="failed", error=f"{sweep_dir / plan.name}: in use by another dsd-tui process; "
                                                 f"left as it is")
    todo = [plan for plan in plans if steps[plan.name] not in ("skip", "busy")]
    skipped = sum(step == "skip" for step in steps.values())
    busy = sum(step == "busy" for step in steps.values())
    _say(out, f"sweep {sweep_dir.name}: {len(plans)} ladders ({skipped} already finished, "
              f"{sum(steps[p.name] == 'resume' for p in todo)} to resume, "
              f"{sum(steps[p.name] != 'resume' for p in todo)} to start"
              + (f", {busy} in use by another process, left alone)" if busy else ")"))
    idx.write_index(sweep_dir, index)
    if todo:
        try:
            _dispatch(sweep_dir, index, todo, steps, opts, out)
        except KeyboardInterrupt:  # SIGINT/SIGTERM (signals.sweep_stops): every unfinished ladder is resumable
            for lad in index["ladders"]:
                if lad["status"] in ("running", "pending") and lad["name"] in {p.name for p in todo}:
                    lad["status"] = "interrupted"
            idx.write_index(sweep_dir, index)
            raise
    _say(out, sweep_table.table(sweep_dir, index))
    return _result(index, plans)


def _dispatch(sweep_dir, index, todo, steps, opts, out) -> None:
    ray = import_ray()
    started = connect(opts.address, opts.num_cpus)
    stops = signals.sweep_stops()  # again after ray.init, which installs its own SIGTERM handler (an abort)
    stops.__enter__()
    try:
        cpus, gpus, the_plan = task_resources(ray, opts, len(todo))
        _say(out, f"ray: {ray.cluster_resources().get('CPU', 0):g} CPUs, {ray.cluster_resources().get('GPU', 0):g} "
                  f"GPUs; {cpus:g} CPU and {gpus:g} GPU per ladder")
        for line in the_plan.lines():
            _say(out, line)
        task = ray.remote(**task_options(cpus, gpus))(run_ladder)
        pending = {}
        try:
            for plan in todo:
                path = sweep_dir / plan.name
                if steps[plan.name] == "restart":
                    clear_fresh_ladder(path)  # killed before its first event: only its own empty files go
                entry = idx.ladder_entry(index, plan.name)
                entry.update(status="running", error=None, attempts=entry.get("attempts", 0) + 1)
                pending[task.remote(str(path), plan.profile, steps[plan.name] == "resume")] = plan
            idx.write_index(sweep_dir, index)
            _collect(ray, sweep_dir, index, pending, opts, out)
        except KeyboardInterrupt:  # also while submitting: a joined cluster would otherwise run them on
            for ref, plan in pending.items():
                ray.cancel(ref, force=True)
                idx.ladder_entry(index, plan.name)["status"] = "interrupted"
            idx.write_index(sweep_dir, index)
            raise
    finally:
        stops.__exit__(None, None, None)
        if started:
            ray.shutdown()


def _collect(ray, sweep_dir, index, pending: dict, opts, out) -> None:
    total = len(pending)
    done = 0
    last_table = time.time()
    while pending:  # a SIGINT/SIGTERM here: `_dispatch` cancels what is still in `pending`
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        for ref in ready:
            plan = pending.pop(ref)
            result = _get(ray, ref)
            entry = idx.ladder_entry(index, plan.name)
            entry.update(status=result["status"], error=result["error"], seconds=result["seconds"],
                         host=result.get("host"))
            idx.write_index(sweep_dir, index)
            done += 1
            _say(out, f"[{done}/{total}] " + sweep_table.finished_line(sweep_dir, entry))
        if opts.table_every and pending and time.time() - last_table >= opts.table_every:
            _say(out, sweep_table.table(sweep_dir, index))
            last_table = time.time()


def _get(ray, ref) -> dict:
    try:
        return ray.get(ref)
    except Exception as e:  # noqa: BLE001 - the worker died (OOM kill, node lost): this ladder failed
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        return {"status": "failed", "error": f"{e.__class__.__name__}: {first}", "seconds": None}


def _result(index: dict, plans: list[LadderPlan]) -> SweepResult:
    names = {p.name for p in plans}
    counts: dict = {}
    failed = []
    for lad in index["ladders"]:
        if lad["name"] in names:
            counts[lad["status"]] = counts.get(lad["status"], 0) + 1
            if lad["status"] not in idx.FINISHED:
                failed.append(lad["name"])
    return SweepResult(counts, failed)


def _say(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()


def plan_sweep(profile_spec: str | None, overrides, grid_items, seeds_text: str | None, out: str | None):
    """From command-line words to (sweep_dir, base, grid, identity, plans); every problem is a UsageError."""
    from dsd_tui import profile as profile_mod
    from dsd_tui.study import grid as grid_mod
    base = profile_mod.load(profile_spec, overrides)
    grid = grid_mod.parse_grid(grid_items)
    seeds = grid_mod.parse_seeds(seeds_text, base.run.seed)
    ident = grid_mod.identity(base, grid)
    plans = grid_mod.expand(base.to_dict(), f"{profile_spec or 'quickstart'}", grid, seeds)
    refuse_python_names(plans)
    sweep_dir = Path(out) if out else Path(base.run.out) / f"sweep-{base.run.name}-{ident}"
    return sweep_dir, base, grid, ident, plans


def refuse_python_names(plans: list[LadderPlan]) -> None:
    """A model, data set or criterion registered from Python (dsd_tui.register_model ...) exists only in this
    process; the ladders run in Ray workers, other processes, where the name is unknown: say so now."""
    from dsd_tui.core.archs import ARCHITECTURES
    from dsd_tui.core.criteria import CRITERIA
    from dsd_tui.core.datasets import DATASETS
    from dsd_tui.registry import PYTHON
    for plan in plans:
        p = plan.profile
        for key, reg, name in (("model.arch", ARCHITECTURES, p.model.arch), ("distill.arch", ARCHITECTURES,
                               p.distill.arch), ("data.dataset", DATASETS, p.data.dataset),
                               ("prune.criterion", CRITERIA, p.prune.criterion)):
            if name and name in reg and reg.origin(name).kind == PYTHON.kind:
                raise UsageError(f"{key} = {name!r}: registered from Python in this process only; a sweep runs its "
                                 f"ladders in other processes (Ray workers), which cannot see it: ship it as a plugin "
                                 f"with an entry point (docs/plugins.md), or run the ladders with dsd_tui.run()")

