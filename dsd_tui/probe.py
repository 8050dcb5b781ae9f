"""A measured price for a run before it starts: a few real epochs of the profile's own ladder on this
device, timed and scaled to the whole ladder (`dsd-tui doctor`, `dsd-tui sweep --dry-run`).

Why a real ladder rather than a per-step table: what a run costs is not only its training steps but the
rung's evaluation and entropy passes, the teacher's forward pass in the student phase, the checkpoint and
resume-state writes, and the speed modes a profile turns on; all of them are in `Ladder` and run here
exactly as in a run. The probe runs the profile with one pruned rung (a dense rung of one epoch, which
also absorbs the warm-up and any compile, then a rung of two epochs) on the first `steps` batches of
its training set and as many validation and test samples, in a temporary run directory that is removed
afterwards. From its events it takes, per phase: the seconds of a warm training step (the last epoch),
the seconds of the rung's measuring passes per sample measured, and the rest of a rung's time (pruning,
checkpoint, stop checks); and the seconds outside the rungs. The estimate is

    fixed + Σ phases Σ rungs (epochs × steps per epoch × step seconds + measured samples × measure seconds
    per sample + rung rest)

with the profile's real epochs, rungs and split sizes. The probe's own cost is a few epochs of
`steps` batches per phase (seconds for an MLP on a CPU, about a second for ResNet-18 on a GPU).
"""
from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROBE_STEPS = 8  # training batches per probe epoch (fewer if the training set is smaller)


@dataclass(frozen=True)
class PhaseCost:
    """One phase's measured unit costs, in seconds."""

    step_s: float  # one warm training step at the profile's batch size
    measure_s_per_sample: float  # the rung's measuring passes (train with entropy, val, test), per sample
    rung_rest_s: float  # the rest of a rung: prune, rung start, checkpoint, stop checks


@dataclass(frozen=True)
class Estimate:
    """A run's measured price: `seconds` for the whole ladder, from `phases` unit costs and `fixed_s`;
    `checkpoint_bytes` (one rung checkpoint) and `state_bytes` (the state folder) as the probe wrote them;
    `probe_s` what the probe itself took."""

    seconds: float
    fixed_s: float
    phases: dict  # phase -> PhaseCost
    checkpoint_bytes: int
    state_bytes: int
    probe_s: float
    device: str
    steps_per_epoch: int  # of the profile measured
    samples_measured: int  # train + val + test per rung, of the profile measured
    masks_bytes: int = 0  # one rung's masks file (masks/, kept for every rung whatever the retention)

    def scaled(self, prof) -> float:
        """The seconds of another profile with the same model, data and batch size (a sweep's grid point
        varying epochs, rungs, noise or seeds): the same unit costs, its own epochs and rungs."""
        return self.fixed_s + sum(scaled_phase(c, prof, self.steps_per_epoch, self.samples_measured)
                                  for c in self.phases.values())

    def line(self) -> str:
        return f"≈ {hours_minutes(self.seconds)} on {self.device} (measured: a {self.probe_s:.0f} s probe of the " \
               f"profile's own ladder, scaled to its epochs)"


def hours_minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


class _Clock:
    """The event sink that notes when each rung ended and what its epochs took."""

    def __init__(self):
        self.epochs: dict = {}  # (phase, rung) -> [epoch seconds]
        self.rung_end: dict = {}  # (phase, rung) -> wall time of rung_finished
        self.rung_seconds: dict = {}  # (phase, rung) -> the record's seconds (training + measuring)
        self.phase_start: dict = {}

    def __call__(self, event) -> None:
        kind = type(event).__name__
        if kind == "PhaseStarted":
            self.phase_start[event.phase] = time.perf_counter()
        elif kind == "EpochFinished":
            self.epochs.setdefault((event.phase, event.rung), []).append(event.seconds)
        elif kind == "RungFinished":
            self.rung_end[(event.phase, event.rung)] = time.perf_counter()
            self.rung_seconds[(event.phase, event.rung)] = event.record.seconds


def small_bundle(data, steps: int, batch_size: int):
    """The first `steps` batches of the training set and as many validation and test samples."""
    from dsd_tui.core.data import DataBundle, Split

    n = steps * batch_size

    def head(split, count):
        return Split(split.x[:count], split.y[:count], split.y_clean[:count])
    return DataBundle(data.name, head(data.train, n), head(data.val, n), head(data.test, n), data.num_classes,
                      data.input_shape, data.images, data.augment, dict(data.noise), data.mean, data.std)


