"""Starting and resuming a run: the run directory, the sinks, the stop flags and the final status.

Shared by the headless command and the TUI's worker thread, so both behave the same: the inputs
(data, a teacher checkpoint, the resume state) are checked before anything is written, the run
directory is written first, every view is just another sink, and whatever happens the run ends
with one of run_finished, run_failed or run_interrupted in events.jsonl.
"""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import torch

from dsd_tui import profile as profile_mod
from dsd_tui.core.criteria import check_profile_criterion
from dsd_tui.core.data import DataBundle, load_data
from dsd_tui.core.ladder import Ladder, pick_device, steps_per_epoch
from dsd_tui.core.models import build_model
from dsd_tui.core.retrain import RETRAIN_MODES
from dsd_tui.core.teacher import load_teacher_model
from dsd_tui.errors import RunFailed, UsageError
from dsd_tui.paths import expand
from dsd_tui.record import events as ev
from dsd_tui.record import resume_check, run_identity
from dsd_tui.record.checkpoints import CheckpointRetention
from dsd_tui.record.rundir import (
    FOLDERS,
    PROFILE,
    STATE,
    RunDir,
    atomic_write_text,
    fold_events,
    is_run_dir,
    new_run_dir,
    own_checkpoint,
    read_run_events,
    rebuild_summary,
    require_run_dir,
    rung_of,
    safe_torch_load,
)


class RunSession:
    """One run (new or resumed) with its stop flags; `run()` returns the final status."""

    def __init__(self, prof: profile_mod.Profile, path: Path, resume: bool, sinks=(), data: DataBundle | None = None):
        self.profile = prof
        self.path = Path(path)
        self.resume = resume
        self.data = data
        self.stop_now = threading.Event()  # stop at the next batch boundary
        self.stop_after_rung = threading.Event()  # stop once the current rung is finished
        builder = rebuild_summary(self.path) if resume else None
        self.rundir = RunDir(self.path, builder)
        self.sink = ev.Fanout(self.rundir, *retention(prof, self.rundir, sinks), *sinks)
        self.error: str | None = None
        self.status: ev.RunStatus | None = None  # run()'s result once it has returned ("failed" if it raised)
        self.done = threading.Event()  # set when run() has returned or raised, its files closed

    @classmethod
    def new(cls, prof: profile_mod.Profile, out: str | None, sinks=(), data: DataBundle | None = None) -> "RunSession":
        """A new run directory under `out` (or run.out); `data`: what `preflight(prof)` returned, if called."""
        data = data if data is not None else preflight(prof)
        path = new_run_dir(expand(out, "--out") if out else expand(prof.run.out, "run.out"), prof.run.name,
                           time.time())
        try:
            atomic_write_text(path / PROFILE, prof.to_toml())
        except OSError as e:
            shutil.rmtree(path, ignore_errors=True)
            raise UsageError(f"{path}: cannot write the run's profile.toml ({e.strerror}); choose a writable "
                             f"--out DIR") from None
        return cls(prof, path, resume=False, sinks=sinks, data=data)

    @classmethod
    def at(cls, path: str | Path, prof: profile_mod.Profile, sinks=()) -> "RunSession":
        """A new run in exactly `path` (a sweep names its ladders' folders itself); it must hold no run yet."""
        path = Path(path)
        if is_run_dir(path):
            raise UsageError(f"{path}: already holds a run; resume it with `dsd-tui resume {path}`")
        data = preflight(prof)
        for sub in FOLDERS:
            (path / sub).mkdir(parents=True, exist_ok=True)
        atomic_write_text(path / PROFILE, prof.to_toml())
        return cls(prof, path, resume=False, sinks=sinks, data=data)

    @classmethod
    def resume_from(cls, run_dir: str, sinks=()) -> "RunSession":
        path = require_run_dir(Path(run_dir), "resume")
        prof = profile_mod.load(str(path / PROFILE))
        events = read_run_events(path)  # an empty log that no process holds: one line, nothing changed
        builder = fold_events(events)
        if builder.status in ev.FINISHED:
            raise UsageError(f"{path}: this run already finished ({builder.status}); nothing to resume. "
                             f"`dsd-tui export {path}` prints its summary")
        resume_check.check_profile(path, events, prof.to_dict())
        state = None
        if (path / STATE).is_file():  # without one (killed in the first epoch) the run starts over, same seeds
            state = safe_torch_load(path / STATE, "resume state")
        resume_check.check_history(path, builder, state)
        run_identity.check_state(path, state, events)  # a state file copied from another run is refused
        if state is not None:  # a generator of the other device: one line now, not "wrong size" inside the run
            from dsd_tui.core.ladder import pick_device
            from dsd_tui.core.ladder_resume import generator_problem
            problem = generator_problem(state, pick_device(prof.run.device), prof.run.device, path)
            if problem:
                raise UsageError(problem)
        # A student phase resumed from its state reloads the teacher the state names (inside the run).
        in_student = isinstance(state, dict) and (state.get("cursor") or {}).get("phase") == "student"
        if in_student:
            check_own_teacher(path, prof, state, events)
        data = preflight(prof, check_teacher=not in_student)
        run_identity.check_data(path, events, run_identity.data_fingerprint(data), f"data.path = {prof.data.path!r}")
        return cls(prof, path, resume=True, sinks=sinks, data=data)

    def run(self) -> ev.RunStatus:
        try:
            self.status = self._run()
            return self.status
        finally:
            self.status = self.status or "failed"
            self.done.set()

    def _run(self) -> ev.RunStatus:
        ladder = Ladder(self.profile, self.rundir, self.sink, should_stop=self.stop_now.is_set,
                        stop_after_rung=self.stop_after_rung.is_set, resume=self.resume, data=self.data)
        self.data = None
        try:
            return ladder.run()
        except (RunFailed, UsageError) as e:
            self.error = str(e)
            if isinstance(e, UsageError) and self._discard_if_empty():
                raise
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

    def abandon(self) -> None:
        """The run never ran (a signal came before its handlers were installed): a new run's directory, which
        holds only its profile and an empty log, is removed; a resumed run is closed as it was."""
        self.rundir.close()
        if not self.resume:
            shutil.rmtree(self.path, ignore_errors=True)

    def _discard_if_empty(self) -> bool:
        """A new run refused before its first rung finished leaves nothing behind (bad input)."""
        if self.resume or any(self.rundir.builder.records(ph) for ph in ("teacher", "student")):
            return False
        self.rundir.close()
        shutil.rmtree(self.path, ignore_errors=True)
        return True

    def _emit_failure(self, message: str) -> None:
        try:
            self.sink(ev.RunFailed(error=message))
        except Exception:  # noqa: BLE001 - the disk may be what failed; the message still reaches the user
            pass


