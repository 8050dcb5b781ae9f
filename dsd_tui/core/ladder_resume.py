"""Resume bookkeeping for the ladder, kept apart so that ladder.py reads as the method.

What is saved: at every epoch end (throttled, see `StateSaver.save`) and at every rung end, a
snapshot of the model, masks, training generator, optimizer and scheduler, the rewind weights and a
`Cursor` (the last thing that finished) goes to `state/latest.pt` through the background
`resume_state.StateWriter`. What is restored: `load_state` reads it back, `restore` puts the model,
masks, generator and rewind weights back into a freshly built phase, `records_before` keeps the rung
records the cursor vouches for, and `start_point` says where the rung loop continues. Because every
source of randomness is a saved generator or re-seeded from (seed, phase, rung), a resumed run
computes the same numbers as an uninterrupted one (docs/reliability.md).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from dsd_tui.core.pruning import Masks
from dsd_tui.core.retrain import RETRAIN_MODES
from dsd_tui.profile import Profile
from dsd_tui.record.resume_state import StateWriter, detached_copy
from dsd_tui.record.rundir import STATE, RunDir, safe_torch_load
from dsd_tui.record.rung import RungRecord


@dataclass
class Cursor:
    """Where the ladder stands: the last thing that finished."""

    phase: str = "teacher"
    rung: int = 0
    epoch: int = 0  # epochs finished in this rung
    rung_done: bool = False
    phases_done: tuple = ()
    stopped_early: bool = False  # an active criterion with action "stop" ended the phase at this rung

    def to_dict(self) -> dict:
        return {"phase": self.phase, "rung": self.rung, "epoch": self.epoch, "rung_done": self.rung_done,
                "phases_done": list(self.phases_done), "stopped_early": self.stopped_early}


@dataclass(frozen=True)
class StartPoint:
    """Where a phase's rung loop begins."""

    rung: int = 0
    epoch: int = 0  # epochs of `rung` already trained (a rung resumed mid-way)
    saved: dict | None = None  # the state whose optimizer, scheduler and rung_seconds continue that rung
    stopped_early: bool = False  # the phase had already ended at an active stop

    def mid_rung(self, rung: int) -> bool:
        """Is `rung` the rung that continues from a saved epoch end (no pruning, saved optimizer)?"""
        return self.saved is not None and rung == self.rung


def load_state(run_path: Path, resume: bool) -> dict | None:
    """The saved resume state, or None (a new run, or one killed before its first epoch ended)."""
    if resume and (Path(run_path) / STATE).is_file():
        return safe_torch_load(Path(run_path) / STATE, "resume state")
    return None


def first_cursor(state: dict | None) -> Cursor:
    cursor = Cursor(**state["cursor"]) if state else Cursor()
    cursor.phases_done = tuple(cursor.phases_done)
    return cursor


def generator_problem(state: dict, device: torch.device, spec: str, run_path) -> str | None:
    """Why the saved generator cannot continue on `device` (None if it can). A CUDA generator's state is 16
    bytes (seed and offset), a CPU one's 5,056 (Mersenne Twister): a run started on one and resumed on the
    other (`run.device = "auto"` with CUDA visible on one machine only) cannot continue its random stream,
    and torch would raise "RNG state is wrong size" inside the run."""
    saved = state.get("generator") if isinstance(state, dict) else None
    if not isinstance(saved, torch.Tensor):
        return None
    want = torch.Generator(device=device).get_state().numel()
    if saved.numel() == want:
        return None
    cpu_size = torch.Generator().get_state().numel()
    on_cpu = saved.numel() == cpu_size
    written = "the CPU" if on_cpu else "a CUDA GPU"
    fix = (f"resume it on the CPU: `CUDA_VISIBLE_DEVICES= dsd-tui resume {run_path}`" if on_cpu else
           "resume it on a machine with a CUDA GPU")
    return (f"{run_path}: its resume state was written on {written} ({saved.numel():,}-byte generator state), but "
            f"run.device = {spec!r} is {device} here ({want:,}-byte state); a run's random stream cannot move "
            f"between devices: {fix}")


