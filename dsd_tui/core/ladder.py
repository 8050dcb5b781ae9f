"""The DSD² method, one rung at a time, told as events.

A run is the teacher ladder (train dense, then prune `rate` of the remaining weights and retrain,
`rungs` times) and, with distillation on, the student ladder (a dense student, by default drawn from
the teacher's dense init as in the authors' code, trained by KD from the frozen best-validation
teacher, pruned the same way with the same KD loss). Every rung is
`Ladder.run_rung`: prune → retrain → measure → stop checks → save; this module holds the method and
its pieces, ladder_resume.py the resume bookkeeping (what is saved at every epoch end and how a
resumed run finds its place again, exactly: docs/reliability.md).
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from dsd_tui.core import ladder_resume, learning_distance, macs
from dsd_tui.core.criteria import CRITERIA, CutRequest, once, score_batch
from dsd_tui.core.criteria import cut as criteria_cut
from dsd_tui.core.data import Batcher, DataBundle, load_data
from dsd_tui.core.data_facts import data_facts
from dsd_tui.core.entropy import mean_entropy
from dsd_tui.core.environment import environment
from dsd_tui.core.ladder_resume import Cursor, StartPoint
from dsd_tui.core.models import build_model
from dsd_tui.core.pruning import Masks, output_layer_name
from dsd_tui.core.retrain import RETRAIN_MODES
from dsd_tui.core.teacher import load_teacher_model
from dsd_tui.core.training import (
    Interrupted,
    ce_loss,
    evaluate,
    kd_loss,
    make_optimizer,
    make_scheduler,
    measure_train,
    predict_logits,
    train_epoch,
)
from dsd_tui.errors import RunFailed, UsageError
from dsd_tui.paths import expand
from dsd_tui.profile import Profile
from dsd_tui.record import events as ev
from dsd_tui.record import masks_file, overlap, run_identity
from dsd_tui.record.layers import layer_sparsity, worsened
from dsd_tui.record.memory import gpu_peak_mb, peak_rss_mb, reset_gpu_peak
from dsd_tui.record.rundir import RUNG_START, RunDir, own_checkpoint, rung_of, safe_torch_load
from dsd_tui.record.rung import RungRecord, compute_fields, diverged_record, measured_record, trained
from dsd_tui.record.summary import best_rung, best_test_rung
from dsd_tui.record.verdict import Verdict
from dsd_tui.speed.modes import Speed
from dsd_tui.speed.sparse_kernels import candidate_layers
from dsd_tui.stops import criteria, regime, verdicts
from dsd_tui.stops.outcome import Plan, firing_details

PHASE_SEED = {"teacher": 1, "student": 2}


def pick_device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"run.device = {spec!r}: CUDA is not available here; use run.device = \"auto\" or \"cpu\"")
    device = torch.device(spec)
    try:  # a device name the profile allows but this torch or machine cannot use (mps off macOS, cuda:7 of 1)
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError, ValueError) as e:
        reason = (str(e).strip().splitlines() or [e.__class__.__name__])[0].split(". ")[0][:100]
        raise UsageError(f"run.device = {spec!r}: not usable here ({reason}); use run.device = \"auto\" or "
                         f"\"cpu\"") from None
    return device


class Diverged(Exception):
    """The training loss (or the measured loss) of a rung is NaN/Inf."""

    def __init__(self, epoch: int):
        super().__init__(epoch)
        self.epoch = epoch


@dataclass
class PhaseRun:
    """The live objects of one phase: the network, its masks, its training generator, its records."""

    name: str
    arch: str
    model: nn.Module
    masks: Masks
    gen: torch.Generator
    rewind_state: dict | None  # the weights each rung restarts from (weight-rewind), once known
    phases_done: tuple
    loss_fn: Callable | None = None  # None: cross-entropy; the student phase: the KD loss
    records: list[RungRecord] = field(default_factory=list)
    start: dict = field(default_factory=dict)  # the current rung's start weights (its learning distance)
    positions: dict = field(default_factory=dict)  # prunable weight name -> output positions per sample (core/macs.py)
    # A student's teacher: its forward MACs per sample (at its rung's kept weights) and whether its logits are
    # computed once for the phase (cached: no augmentation) or once per student batch.
    teacher_macs: int = 0
    teacher_cached: bool = False

    def forward_macs(self, dense: bool = False) -> int:
        """Forward MACs per sample of the prunable layers: at the current masks, or with every weight kept."""
        return macs.total_macs(self.positions, self.masks.sizes() if dense else self.masks.kept_by_layer())

    def cursor(self, rung: int, epoch: int = 0, rung_done: bool = True, stopped_early: bool = False) -> Cursor:
        return Cursor(self.name, rung, epoch, rung_done, self.phases_done, stopped_early=stopped_early)


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
        self.run_id: str | None = None  # set when the run starts (record/run_identity.py)
        self.teacher_macs = 0  # the student's teacher's forward MACs per sample (load_teacher)
        # (phase, layer names) on CSR kernels at the last rung; a log line says when they change
        self.csr_layers: tuple[str, list[str]] | None = None

    # ------------------------------------------------------------------ the run
    def run(self) -> ev.RunStatus:
        """Returns the final status: completed | stopped (an active criterion with action "stop" ended a
        phase early) | interrupted. Raises RunFailed/UsageError."""
        start = time.time()
        p = self.p
        if p.run.threads:
            torch.set_num_threads(p.run.threads)
        self.device = pick_device(p.run.device)
        self.state = ladder_resume.load_state(self.rundir.path, self.resume)
        cursor = ladder_resume.first_cursor(self.state)
        bundle = self.preloaded or load_data(p.data, p.run.seed)
        fingerprint = run_identity.data_fingerprint(bundle)  # recorded, and checked on resume (runner.resume_from)
        self.data = bundle.to(self.device)
        self.preloaded = None
        self.speed = Speed.from_profile(p.train, self.device, self.data.images, p.run.threads)
        self.speed.apply_backends()
        self.channels_last = self.speed.channels_last
        self.batcher = Batcher(self.data, self.device, self.channels_last)
        phases = ["teacher"] + (["student"] if p.distill.enabled else [])
        env = {**environment(self.device, p.run.threads, p.to_dict()), "speed": self.speed.describe()}
        if self.speed.sparse_kernels:  # which layers can take them: the run-started line says so
            env["speed"]["sparse_kernels_layers"] = {phase: self.csr_candidates(phase) for phase in phases}
        self.emit(ev.RunStarted(name=p.run.name, run_dir=str(self.rundir.path), profile=p.to_dict(),
                                environment=env, phases=phases, rungs=p.prune.rungs, resumed=self.resume,
                                data={**data_facts(self.data, p.data, p.distill.teacher), "fingerprint": fingerprint}))
        # the first start time is the log's (a resume keeps it): every file the run writes for itself carries this
        self.run_id = run_identity.run_id(p.to_dict(), self.rundir.builder.started)
        if not self.resume:
            self.emit(ev.Log(message=f"data: {self.data.name}, {len(self.data.train)} train / {len(self.data.val)} "
                                     f"val / {len(self.data.test)} test, noise {self.data.noise['train_rate']:.3f} "
                                     f"realised on train ({self.data.noise.get('noise_type', 'symmetric')}, "
                                     f"{self.data.noise['val_rate']:.3f} on val)"))
            if self.speed.sparse_kernels and self.device.type != "cpu":  # only when forced on (true)
                self.emit(ev.Warning(message=f"train.sparse_kernels on {self.device.type}: the CSR kernels were "
                                             f"measured on the CPU only; on a GPU dense kernels are usually faster "
                                             f"(docs/benchmarks.md)"))
            if p.distill.teacher == "best-test":
                split = ("no validation split: the validation metrics are the test set's" if self.data.noise.get(
                    "val_is_test") else "the validation split is kept but not used to pick the teacher")
                self.emit(ev.Warning(message=f"distill.teacher = best-test: the teacher is the teacher rung with the "
                                             f"best test accuracy (the authors' protocol; the test set is used for "
                                             f"selection); {split}"))
            if self.data.noise.get("checksums_verified") is False:
                self.emit(ev.Warning(message=f"the {self.data.name} files in {p.data.path} do not match the official "
                                             f"checksums; they are used as found (structure and labels checked)"))
        self.saver = ladder_resume.StateSaver(self.rundir, p, self.run_id)
        stopped = False
        try:
            for phase in phases:
                if phase in cursor.phases_done:  # finished before a resume
                    stopped |= self.rundir.builder.stopped_early(phase)
                    continue
                resume_here = self.state is not None and cursor.phase == phase
                outcome = self.run_phase(phase, cursor if resume_here else None, cursor.phases_done)
                cursor = Cursor(phase=phase, phases_done=cursor.phases_done + (phase,))
                if outcome == "interrupted":
                    return self._interrupted(f"stopped by request after the rung finished; resume with "
                                             f"`dsd-tui resume {self.rundir.path}`")
                stopped |= outcome == "stopped"
        except Interrupted:
            self.saver.flush()  # the last epoch end is on disk before we say "resumable"
            return self._interrupted(f"stopped at the end of a batch with its state saved; resume with "
                                     f"`dsd-tui resume {self.rundir.path}`")
        finally:
            self.saver.close()
        status: ev.RunStatus = "stopped" if stopped else "completed"
        self.emit(ev.RunFinished(status=status, seconds=time.time() - start))
        return status

    def _interrupted(self, reason: str) -> ev.RunStatus:
        self.emit(ev.RunInterrupted(reason=reason))
        return "interrupted"

    # ------------------------------------------------------------------ one phase
    def run_phase(self, phase: str, cursor: Cursor | None, phases_done: tuple) -> str:
        """Returns "done", "stopped" (an active criterion with action "stop" ended it early) or
        "interrupted" (stop_after_rung)."""
        ph, teacher_info = self.start_phase(phase, cursor, phases_done)
        start = self.resume_phase(ph, cursor) if cursor is not None else StartPoint()
        self.emit(ev.PhaseStarted(phase=phase, arch=ph.arch, rungs=self.p.prune.rungs,
                                  prunable_weights=ph.masks.total(), teacher=teacher_info,
                                  layer_weights=ph.masks.sizes()))
        stopped = start.stopped_early
        for rung in range(start.rung, self.p.prune.rungs + 1):
            outcome = self.run_rung(ph, rung, start if start.mid_rung(rung) else None)
            if outcome == "stop":
                stopped = True
                break
            if outcome == "next" and self.stop_after_rung() and rung < self.p.prune.rungs:
                return "interrupted"
        self.emit(ev.PhaseFinished(phase=phase, best_rung=best_rung(ph.records), rungs_trained=len(ph.records),
                                   stopped_early=stopped, verdict=self.verdict(phase, trained(ph.records))))
        return "stopped" if stopped else "done"

    def arch_of(self, phase: str) -> str:
        return (self.p.distill.arch or self.p.model.arch) if phase == "student" else self.p.model.arch

    def csr_candidates(self, phase: str) -> list[str]:
        """The phase network's layers large enough for the CSR kernels, from the network built on the meta
        device (no memory, no weights drawn, so the run's random numbers are untouched)."""
        with torch.device("meta"):
            model = build_model(self.arch_of(phase), self.p.model, self.data.input_shape, self.data.num_classes)
        return candidate_layers(model)

    def start_phase(self, phase: str, cursor: Cursor | None, phases_done: tuple) -> tuple[PhaseRun, dict | None]:
        """Build the phase's network (seeded from the run seed and the phase) and, for the student, its
        teacher and KD loss."""
        p = self.p
        arch = self.arch_of(phase)
        init_from = self.student_init(arch) if phase == "student" else "teacher"
        # "teacher": drawn exactly as the teacher phase drew its dense init
        torch.manual_seed(p.run.seed * 1000 + PHASE_SEED["teacher" if init_from == "teacher" else phase])
        model = self.speed.place(build_model(arch, p.model, self.data.input_shape, self.data.num_classes),
                                 self.device)
        masks = Masks(model)
        positions = macs.output_positions(
            lambda: build_model(arch, p.model, self.data.input_shape, self.data.num_classes), masks.params,
            self.data.input_shape)
        self.train_forward = self.speed.forward_of(model)  # masks and state dict stay on `model`
        gen = torch.Generator(device=self.device).manual_seed(p.run.seed * 7919 + PHASE_SEED[phase])
        rewind_state = RETRAIN_MODES.get(p.prune.retrain).initial_rewind_state(p.prune, model)
        ph = PhaseRun(phase, arch, model, masks, gen, rewind_state, phases_done, positions=positions)
        teacher_info = None
        if phase == "student":
            teacher, teacher_info = self.load_teacher(cursor)
            teacher_info["student_init"] = init_from
            ph.loss_fn = self.kd_loss_fn(teacher)
            ph.teacher_macs, ph.teacher_cached = self.teacher_macs, not self.data.augment
        return ph, teacher_info

    def student_init(self, arch: str) -> str:
        """Where the student's dense weights come from: "teacher" (drawn exactly as the teacher phase drew
        its dense init, the authors' behaviour) or "fresh" (the student phase's own seed)."""
        if self.p.distill.student_init == "teacher" and arch == self.p.model.arch:
            return "teacher"
        return "fresh"

    def resume_phase(self, ph: PhaseRun, cursor: Cursor) -> StartPoint:
        """Put the saved state back into the freshly built phase; returns where its rung loop continues."""
        ph.masks, rewind = ladder_resume.restore(self.state, ph.model, ph.gen)
        if rewind is not None:
            ph.rewind_state = rewind
        ph.records = ladder_resume.records_before(self.rundir.builder.records(ph.name), cursor)
        return ladder_resume.start_point(cursor, self.state, self.p.prune.rungs)

    # ------------------------------------------------------------------ one rung
    def run_rung(self, ph: PhaseRun, rung: int, resume: StartPoint | None) -> str:
        """One rung of the method: prune, retrain, measure, check the stop criteria, save. `resume`:
        the rung continues from a saved epoch end (already pruned). Returns "next", "stop" (the active
        criterion fired with action "stop") or "diverged"."""
        if rung > 0 and resume is None:
            self.prune(ph, rung)
        try:
            seconds = self.retrain(ph, rung, resume)
            record, entropy_counts = self.measure(ph, rung, seconds)
        except Diverged as d:
            ph.records.append(self.diverged(ph, rung, d.epoch))
            self.save_rung_end(ph, rung)
            return "diverged"
        self.keep(ph, rung, record, entropy_counts)
        stop_here = self.check_stops(ph.name, trained(ph.records)) and self.p.stop.action == "stop"
        self.save_rung_end(ph, rung, stopped_early=stop_here)
        return "stop" if stop_here else "next"

    def prune(self, ph: PhaseRun, rung: int) -> None:
        """Prune, then set the weights the rung retrains from (per the retraining mode)."""
        self.cut(ph, rung)
        RETRAIN_MODES.get(self.p.prune.retrain).start_rung(
            self.p.prune, ph.model, ph.rewind_state, self.p.run.seed * 1000 + PHASE_SEED[ph.name] * 100 + rung)
        ph.masks.zero_pruned()

    def cut(self, ph: PhaseRun, rung: int) -> None:
        """One rung's pruning, by prune.criterion (a CRITERIA entry) / scope / output_layer (the paper's:
        magnitude, global, all). The criterion's scores rank the kept weights in scope (core/criteria/)."""
        cfg = self.p.prune
        names = [n for n in ph.masks.params if cfg.output_layer or n != output_layer_name(ph.model)]
        seed = self.p.run.seed * 100_003 + PHASE_SEED[ph.name] * 1_009 + rung
        gen = torch.Generator(device=next(iter(ph.masks.params.values())).device).manual_seed(seed)

        def draw():  # one training batch, no augmentation, drawn with the rung's generator
            idx = score_batch(len(self.data.train), self.p.data.batch_size, gen)
            return self.batcher.prepare(self.data.train.x[idx]), self.data.train.y[idx], idx
        # the global RNG's seed for the call: bit 62 set, so it is never one of the generators' seeds (< 2^48)
        request = CutRequest(ph.model, ph.masks.params, names, gen, seed ^ (1 << 62), ph.loss_fn or ce_loss,
                             once(draw), ph.name, rung)
        criteria_cut(CRITERIA.get(cfg.criterion), ph.masks, request, cfg.rate, cfg.scope)

    def rung_epochs(self, rung: int) -> int:
        return self.p.train.dense_epochs if rung == 0 else self.p.train.epochs

    def retrain(self, ph: PhaseRun, rung: int, resume: StartPoint | None) -> float:
        """Train the rung's epochs (from a saved epoch end when resuming); returns the training seconds."""
        p = self.p
        epochs = self.rung_epochs(rung)
        mode = RETRAIN_MODES.get(p.prune.retrain)
        lr, milestones = mode.schedule(p.prune, p.train, rung)
        # Built after `prune` set this rung's weights and mask: it steps the kept weights only.
        opt = make_optimizer(ph.model.parameters(), p.train.optimizer, lr, p.train.momentum, p.train.weight_decay,
                             masks=ph.masks)
        sched = make_scheduler(opt, milestones, p.train.lr_gamma)
        seconds, first_epoch = 0.0, 1
        if resume is not None:
            opt.load_state_dict(resume.saved["optimizer"])
            sched.load_state_dict(resume.saved["scheduler"])
            seconds = float(resume.saved.get("rung_seconds", 0.0))
            first_epoch = resume.epoch + 1
        ph.start = self.rung_start(ph, rung, resume is not None)
        self.emit(ev.RungStarted(phase=ph.name, rung=rung, sparsity=ph.masks.sparsity(), epochs=epochs))
        autocast = self.autocast()
        rewind_at = self.rewind_point() if rung == 0 else None
        reset_gpu_peak(self.device)  # gpu_peak_mb: the peak of this rung (a resumed rung: since the resume)
        with self.speed.rung_kernels(ph.model, opt) as csr_layers:  # train.sparse_kernels: CSR, sparsest Linears
            self.note_csr_layers(ph.name, rung, csr_layers)
            for epoch in range(first_epoch, epochs + 1):
                t0 = time.time()
                lr_now = opt.param_groups[0]["lr"]
                kept: dict = {}
                keep_step = None
                if rewind_at is not None and rewind_at[0] == epoch:
                    def keep_step(i, want=rewind_at[1]):
                        if i == want:
                            kept["state"] = {k: v.detach().clone() for k, v in ph.model.state_dict().items()}
                res = train_epoch(self.train_forward, ph.masks, self.batcher, self.data.train, p.data.batch_size,
                                  ph.gen, opt, ph.loss_fn or ce_loss, autocast, self.should_stop, keep_step)
                sched.step()
                if not res.finite:
                    raise Diverged(epoch)
                if "state" in kept:
                    ph.rewind_state = kept["state"]
                if mode.rewind_epoch(p.prune, rung) == epoch:
                    ph.rewind_state = {k: v.detach().clone() for k, v in ph.model.state_dict().items()}
                dt = time.time() - t0
                seconds += dt
                self.saver.save(ph.model, ph.masks, ph.gen, opt, sched, ph.cursor(rung, epoch, rung_done=False),
                                ph.rewind_state, rung_seconds=seconds, force=epoch == epochs, epoch_seconds=dt)
                self.emit(ev.EpochFinished(phase=ph.name, rung=rung, epoch=epoch, epochs=epochs,
                                           train_loss=res.loss, train_acc=res.acc, lr=lr_now, seconds=dt))
        return seconds

    def rung_start(self, ph: PhaseRun, rung: int, resuming: bool) -> dict:
        """The weights this rung starts from (for its learning distance): taken now and written beside the
        resume state, or, resuming mid-rung, read back from there (empty if missing or of another rung)."""
        path = self.rundir.rung_start_path()
        if resuming:
            saved = safe_torch_load(path, "rung start weights") if path.is_file() else {}
            return saved.get("weights", {}) if (saved.get("phase"), saved.get("rung")) == (ph.name, rung) else {}
        start = learning_distance.snapshot(ph.masks.params)
        self.rundir.save_torch(RUNG_START, {
            "phase": ph.name, "rung": rung, "weights": {n: t.cpu() for n, t in start.items()}})
        return start

    def rewind_point(self) -> tuple[int, int] | None:
        """The dense-rung (epoch, step within it), both 1-based, whose weights the retraining mode rewinds
        to (prune.rewind_step); else None."""
        per_epoch = steps_per_epoch(len(self.data.train), self.p.data.batch_size)
        return RETRAIN_MODES.get(self.p.prune.retrain).rewind_point(self.p.prune, per_epoch)

    def measure(self, ph: PhaseRun, rung: int, train_seconds: float) -> tuple[RungRecord, dict | None]:
        """The rung's record, complete (accuracies and losses on train/val/test, the layer entropies, time,
        memory, regime), and the raw entropy counters its checkpoint keeps (None with entropy off)."""
        t0 = time.time()
        autocast = self.autocast()
        model = ph.model
        train, meter = measure_train(model, self.batcher, self.data.train, self.p.entropy.enabled, autocast)
        val = evaluate(model, self.batcher, self.data.val, autocast)
        test = evaluate(model, self.batcher, self.data.test, autocast)
        if not math.isfinite(train["loss"]):  # the last step left non-finite weights
            raise Diverged(self.rung_epochs(rung))
        entropy = meter.layer_entropy() if meter is not None else {}
        entropy_counts = meter.raw() if meter is not None else None
        entropy_mean = mean_entropy(entropy)
        label = regime.label([*trained(ph.records), regime.Signals(train["acc"], train["acc_clean"], entropy_mean)],
                             self.data.noise["train_rate"])
        record = measured_record(
            rung, ph.masks.kept(), ph.masks.total(), train, val, test, entropy, entropy_mean, self.rung_epochs(rung),
            learning_distance.distance(ph.start, ph.masks.params),
            seconds=train_seconds + (time.time() - t0),
            layer_sparsity=layer_sparsity(ph.masks.kept_by_layer(), ph.masks.sizes()),
            peak_rss_mb=peak_rss_mb(),  # the process's peak so far (record/memory.py)
            gpu_peak_mb=gpu_peak_mb(self.device) if self.device.type == "cuda" else None,
            regime=label, compute=self.compute(ph, rung, self.rung_epochs(rung)))
        return record, entropy_counts

    def compute(self, ph: PhaseRun, rung: int, epochs: int) -> dict:
        """The rung's MACs fields (core/macs.py; counting rules in docs/design.md "Compute"): its forward MACs
        per sample, dense and kept; its training MACs: 3 × forward × samples seen in `epochs`, plus a student's
        teacher forwards as run (once per sample for the phase when cached, charged to its first rung, rung 0,
        also after a resume; else once per sample seen); and for a student, its overlap with the teacher's
        kept set at this rung (from the teacher's masks file). Gradient scoring and the measuring passes are
        not in train_macs."""
        kept = ph.forward_macs()
        samples = epochs * len(self.data.train)
        teacher = 0
        if ph.teacher_macs:
            teacher = ph.teacher_macs * (len(self.data.train) if rung == 0 else 0) if ph.teacher_cached else \
                ph.teacher_macs * samples
        train = macs.TRAIN_FACTOR * kept * samples + teacher
        return compute_fields(ph.forward_macs(dense=True), kept, train, [r for r in ph.records if r.rung < rung],
                              self.teacher_overlap(ph, rung))

    def teacher_overlap(self, ph: PhaseRun, rung: int) -> tuple[float | None, dict] | None:
        """(IoU, per-layer IoU) of a student rung's masks with the teacher's at the same rung; None for the
        teacher phase; (None, {}) when the teacher has no masks file of that rung."""
        if ph.name != "student":
            return None
        path = self.rundir.masks_path("teacher", rung)
        if not path.is_file():
            return None, {}
        return overlap.iou(ph.masks.masks, masks_file.load_masks(path))

    def note_csr_layers(self, phase: str, rung: int, layers: list[str]) -> None:
        """A log line when the layers on CSR kernels change (a layer fell under the density threshold)."""
        before = self.csr_layers or (phase, [])
        if before != (phase, layers) and (layers or before[0] == phase):
            self.emit(ev.Log(message=f"{phase} rung {rung}: CSR kernels for "
                                     f"{', '.join(layers) or 'no layer'} (train.sparse_kernels)"))
        self.csr_layers = (phase, layers)

    def keep(self, ph: PhaseRun, rung: int, record: RungRecord, entropy_counts: dict | None) -> None:
        """Add the rung's record, write its checkpoint (with the raw entropy counters), then announce it (and
        any layer that collapsed or nearly did at this rung)."""
        previous = trained(ph.records)[-1].layer_sparsity if trained(ph.records) else None
        ph.records.append(record)
        self.rundir.save_checkpoint(ph.name, rung, {
            "state_dict": {k: v.detach().cpu() for k, v in ph.model.state_dict().items()},
            "masks": ph.masks.state(), "phase": ph.name, "rung": rung, **self.arch_facts(ph.arch),
            "entropy_counts": entropy_counts, run_identity.RUN_ID: self.run_id})
        self.rundir.save_masks(ph.name, rung, masks_file.packed(ph.name, rung, ph.masks.masks))
        self.emit(ev.RungFinished(phase=ph.name, rung=rung, record=record))
        for c in worsened(previous, record.layer_sparsity, ph.masks.sizes()):
            self.emit(ev.LayerCollapse(phase=ph.name, rung=rung, **c))

    def arch_facts(self, arch: str) -> dict:
        """What rebuilds a checkpoint's network without the run (export/rung_model.py reads these keys):
        the registry name, the build's arguments (the profile's [model] section as a plain dict), one
        sample's shape and the class count."""
        return {"arch": arch, "arch_args": dataclasses.asdict(self.p.model),
                "input_shape": [int(d) for d in self.data.input_shape], "num_classes": self.data.num_classes}

    def save_rung_end(self, ph: PhaseRun, rung: int, stopped_early: bool = False) -> None:
        """The resume state at a finished rung, on disk before the next rung starts."""
        self.saver.save(ph.model, ph.masks, ph.gen, None, None, ph.cursor(rung, stopped_early=stopped_early),
                        ph.rewind_state, force=True)

    def diverged(self, ph: PhaseRun, rung: int, epoch: int) -> RungRecord:
        """Record a rung whose loss became NaN/Inf, raise the alert, then fail or (train.on_divergence =
        "next-rung") restore the last good rung's weights under this rung's mask and go on."""
        phase, masks = ph.name, ph.masks
        record = diverged_record(rung, masks.kept(), masks.total(), epoch,
                                 layer_sparsity(masks.kept_by_layer(), masks.sizes()),
                                 compute=self.compute(ph, rung, epoch))
        self.emit(ev.Warning(message=f"{phase} rung {rung} diverged at epoch {epoch}: the loss is NaN/Inf"))
        self.emit(ev.RungFinished(phase=phase, rung=rung, record=record))
        good = [r.rung for r in trained(ph.records)]
        if self.p.train.on_divergence == "fail" or not good:
            why = "" if good else " (no earlier rung to go on from)"
            raise RunFailed(f"{phase} rung {rung} diverged at epoch {epoch} (loss is NaN/Inf){why}; lower "
                            f"train.lr (or prune.finetune_lr) or set train.on_divergence = \"next-rung\"")
        ck = safe_torch_load(self.rundir.checkpoint_path(phase, good[-1]), "checkpoint")
        run_identity.check_checkpoint(self.rundir.checkpoint_path(phase, good[-1]), ck, self.run_id, phase, good[-1])
        ph.model.load_state_dict(ck["state_dict"])
        masks.zero_pruned()
        self.emit(ev.Log(message=f"{phase} rung {rung}: restored the weights of rung {good[-1]} under this "
                                 f"rung's mask; going on with the next rung"))
        return record

    def check_stops(self, phase: str, records: list[RungRecord]) -> bool:
        """Report every criterion that fires at this rung; True when the phase's active one did."""
        cfg = self.p.stop
        active_name = cfg.active if phase == "teacher" else cfg.active_student
        plan = self.plan(phase)
        fired_active = False
        for f in criteria.newly_fired(records, cfg):
            active = f.criterion == active_name
            fired_active |= active
            self.emit(ev.StopFired(phase=phase, rung=f.rung, criterion=f.criterion, reason=f.reason,
                                   selected_rung=f.selected_rung, active=active,
                                   action=cfg.action if active else "shadow",
                                   details=firing_details(records, f.rung, f.selected_rung, plan)))
        return fired_active

    # ------------------------------------------------------------------ pieces
    def plan(self, phase: str) -> Plan:
        """The phase's ladder as configured, with what its training MACs need (stops/outcome.py)."""
        teacher = self.teacher_macs if phase == "student" and self.data.augment else 0  # per batch: not cached
        return Plan.from_profile(self.p.prune, self.p.train, len(self.data.train), teacher)

    def verdict(self, phase: str, records: list[RungRecord]) -> Verdict | None:
        teacher = None
        if phase == "student":  # the teacher's verdict (an empty one when it has none: the student's says so)
            teacher = verdicts.phase_verdict(self.rundir.builder.records("teacher"), len(self.data.test)) or Verdict()
        return verdicts.phase_verdict(records, len(self.data.test), teacher, self.plan(phase))

    def load_teacher(self, cursor: Cursor | None):
        p = self.p
        choice = p.distill.teacher
        own = choice in ("best", "dense", "best-test")  # the teacher is one of this run's checkpoints
        if cursor is not None and self.state.get("teacher_path"):
            saved = Path(self.state["teacher_path"])
            # The run's own checkpoint is found in the run directory wherever it now lives (states written
            # before 0.3 stored the path as seen from the starting cwd); a checkpoint given by PATH is absolute.
            path = self.rundir.path / own_checkpoint(saved.name) if own else saved
        elif own:
            records = self.rundir.builder.records("teacher")
            rung = {"best": best_rung, "best-test": best_test_rung}.get(choice, lambda _r: 0)(records)
            if rung is None:
                raise RunFailed("no teacher rung finished; the student phase has no teacher")
            path = self.rundir.checkpoint_path("teacher", rung)
        else:
            path = expand(choice, "distill.teacher").absolute()
        model, ck = load_teacher_model(path, p.model, p.model.arch, self.data.input_shape, self.data.num_classes)
        if own:  # one of this run's checkpoints: its identity, phase and rung are checked against the log
            run_identity.check_checkpoint(path, ck, self.run_id, "teacher", rung_of(path.name))
        arch = ck.get("arch", p.model.arch)
        self.teacher_macs = self.kept_macs(model, ck, arch)
        model = self.speed.place(model, self.device).eval()
        for q in model.parameters():
            q.requires_grad_(False)
        # saved with the state, so a resume reloads this teacher: relative to the run directory when it is one of
        # the run's checkpoints (a moved run, or a resume from another cwd, finds it), else absolute
        self.saver.teacher_path = own_checkpoint(path.name) if own else str(path)
        info = {"source": choice if choice in ("best", "dense", "best-test") else "path", "path": str(path),
                "rung": ck.get("rung"), "arch": arch}
        rec = next((r for r in self.rundir.builder.records("teacher") if r.rung == ck.get("rung")), None)
        if rec is not None and info["source"] != "path":
            info.update(test_acc=rec.test_acc, val_acc=rec.val_acc, sparsity=rec.sparsity)
        return model, info

    def kept_macs(self, model: nn.Module, ck: dict, arch: str) -> int:
        """A loaded network's forward MACs per sample at its checkpoint's masks (a checkpoint without masks:
        its nonzero weights)."""
        params = Masks(model).params
        saved = ck.get("masks") if isinstance(ck.get("masks"), dict) else {}
        kept = {n: int(torch.count_nonzero(saved[n] if n in saved else p)) for n, p in params.items()}
        positions = macs.output_positions(
            lambda: build_model(arch, self.p.model, self.data.input_shape, self.data.num_classes), params,
            self.data.input_shape)
        return macs.total_macs(positions, kept)

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


def steps_per_epoch(samples: int, batch_size: int) -> int:
    """Optimizer steps in one epoch (the last short batch is kept)."""
    return max(1, math.ceil(samples / batch_size))
