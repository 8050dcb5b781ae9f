"""The Python API: run a ladder or read a run's summary from a notebook or a script.

`dsd_tui.run()` is `dsd-tui run --no-tui` without the command line: the same profile loading and
validation, the same run directory and events, and the summary dict as its result. It leaves the
calling process as it found it: torch's thread count is set to `run.threads` only for the run's
duration (and not at all when `run.threads = 0`), and Ctrl-C stops the run resumably, as on the
command line, only while it runs. `dsd_tui.load_summary()` folds a run directory's events.jsonl, so
it also reads runs that are still going, were interrupted or failed.
"""
from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Callable, Iterable

__all__ = ["run", "resume", "load_summary", "register_model", "register_dataset", "register_criterion"]


def run(profile=None, overrides: Iterable[str] = (), out: str | Path | None = None, *, progress: bool = False,
        on_event: Callable | None = None) -> dict:
    """Run a DSD² ladder and return its summary (the dict `summary.json` holds).

    profile: a bundled profile name, a path to a .toml file, a `dsd_tui.profile.Profile`, or None (the
      embedded quickstart). overrides: `"section.key=value"` strings, as `--set` takes them.
    out: the parent folder of the new run directory (default: the profile's `run.out`); the run
      directory itself is `summary["run_dir"]`.
    progress: print the headless view (one line per rung) to stdout. on_event: called with every
      event (a `dsd_tui.record.events.Event`) as it happens, from the calling thread.

    Raises `dsd_tui.UsageError` for a bad profile, override or input (nothing is written) and
    `dsd_tui.RunFailed` when the run failed (its run directory records why). A run stopped by
    Ctrl-C returns its summary with status "interrupted"; `dsd-tui resume RUN_DIR` continues it.
    """
    from dsd_tui import profile as profile_mod
    from dsd_tui.errors import RunFailed
    from dsd_tui.runner import RunSession

    overrides = _check_args("run", profile=profile, overrides=overrides, out=out, progress=progress,
                            on_event=on_event)
    with _one_run("run"):
        prof = profile if isinstance(profile, profile_mod.Profile) else None
        if prof is None:
            prof = profile_mod.load(None if profile is None else str(profile), overrides)
        elif overrides:
            prof = profile_mod.apply_overrides(prof.to_dict(), overrides, "the given profile")
        from dsd_tui.core.ladder import pick_device
        pick_device(prof.run.device)
        session = RunSession.new(prof, None if out is None else str(out), sinks=_sinks(progress, on_event))
        status = _run_session(session)
    if status == "failed":
        raise RunFailed(f"{session.path}: the run failed: {session.error}")
    return load_summary(session.path)


def resume(run_dir: str | Path, *, progress: bool = False, on_event: Callable | None = None) -> dict:
    """Continue an interrupted run (`dsd-tui resume RUN_DIR --no-tui` without the command line) and return
    its summary. The way to resume a run whose model, dataset or criterion was registered from Python:
    register them again in this process first. Raises as `run` does."""
    from dsd_tui.errors import RunFailed
    from dsd_tui.runner import RunSession

    _check_args("resume", run_dir=run_dir, progress=progress, on_event=on_event)
    with _one_run("resume"):
        session = RunSession.resume_from(str(run_dir), sinks=_sinks(progress, on_event))
        _run_session(session)
    if session.status == "failed":
        raise RunFailed(f"{session.path}: the run failed: {session.error}")
    return load_summary(session.path)


def register_model(name: str, factory: Callable) -> None:
    """Make `model.arch = name` build `factory(num_classes, input_shape) -> torch.nn.Module` in this process.

    Its prunable layers are its Linear/Conv weights, the output layer the last of them in module order, and
    the entropy hooks attach to its `nn.ReLU` modules (docs/plugins.md). A bundled name cannot be taken."""
    from dsd_tui.core.archs import ARCHITECTURES
    from dsd_tui.registry import PYTHON
    ARCHITECTURES.register(name, _callable(factory, "register_model"), origin=PYTHON)


def register_dataset(name: str, loader: Callable) -> None:
    """Make `data.dataset = name` load `loader(path, seed) -> {"train": (x, y), "test": (x, y), "num_classes":
    n}` in this process (float x already normalised, int64 labels); dsd_tui carves the validation split and
    adds the label noise (docs/plugins.md)."""
    from dsd_tui.core.datasets import DATASETS
    from dsd_tui.registry import PYTHON
    DATASETS.register(name, _callable(loader, "register_dataset"), origin=PYTHON)


def register_criterion(name: str, score: Callable) -> None:
    """Make `prune.criterion = name` rank weights by `score(model, weights, batch) -> {name: scores}` (smaller
    pruned first; an optional keyword `context` gets the phase's loss, a seeded generator, the phase and the
    rung) in this process (docs/plugins.md)."""
    from dsd_tui.core.criteria import CRITERIA
    from dsd_tui.registry import PYTHON
    CRITERIA.register(name, _callable(score, "register_criterion"), origin=PYTHON)