def restore(state: dict, model: nn.Module, gen: torch.Generator) -> tuple[Masks, dict | None]:
    """Put the saved weights and generator state back; returns the saved masks and rewind weights. A
    generator of the other device is refused (`generator_problem`; `resume` checks it before starting)."""
    problem = generator_problem(state, gen.device, str(gen.device), "this run")
    if problem:
        from dsd_tui.errors import UsageError
        raise UsageError(problem)
    model.load_state_dict(state["model"])
    masks = Masks(model, {k: v.bool() for k, v in state["masks"].items()})
    gen.set_state(state["generator"].to(gen.get_state().device) if hasattr(state["generator"], "to")
                  else state["generator"])
    return masks, state.get("rewind")


def records_before(records: list[RungRecord], cursor: Cursor) -> list[RungRecord]:
    """The records of the rungs the cursor has finished (a later one was replayed past the saved state)."""
    return [r for r in records if r.rung < cursor.rung + (1 if cursor.rung_done else 0)]


def start_point(cursor: Cursor, state: dict, last_rung: int) -> StartPoint:
    if cursor.stopped_early:  # the phase ended at this rung; only its closing events are replayed
        return StartPoint(last_rung + 1, 0, stopped_early=True)
    if cursor.rung_done:
        return StartPoint(cursor.rung + 1, 0)
    return StartPoint(cursor.rung, cursor.epoch, saved=state)


class StateSaver:
    """Takes the resume-state snapshots and hands them to the background writer."""

    def __init__(self, rundir: RunDir, profile: Profile, run_id: str | None = None):
        self.p = profile
        self.run_id = run_id  # record/run_identity.py: a resume refuses a state file of another run
        self.writer = StateWriter(lambda snapshot: rundir.save_torch(STATE, snapshot))
        self.teacher_path = ""  # the student phase's teacher checkpoint (a resume reloads the same one)
        self._last_save = 0.0
        self._snapshot_seconds = 0.0  # what the last snapshot cost the training thread

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def save(self, model, masks: Masks, gen, opt, sched, cursor: Cursor, rewind_state, rung_seconds=0.0,
             force=False, epoch_seconds=0.0) -> None:
        """Snapshot the resume state (tensor copies) and hand it to the writer thread; `force` (rung ends)
        waits until it is on disk. The writer keeps to a 1% duty cycle (resume_state.py); an epoch-end
        snapshot it could not write before the next one arrives is still taken when the copy costs under
        0.5% of the epoch (GPU runs: so SIGINT/SIGTERM write the very last epoch end), else skipped."""
        now = time.time()
        if not force and self.p.run.state_every and now - self._last_save < self.p.run.state_every:
            return
        cheap = self._snapshot_seconds < 0.005 * epoch_seconds
        if not force and not cheap and not self.writer.due(epoch_seconds):
            return
        self._last_save = now
        t0 = time.perf_counter()
        spare = self.writer.take_spare() or {}
        state = {
            "cursor": cursor.to_dict(),
            "model": detached_copy(model.state_dict(), spare.get("model")),
            "masks": detached_copy(masks.masks, spare.get("masks")),
            "generator": gen.get_state(),
            "optimizer": detached_copy(opt.state_dict(), spare.get("optimizer")) if opt is not None else None,
            "scheduler": detached_copy(sched.state_dict()) if sched is not None else None,
            "rung_seconds": rung_seconds,
            "rewind": rewind_state if RETRAIN_MODES.get(self.p.prune.retrain).keeps_rewind_state else None,
            "teacher_path": self.teacher_path if cursor.phase == "student" else "",
            "run_id": self.run_id,
        }
        self._snapshot_seconds = time.perf_counter() - t0
        self.writer.submit(state)
        if force:
            self.writer.flush()
