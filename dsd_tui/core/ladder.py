"""Phases and rungs: the DSD² run, told as events.

A run is the teacher ladder (train dense, then prune `rate` of the remaining weights and retrain,
`rungs` times) and, with distillation on, the student ladder (a fresh dense student trained by KD
from the frozen best-validation teacher, pruned the same way with the same KD loss).

Resume state is saved at every epoch end (`state/latest.pt`, written in the background by
`resume_state.StateWriter`), so `Ladder(resume=True)` continues at the last saved epoch; because every
source of randomness is a saved generator or re-seeded from (seed, phase, rung), a resumed run
computes the same numbers as an uninterrupted one (docs/reliability.md).
"""
from __future__ import annotations

import copy
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from dsd_tui.core.data import Batcher, DataBundle, load_data
from dsd_tui.core.entropy import mean_entropy
from dsd_tui.core.models import build_model
from dsd_tui.core.pruning import Masks
from dsd_tui.core.teacher import load_teacher_model
from dsd_tui.core.training import (
    Interrupted,
    evaluate,
    kd_loss,
    make_optimizer,
    make_scheduler,
    measure_train,
    predict_logits,
    train_epoch,
)
from dsd_tui.errors import RunFailed, UsageError
from dsd_tui.profile import Profile
from dsd_tui.record import events as ev
from dsd_tui.record.resume_state import StateWriter, detached_copy
from dsd_tui.record.rundir import STATE, RunDir, safe_torch_load
from dsd_tui.record.summary import best_rung
from dsd_tui.speed.modes import Speed
from dsd_tui.stops import criteria, regime, verdicts
from dsd_tui.stops.outcome import Plan, firing_details

PHASE_SEED = {"teacher": 1, "student": 2}


def pick_device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"run.device = {spec!r}: CUDA is not available here; use run.device = \"auto\" or \"cpu\"")
    return torch.device(spec)


def environment(device: torch.device, threads: int) -> dict:
    env = {"python": platform.python_version(), "torch": torch.__version__, "device": str(device),
           "threads": torch.get_num_threads(), "platform": platform.platform(), "host": platform.node()}
    if device.type == "cuda":
        env["device_name"] = torch.cuda.get_device_name(device)
    return env


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


class Diverged(Exception):
    """The training loss (or the measured loss) of a rung is NaN/Inf."""

    def __init__(self, epoch: int):
        super().__init__(epoch)
        self.epoch = epoch