def probe_profile(prof, out: str):
    """The profile as the probe runs it: one pruned rung (dense 1 epoch, then 2), nothing exported."""
    r = dataclasses.replace
    return r(prof, run=r(prof.run, out=out, tensorboard=False, wandb=False, name="probe"),
             train=r(prof.train, dense_epochs=1, epochs=2), prune=r(prof.prune, rungs=1))


def measure(prof, data, steps: int = PROBE_STEPS) -> Estimate:
    """Run the probe for `prof` on `data` (the run's DataBundle, as `runner.preflight` returns it) and
    scale it to the profile's ladder."""
    from dsd_tui.core.ladder import pick_device, steps_per_epoch
    from dsd_tui.record.rundir import FOLDERS, PROFILE, atomic_write_text
    from dsd_tui.runner import RunSession

    batch = prof.data.batch_size
    real_steps = steps_per_epoch(len(data.train), batch)
    steps = max(1, min(steps, real_steps))
    small = small_bundle(data, steps, batch)
    tmp = Path(tempfile.mkdtemp(prefix="dsd-tui-probe-"))
    clock = _Clock()
    try:
        path = tmp / "probe"
        for sub in FOLDERS:
            (path / sub).mkdir(parents=True)
        small_prof = probe_profile(prof, str(tmp))
        atomic_write_text(path / PROFILE, small_prof.to_toml())
        t0 = time.perf_counter()
        session = RunSession(small_prof, path, resume=False, sinks=[clock], data=small)
        status = session.run()
        probe_s = time.perf_counter() - t0
        if status not in ("completed", "stopped"):
            from dsd_tui.errors import RunFailed
            raise RunFailed(f"the timing probe did not finish ({status}: {session.error})")
        session.rundir.close()
        checkpoints = sorted((path / "checkpoints").glob("*.pt"))
        checkpoint_bytes = max((c.stat().st_size for c in checkpoints), default=0)
        state_bytes = sum(f.stat().st_size for f in (path / "state").rglob("*") if f.is_file())
        masks_bytes = max((f.stat().st_size for f in path.glob("masks/*") if f.is_file()), default=0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    measured_small = len(small.train) + len(small.val) + len(small.test)
    measured_real = len(data.train) + len(data.val) + len(data.test)
    phases, inside = {}, 0.0
    for phase in clock.phase_start:
        warm = clock.epochs[(phase, 1)][-1]
        trained = sum(clock.epochs[(phase, 1)])
        measure_s = max(0.0, clock.rung_seconds[(phase, 1)] - trained)
        wall = clock.rung_end[(phase, 1)] - clock.rung_end[(phase, 0)]
        phases[phase] = PhaseCost(warm / steps, measure_s / measured_small, max(0.0, wall - trained - measure_s))
        inside += clock.rung_end[(phase, 1)] - clock.phase_start[phase]
    # outside the rungs: the run's start, each phase's start (model, teacher), its dense rung's extra cost
    # beyond a warm rung (warm-up, compile): the probe's wall time not explained by its warm rungs
    explained = sum(scaled_phase(c, prof, steps, measured_small, rungs=1, dense_epochs=1, epochs=2)
                    for c in phases.values())
    fixed = max(0.0, probe_s - explained) if inside else probe_s
    total = fixed + sum(scaled_phase(c, prof, real_steps, measured_real) for c in phases.values())
    return Estimate(total, fixed, phases, checkpoint_bytes, state_bytes, probe_s, str(pick_device(prof.run.device)),
                    real_steps, measured_real, masks_bytes)


def cost_key(prof) -> str:
    """What a probe's unit costs depend on (the model, the data and its sizes, the batch size, the speed
    modes, distillation, entropy, the device): grid points that differ only in epochs, rungs, noise, seeds,
    learning rates or stop and prune settings share one probe."""
    d, t = prof.data, prof.train
    return repr((prof.model, d.dataset, d.path, d.noisy_labels, d.train_size, d.val_size, d.batch_size,
                 t.optimizer, t.precision, t.compile, t.sparse_kernels, prof.distill.enabled, prof.distill.arch,
                 prof.distill.teacher, prof.entropy.enabled, prof.run.device, prof.run.threads))


def scaled_phase(c: PhaseCost, prof, steps: int, samples: int, rungs: int | None = None,
                 dense_epochs: int | None = None, epochs: int | None = None) -> float:
    """One phase's seconds: every rung's training steps, measuring passes and rest."""
    rungs = prof.prune.rungs if rungs is None else rungs
    dense = prof.train.dense_epochs if dense_epochs is None else dense_epochs
    per_rung = prof.train.epochs if epochs is None else epochs
    total_epochs = dense + rungs * per_rung
    return total_epochs * steps * c.step_s + (rungs + 1) * (samples * c.measure_s_per_sample + c.rung_rest_s)