def check_own_teacher(path: Path, prof: profile_mod.Profile, state: dict, events: list) -> None:
    """The teacher a resumed student phase reloads, when it is one of the run's own checkpoints, must be the
    one the run chose: this run's id, a teacher rung (checked before anything is changed)."""
    saved = state.get("teacher_path") or ""
    if not saved or prof.distill.teacher not in ("best", "dense", "best-test"):
        return
    file = path / own_checkpoint(Path(saved).name)
    if file.is_file():
        ck = safe_torch_load(file, "teacher checkpoint")
        run_identity.check_checkpoint(file, ck, run_identity.id_from_log(events), "teacher", rung_of(file.name))


def retention(prof: profile_mod.Profile, rundir: RunDir, sinks=()) -> list:
    """The sinks the profile asks for that act after the run directory recorded an event: checkpoint
    retention (run.keep_checkpoints), the live TensorBoard files (run.tensorboard) and W&B (run.wandb)."""
    out = []
    if prof.run.keep_checkpoints == "best-last":
        out.append(CheckpointRetention(rundir, prof.distill.teacher if prof.distill.enabled else ""))
    if prof.run.tensorboard:
        from dsd_tui.export.tensorboard import TensorBoardSink
        if not any(isinstance(s, TensorBoardSink) for s in sinks):  # `resume --tensorboard` brought one
            out.append(TensorBoardSink())
    if prof.run.wandb:
        from dsd_tui.export.wandb import WandbSink
        if not any(isinstance(s, WandbSink) for s in sinks):  # `resume --wandb` brought one
            out.append(WandbSink())
    return out


def preflight(prof: profile_mod.Profile, check_teacher: bool = True) -> DataBundle:
    """Read everything a run needs from outside its run directory, so bad input (missing, truncated
    or wrong data; a teacher checkpoint that does not fit; an architecture that cannot take the data's
    input) is refused before anything is written."""
    pick_device(prof.run.device)
    if prof.train.compile:  # Inductor's kernels need a C compiler and Python.h: say so now, not mid-run
        from dsd_tui.speed.modes import compile_problem
        if problem := compile_problem():
            raise UsageError(problem)
    if prof.run.tensorboard:  # optional extras: say so before anything is written
        from dsd_tui.export.tensorboard import require
        require()
    if prof.run.wandb:
        from dsd_tui.export.wandb import require as require_wandb
        require_wandb()
    data = load_data(prof.data, prof.run.seed)
    check_arch(prof, data)
    problem = RETRAIN_MODES.get(prof.prune.retrain).check_data(
        prof.prune, prof.train, steps_per_epoch(len(data.train), prof.data.batch_size))
    if problem:
        raise UsageError(problem)
    check_profile_criterion(prof, data)  # a criterion plugin scores once here, before the run directory exists
    teacher = prof.distill.teacher
    if check_teacher and prof.distill.enabled and teacher not in ("best", "dense", "best-test"):
        load_teacher_model(expand(teacher, "distill.teacher"), prof.model, prof.model.arch, data.input_shape,
                           data.num_classes)
    return data


def check_arch(prof: profile_mod.Profile, data: DataBundle) -> None:
    """Each phase's network takes one batch of two of the data's inputs (on the CPU, no gradients), so
    an architecture that cannot (a VGG's five pools on 8×8 digits) is one line before the run starts,
    not a traceback after the teacher ladder. A plugin's network is checked here on its first build
    (core/archs/: a Module with a Linear/Conv2d weight, logits of shape (2, classes)). The global RNG is
    put back afterwards, so the run draws the same numbers as without this check."""
    archs = {("model.arch", prof.model.arch)}
    if prof.distill.enabled and prof.distill.arch:
        archs.add(("distill.arch", prof.distill.arch))
    for key, arch in sorted(archs):
        with torch.random.fork_rng(devices=[]):
            try:
                model = build_model(arch, prof.model, data.input_shape, data.num_classes).eval()
                with torch.no_grad():
                    out = model(torch.zeros((2, *data.input_shape)))
                if tuple(out.shape) != (2, data.num_classes):
                    raise ValueError(f"gives outputs of shape {tuple(out.shape)[1:]}")
            except UsageError as e:  # a plugin that fails its checks, a name no longer registered
                raise type(e)(f"{key} = {arch!r}: {e}") from None
            except (RuntimeError, ValueError) as e:
                reason = (str(e).strip().splitlines() or [e.__class__.__name__])[0][:100]
                raise UsageError(f"{key} = {arch!r}: cannot take {data.name}'s inputs of shape "
                                 f"{tuple(data.input_shape)} ({reason}); choose another architecture (\"mlp\" takes "
                                 f"any input)") from None
