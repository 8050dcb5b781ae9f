"""Starting and resuming a run: the run directory, the sinks, the signals and the final status.

Shared by the headless command and the TUI's worker thread, so both behave the same: the run
directory is written first, every view is just another sink, and whatever happens the run ends
with one of run_finished, run_failed or run_interrupted in events.jsonl.
"""
from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from . import profile as profile_mod
from .engine import events as ev
from .engine.ladder import Ladder
from .engine.rundir import PROFILE, STATE, RunDir, is_run_dir, new_run_dir, rebuild_summary, require_run_dir
from .errors import RunFailed, UsageError

EXIT = {"completed": 0, "stopped": 0, "failed": 1, "interrupted": 130}


class RunSession:
    """One run (new or resumed) with its stop flags; `run()` returns the final status."""

    def __init__(self, prof: profile_mod.Profile, path: Path, resume: bool, sinks=()):
        self.profile = prof
        self.path = Path(path)
        self.resume = resume
        self.stop_now = threading.Event()  # stop at the next batch boundary
        self.stop_after_rung = threading.Event()  # stop once the current rung is finished
        builder = rebuild_summary(self.path) if resume else None
        self.rundir = RunDir(self.path, builder)
        self.sink = ev.Fanout(self.rundir, *sinks)
        self.error: str | None = None

    @classmethod
    def new(cls, prof: profile_mod.Profile, out: str | None, sinks=()) -> "RunSession":
        path = new_run_dir(Path(out or prof.run.out), prof.run.name, time.time())
        (path / PROFILE).write_text(prof.to_toml())
        return cls(prof, path, resume=False, sinks=sinks)

    @classmethod
    def at(cls, path: str | Path, prof: profile_mod.Profile, sinks=()) -> "RunSession":
        """A new run in exactly `path` (a sweep names its ladders' folders itself); it must hold no run yet."""
        path = Path(path)
        if is_run_dir(path):
            raise UsageError(f"{path}: already holds a run; resume it with `dsd-tui resume {path}`")
        for sub in ("checkpoints", "state"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        (path / PROFILE).write_text(prof.to_toml())
        return cls(prof, path, resume=False, sinks=sinks)

    @classmethod
    def resume_from(cls, run_dir: str, sinks=()) -> "RunSession":
        path = require_run_dir(Path(run_dir), "resume")
        prof = profile_mod.load(str(path / PROFILE))
        builder = rebuild_summary(path)
        if builder.status in ("completed", "stopped"):
            raise UsageError(f"{path}: this run already finished ({builder.status}); nothing to resume. "
                             f"`dsd-tui export {path}` prints its summary")
        if not (path / STATE).is_file():
            raise UsageError(f"{path}: no resume state (state/latest.pt); the run stopped before its first epoch "
                             f"ended: start it again with `dsd-tui run`")
        return cls(prof, path, resume=True, sinks=sinks)

    def run(self) -> str:
        ladder = Ladder(self.profile, self.rundir, self.sink, should_stop=self.stop_now.is_set,
                        stop_after_rung=self.stop_after_rung.is_set, resume=self.resume)
        try:
            return ladder.run()
        except (RunFailed, UsageError) as e:
            self.error = str(e)
            self._emit_failure(str(e))
            if isinstance(e, UsageError):
                raise
            return "failed"
        except Exception as e:  # noqa: BLE001 - an unexpected bug still ends the run cleanly
            self.error = f"{e.__class__.__name__}: {e}"
            self._emit_failure(self.error)
            raise
        finally:
            self.rundir.close()

    def _emit_failure(self, message: str) -> None:
        try:
            self.sink(ev.RunFailed(error=message))
        except Exception:  # noqa: BLE001 - the disk may be what failed; the message still reaches the user
            pass


def install_signal_handlers(session: RunSession) -> None:
    """SIGINT/SIGTERM: finish the batch, save, mark interrupted. SIGHUP: keep running (see README)."""
    def stop(_signum, _frame):
        session.stop_now.set()
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