def _sinks(progress: bool, on_event: Callable | None) -> list:
    sinks: list = []
    if progress:
        from dsd_tui.headless import HeadlessPrinter
        sinks.append(HeadlessPrinter(sys.stdout, live=False))
    if on_event is not None:
        sinks.append(on_event)
    return sinks


def _run_session(session) -> str:
    """Run with Ctrl-C stopping resumably, torch's thread count put back afterwards."""
    import torch

    threads = torch.get_num_threads()
    try:
        with _stop_on_interrupt(session):
            return session.run()
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


# One run at a time per process: PyTorch's default layer initialisation draws from the process-wide generator,
# and the thread count and the deterministic flags are process-wide too, so two runs in threads of one process
# changed each other's numbers (issue 27). A second concurrent call is refused, not queued: waiting silently
# would look like a hang in a notebook. Separate processes (the command line, `dsd-tui sweep`) are unaffected.
_RUN_LOCK = threading.Lock()
_RUN_OWNER: list[str] = []  # the thread holding it, for the message


class _one_run:
    def __init__(self, what: str):
        self.what = what

    def __enter__(self):
        from dsd_tui.errors import UsageError
        if not _RUN_LOCK.acquire(blocking=False):
            holder = _RUN_OWNER[0] if _RUN_OWNER else "another thread"
            raise UsageError(f"dsd_tui.{self.what}(): another dsd_tui run is going in this process ({holder}); "
                             f"torch's layer initialisation, thread count and deterministic flags are process-wide, "
                             f"so two runs at once would change each other's numbers: wait for it to return, or run "
                             f"the second in another process")
        _RUN_OWNER[:] = [f"thread {threading.current_thread().name!r}"]
        return self

    def __exit__(self, *exc):
        _RUN_OWNER.clear()
        _RUN_LOCK.release()
        return False


def _check_args(where: str, **args) -> list[str]:
    """Argument types checked before anything is read or written (as the command line's parser does); returns
    the overrides as a list. A str for `overrides` was iterated per character, `out=b"x"` made a folder `b'x'`,
    and `on_event=5` failed only after the run directory existed."""
    import os

    from dsd_tui import profile as profile_mod

    def bad(name: str, want: str, value) -> TypeError:
        return TypeError(f"dsd_tui.{where}(): {name} must be {want}, not {type(value).__name__}")

    if "profile" in args and not (args["profile"] is None or isinstance(args["profile"], (str, os.PathLike,
                                                                                          profile_mod.Profile))):
        raise bad("profile", "a profile name, a path, a Profile or None", args["profile"])
    for key in ("out", "run_dir"):
        if key in args:
            value = args[key]
            if (value is None and key == "out") or (isinstance(value, (str, os.PathLike))
                                                    and not isinstance(os.fspath(value), bytes)):
                continue
            raise bad(key, "a str or a pathlib.Path" + (" or None" if key == "out" else ""), value)
    if not isinstance(args.get("progress", False), bool):
        raise bad("progress", "True or False", args["progress"])
    if args.get("on_event") is not None and not callable(args["on_event"]):
        raise bad("on_event", "a function taking one event, or None", args["on_event"])
    overrides = args.get("overrides", ())
    if isinstance(overrides, (str, bytes)) or not hasattr(overrides, "__iter__"):
        raise bad("overrides", 'a list of "section.key=value" strings (a single one in a list)', overrides)
    overrides = list(overrides)
    for o in overrides:
        if not isinstance(o, str):
            raise bad("overrides", 'a list of "section.key=value" strings', o)
    return overrides


def _callable(obj, where: str):
    if not callable(obj):
        raise TypeError(f"{where}: expected a function, got {type(obj).__name__}")
    return obj


def load_summary(run_dir: str | Path) -> dict:
    """The summary of the run in `run_dir` (finished or not), folded from its events.jsonl.

    Raises `dsd_tui.UsageError` when `run_dir` is not a run directory."""
    from dsd_tui.record.rundir import RunDirError, is_run_dir, rebuild_summary
    path = Path(run_dir)
    if not is_run_dir(path):
        raise RunDirError(f"load_summary({str(run_dir)!r}): not a dsd_tui run directory (no events.jsonl and "
                          f"profile.toml); give the folder a run was written to (summary['run_dir'])")
    return rebuild_summary(path).summary()


class _stop_on_interrupt:
    """While the run goes, SIGINT (Ctrl-C, a notebook's interrupt) asks it to stop at the next batch
    and save, instead of tearing it down mid-write; the caller's handler is put back afterwards.
    Only the main thread may install handlers; elsewhere this does nothing."""

    def __init__(self, session):
        self.session = session
        self.saved = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.saved = signal.signal(signal.SIGINT, lambda _s, _f: self.session.stop_now.set())
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            signal.signal(signal.SIGINT, self.saved)
        return False