class Ladder:
    """Runs one DSD² job into an open RunDir, emitting events to `sink`."""

    def __init__(self, profile: Profile, rundir: RunDir, sink: ev.Sink, *,
                 should_stop: Callable[[], bool] | None = None,
                 stop_after_rung: Callable[[], bool] | None = None,
                 resume: bool = False, data: DataBundle | None = None):
        self.p = profile
        self.preloaded = data  # checked before the run directory was created (runner.preflight)
        self.rundir = rundir
        self.emit = sink
        self.should_stop = should_stop or (lambda: False)
        self.stop_after_rung = stop_after_rung or (lambda: False)
        self.resume = resume
        self.state: dict | None = None
        self._last_state_save = 0.0
        self._snapshot_seconds = 0.0  # what the last state snapshot cost the training thread

    # ------------------------------------------------------------------ the run
    def run(self) -> str:
        """Returns the final status: completed | stopped | interrupted. Raises RunFailed/UsageError."""
        start = time.time()
        p = self.p
        if p.run.threads:
            torch.set_num_threads(p.run.threads)
        self.device = pick_device(p.run.device)
        if self.resume and (self.rundir.path / STATE).is_file():  # no state: killed before an epoch ended
            self.state = safe_torch_load(self.rundir.path / STATE, "resume state")
        cursor = Cursor(**self.state["cursor"]) if self.state else Cursor()
        cursor.phases_done = tuple(cursor.phases_done)
        self.data = (self.preloaded or load_data(p.data, p.run.seed)).to(self.device)
        self.preloaded = None
        self.speed = Speed.from_profile(p.train, self.device, self.data.images)
        self.speed.apply_backends()
        self.channels_last = self.speed.channels_last
        self.batcher = Batcher(self.data, self.device, self.channels_last)
        phases = ["teacher"] + (["student"] if p.distill.enabled else [])
        env = {**environment(self.device, p.run.threads), "speed": self.speed.describe()}
        self.emit(ev.RunStarted(name=p.run.name, run_dir=str(self.rundir.path), profile=p.to_dict(),
                                environment=env, phases=phases, rungs=p.prune.rungs, resumed=self.resume))
        if not self.resume:
            self.emit(ev.Log(message=f"data: {self.data.name}, {len(self.data.train)} train / {len(self.data.val)} "
                                     f"val / {len(self.data.test)} test, noise {self.data.noise['train_rate']:.3f} "
                                     f"realised on train"))
            if self.speed.sparse_kernels and self.device.type != "cpu":
                self.emit(ev.Warning(message=f"train.sparse_kernels on {self.device.type}: the CSR kernels were "
                                             f"measured on the CPU only; on a GPU dense kernels are usually faster "
                                             f"(docs/benchmarks.md)"))
            if self.data.noise.get("checksums_verified") is False:
                self.emit(ev.Warning(message=f"the {self.data.name} files in {p.data.path} do not match the official "
                                             f"checksums; they are used as found (structure and labels checked)"))
        self.state_writer = StateWriter(lambda snapshot: self.rundir.save_torch(STATE, snapshot))
        try:
            for phase in phases:
                if phase in cursor.phases_done:
                    continue
                resume_here = self.state is not None and cursor.phase == phase
                outcome = self.run_phase(phase, cursor if resume_here else None, cursor.phases_done)
                cursor = Cursor(phase=phase, phases_done=cursor.phases_done + (phase,))
                if outcome == "interrupted":
                    return self._interrupted("stopped by request after the rung finished")
        except Interrupted:
            self.state_writer.flush()  # the last epoch end is on disk before we say "resumable"
            return self._interrupted("interrupted; resume with `dsd-tui resume`")
        finally:
            self.state_writer.close()
        status = "completed"
        self.emit(ev.RunFinished(status=status, seconds=time.time() - start))
        return status

    def _interrupted(self, reason: str) -> str:
        self.emit(ev.RunInterrupted(reason=reason))
        return "interrupted"

    # ------------------------------------------------------------------ one phase
    def run_phase(self, phase: str, cursor: Cursor | None, phases_done: tuple) -> str:
        p = self.p
        arch = (p.distill.arch or p.model.arch) if phase == "student" else p.model.arch
        torch.manual_seed(p.run.seed * 1000 + PHASE_SEED[phase])
        model = self.speed.place(build_model(arch, p.model, self.data.input_shape, self.data.num_classes),
                                 self.device)
        masks = Masks(model)
        self.train_forward = self.speed.forward_of(model)  # masks and state dict stay on `model`
        gen = torch.Generator(device=self.device).manual_seed(p.run.seed * 7919 + PHASE_SEED[phase])
        init_state = copy.deepcopy(model.state_dict())
        rewind_state = init_state if (p.prune.retrain == "weight-rewind" and p.prune.rewind_epoch == 0) else None

        teacher_info, loss_fn = None, None
        if phase == "student":
            teacher, teacher_info = self.load_teacher(cursor)
            loss_fn = self.kd_loss_fn(teacher)

        records = self.rundir.builder.records(phase) if cursor else []
        start_rung, start_epoch, opt_state = 0, 0, None
        if cursor is not None:
            st = self.state
            model.load_state_dict(st["model"])
            masks = Masks(model, {k: v.bool() for k, v in st["masks"].items()})
            gen.set_state(st["generator"].to(gen.get_state().device) if hasattr(st["generator"], "to")
                          else st["generator"])
            if st.get("rewind") is not None:
                rewind_state = st["rewind"]
            records = [r for r in records if r["rung"] < cursor.rung + (1 if cursor.rung_done else 0)]
            if cursor.stopped_early:  # the phase ended at this rung; only its closing events are replayed
                start_rung, start_epoch = p.prune.rungs + 1, 0
            elif cursor.rung_done:
                start_rung, start_epoch = cursor.rung + 1, 0
            else:
                start_rung, start_epoch, opt_state = cursor.rung, cursor.epoch, st
        self.emit(ev.PhaseStarted(phase=phase, arch=arch, rungs=p.prune.rungs, prunable_weights=masks.total(),
                                  teacher=teacher_info))

        stopped_early = bool(cursor is not None and cursor.stopped_early)
        for rung in range(start_rung, p.prune.rungs + 1):
            resuming_mid_rung = opt_state is not None and rung == start_rung
            if rung > 0 and not resuming_mid_rung:
                self.prepare_rung(model, masks, rung, init_state, rewind_state, phase)
            try:
                record, rewind_state = self.train_rung(phase, rung, model, masks, gen, loss_fn, phases_done,
                                                       start_epoch if resuming_mid_rung else 0,
                                                       opt_state if resuming_mid_rung else None, rewind_state)
            except Diverged as d:
                records.append(self.diverged(phase, rung, d.epoch, model, masks, records))
                self.save_state(model, masks, gen, None, None, Cursor(phase, rung, 0, True, phases_done),
                                rewind_state, force=True)
                continue
            trained = [r for r in records if not r.get("diverged")]
            record["regime"] = regime.label(trained + [record], self.data.noise["train_rate"])
            records.append(record)
            self.rundir.save_torch(f"checkpoints/{phase}-rung{rung:02d}.pt", {
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "masks": masks.state(), "phase": phase, "rung": rung, "arch": arch,
                "num_classes": self.data.num_classes, "entropy_counts": self.entropy_counts})
            self.emit(ev.RungFinished(phase=phase, rung=rung, record=record))
            fired_active = self.check_stops(phase, [r for r in records if not r.get("diverged")])
            stop_here = fired_active and p.stop.action == "stop"
            self.save_state(model, masks, gen, None, None,
                            Cursor(phase, rung, 0, True, phases_done, stopped_early=stop_here), rewind_state,
                            force=True)
            if stop_here:
                stopped_early = True
                break
            if self.stop_after_rung() and rung < p.prune.rungs:
                return "interrupted"
        self.emit(ev.PhaseFinished(phase=phase, best_rung=best_rung(records), rungs_trained=len(records),
                                   stopped_early=stopped_early,
                                   verdict=self.verdict(phase, [r for r in records if not r.get("diverged")])))
        return "done"

    # ------------------------------------------------------------------ pieces
    def prepare_rung(self, model, masks: Masks, rung: int, init_state, rewind_state, phase: str) -> None:
        """Prune, then set the weights the rung retrains from (per the retraining mode)."""
        masks.prune_global(self.p.prune.rate)
        mode = self.p.prune.retrain
        if mode == "weight-rewind" and rewind_state is not None:
            model.load_state_dict(rewind_state)
        elif mode == "reinit":
            torch.manual_seed(self.p.run.seed * 1000 + PHASE_SEED[phase] * 100 + rung)
            for m in model.modules():
                if m is not model and hasattr(m, "reset_parameters"):
                    m.reset_parameters()
        masks.zero_pruned()

    def train_rung(self, phase, rung, model, masks, gen, loss_fn, phases_done, start_epoch, opt_state,
                   rewind_state):
        p = self.p
        epochs = p.train.dense_epochs if rung == 0 else p.train.epochs
        finetune = p.prune.retrain == "finetune" and rung > 0
        lr = p.prune.finetune_lr if finetune else p.train.lr
        # Built after prepare_rung set this rung's weights and mask: it steps the kept weights only.
        opt = make_optimizer(model.parameters(), p.train.optimizer, lr, p.train.momentum, p.train.weight_decay,
                             masks=masks)
        sched = make_scheduler(opt, [] if finetune else p.train.milestones, p.train.lr_gamma)
        seconds = 0.0
        if opt_state is not None:
            opt.load_state_dict(opt_state["optimizer"])
            sched.load_state_dict(opt_state["scheduler"])
            seconds = float(opt_state.get("rung_seconds", 0.0))
        self.emit(ev.RungStarted(phase=phase, rung=rung, sparsity=masks.sparsity(), epochs=epochs))
        autocast = self.autocast()
        with self.speed.rung_kernels(model, opt):  # train.sparse_kernels: CSR for the sparsest Linear layers
            for epoch in range(start_epoch + 1, epochs + 1):
                t0 = time.time()
                lr_now = opt.param_groups[0]["lr"]
                res = train_epoch(self.train_forward, masks, self.batcher, self.data.train, p.data.batch_size, gen,
                                  opt, loss_fn or _ce, autocast, self.should_stop)
                sched.step()
                if not res.finite:
                    raise Diverged(epoch)
                if rung == 0 and p.prune.retrain == "weight-rewind" and epoch == p.prune.rewind_epoch:
                    rewind_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                dt = time.time() - t0
                seconds += dt
                self.save_state(model, masks, gen, opt, sched, Cursor(phase, rung, epoch, False, phases_done),
                                rewind_state, rung_seconds=seconds, force=epoch == epochs, epoch_seconds=dt)
                self.emit(ev.EpochFinished(phase=phase, rung=rung, epoch=epoch, epochs=epochs,
                                           train_loss=res.loss, train_acc=res.acc, lr=lr_now, seconds=dt))
        t0 = time.time()
        record = self.measure(model, masks, rung, epochs)
        if not math.isfinite(record["train_loss"]):  # the last step left non-finite weights
            raise Diverged(epochs)
        record["seconds"] = seconds + (time.time() - t0)
        return record, rewind_state

    def diverged(self, phase: str, rung: int, epoch: int, model, masks: Masks, records: list[dict]) -> dict:
        """Record a rung whose loss became NaN/Inf, raise the alert, then fail or (train.on_divergence =
        "next-rung") restore the last good rung's weights under this rung's mask and go on."""
        record = {"rung": rung, "sparsity": 1.0 - masks.kept() / masks.total(), "remaining_weights": masks.kept(),
                  "diverged": True, "diverged_epoch": epoch, "epochs": epoch, "entropy": {}, "entropy_mean": None,
                  **{k: None for k in ("train_acc", "train_acc_clean", "train_loss", "val_acc", "val_acc_clean",
                                       "val_loss", "test_acc", "test_loss")}}
        self.emit(ev.Warning(message=f"{phase} rung {rung} diverged at epoch {epoch}: the loss is NaN/Inf"))
        self.emit(ev.RungFinished(phase=phase, rung=rung, record=record))
        good = [r["rung"] for r in records if not r.get("diverged")]
        if self.p.train.on_divergence == "fail" or not good:
            why = "" if good else " (no earlier rung to go on from)"
            raise RunFailed(f"{phase} rung {rung} diverged at epoch {epoch} (loss is NaN/Inf){why}; lower "
                            f"train.lr (or prune.finetune_lr) or set train.on_divergence = \"next-rung\"")
        ck = safe_torch_load(self.rundir.checkpoint_path(phase, good[-1]), "checkpoint")
        model.load_state_dict(ck["state_dict"])
        masks.zero_pruned()
        self.emit(ev.Log(message=f"{phase} rung {rung}: restored the weights of rung {good[-1]} under this "
                                 f"rung's mask; going on with the next rung"))
        return record

    def measure(self, model, masks: Masks, rung: int, epochs: int) -> dict:
        autocast = self.autocast()
        train, meter = measure_train(model, self.batcher, self.data.train, self.p.entropy.enabled, autocast)
        val = evaluate(model, self.batcher, self.data.val, autocast)
        test = evaluate(model, self.batcher, self.data.test, autocast)
        entropy = meter.layer_entropy() if meter is not None else {}
        self.entropy_counts = meter.raw() if meter is not None else None  # kept in the rung checkpoint
        kept = masks.kept()
        return {
            "rung": rung,
            "sparsity": 1.0 - kept / masks.total(),
            "remaining_weights": kept,
            "train_acc": train["acc"],
            "train_acc_clean": train["acc_clean"],
            "train_loss": train["loss"],
            "val_acc": val["acc"],
            "val_acc_clean": val["acc_clean"],
            "val_loss": val["loss"],
            "test_acc": test["acc"],
            "test_loss": test["loss"],
            "entropy": entropy,
            "entropy_mean": mean_entropy(entropy),
            "epochs": epochs,
        }

    def check_stops(self, phase: str, records: list[dict]) -> bool:
        cfg = self.p.stop
        active_name = cfg.active if phase == "teacher" else cfg.active_student
        plan = Plan.from_profile(self.p.prune, self.p.train)
        fired_active = False
        for f in criteria.newly_fired(records, cfg):
            active = f.criterion == active_name
            fired_active |= active
            self.emit(ev.StopFired(phase=phase, rung=f.rung, criterion=f.criterion, reason=f.reason,
                                   selected_rung=f.selected_rung, active=active,
                                   action=cfg.action if active else "shadow",
                                   details=firing_details(records, f.rung, f.selected_rung, plan)))
        return fired_active

    def verdict(self, phase: str, records: list[dict]) -> dict:
        teacher = None
        if phase == "student":
            teacher = verdicts.phase_verdict(self.rundir.builder.records("teacher"), len(self.data.test))
        return verdicts.phase_verdict(records, len(self.data.test), teacher)

    def load_teacher(self, cursor: Cursor | None):
        p = self.p
        choice = p.distill.teacher
        if cursor is not None and self.state.get("teacher_path"):
            path = Path(self.state["teacher_path"])
        elif choice in ("best", "dense"):
            records = self.rundir.builder.records("teacher")
            rung = best_rung(records) if choice == "best" else 0
            if rung is None:
                raise RunFailed("no teacher rung finished; the student phase has no teacher")
            path = self.rundir.checkpoint_path("teacher", rung)
        else:
            path = Path(choice).expanduser()
        model, ck = load_teacher_model(path, p.model, p.model.arch, self.data.input_shape, self.data.num_classes)
        arch = ck.get("arch", p.model.arch)
        model = self.speed.place(model, self.device).eval()
        for q in model.parameters():
            q.requires_grad_(False)
        self.teacher_path = str(path)
        info = {"source": choice if choice in ("best", "dense") else "path", "path": str(path),
                "rung": ck.get("rung"), "arch": arch}
        rec = next((r for r in self.rundir.builder.records("teacher") if r["rung"] == ck.get("rung")), None)
        if rec is not None and info["source"] != "path":
            info.update(test_acc=rec["test_acc"], val_acc=rec["val_acc"], sparsity=rec["sparsity"])
        return model, info

    def kd_loss_fn(self, teacher: nn.Module):
        T, alpha = self.p.distill.temperature, self.p.distill.alpha
        if not self.data.augment:
            # Without augmentation the teacher's logits are a fixed function of the sample: compute once.
            cached = predict_logits(teacher, self.batcher, self.data.train)

            def loss(logits, _x, idx, y):
                return kd_loss(logits, cached[idx], y, T, alpha)
            return loss

        forward = self.speed.forward_of(teacher)

        def loss(logits, x, _idx, y):
            # One teacher forward per student batch, outside autograd. inference_mode skips even the
            # version counting of no_grad; its output takes part in the loss only as a constant target.
            with torch.inference_mode():
                t = forward(x).float()
            return kd_loss(logits.float(), t, y, T, alpha)
        return loss

    def autocast(self):
        return self.speed.autocast()

    def save_state(self, model, masks, gen, opt, sched, cursor: Cursor, rewind_state, rung_seconds=0.0,
                   force=False, epoch_seconds=0.0) -> None:
        """Snapshot the resume state (tensor copies) and hand it to the writer thread; `force` (rung ends)
        waits until it is on disk. The writer keeps to a 1% duty cycle (statefile.py); an epoch-end
        snapshot it could not write before the next one arrives is still taken when the copy costs under
        0.5% of the epoch (GPU runs: so SIGINT/SIGTERM write the very last epoch end), else skipped."""
        now = time.time()
        if not force and self.p.run.state_every and now - self._last_state_save < self.p.run.state_every:
            return
        cheap = self._snapshot_seconds < 0.005 * epoch_seconds
        if not force and not cheap and not self.state_writer.due(epoch_seconds):
            return
        self._last_state_save = now
        t0 = time.perf_counter()
        spare = self.state_writer.take_spare() or {}
        state = {
            "cursor": cursor.to_dict(),
            "model": detached_copy(model.state_dict(), spare.get("model")),
            "masks": detached_copy(masks.masks, spare.get("masks")),
            "generator": gen.get_state(),
            "optimizer": detached_copy(opt.state_dict(), spare.get("optimizer")) if opt is not None else None,
            "scheduler": detached_copy(sched.state_dict()) if sched is not None else None,
            "rung_seconds": rung_seconds,
            "rewind": rewind_state if self.p.prune.retrain == "weight-rewind" else None,
            "teacher_path": getattr(self, "teacher_path", "") if cursor.phase == "student" else "",
        }
        self._snapshot_seconds = time.perf_counter() - t0
        self.state_writer.submit(state)
        if force:
            self.state_writer.flush()


def _ce(logits, _x, _idx, y):
    return torch.nn.functional.cross_entropy(logits, y)
