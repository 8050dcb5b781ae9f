"""What a sweep will cost, before it runs (`dsd-tui sweep --dry-run`).

Exact: ladders, phases, epochs and optimizer steps (epochs × ceil(training samples / batch size), per
phase). Estimated: wall time, as steps × a per-step time for the architecture:

- mlp (and lenet300) on one CPU core: 3.1 ms per step for the quickstart's 64-512-512-10 MLP, all-in
  (training, the per-rung evaluation and entropy passes, checkpoints): the README's 55 s quickstart
  (2 phases × 1,120 epochs × 8 steps = 17,920 steps). Other MLPs are scaled by their multiply-adds
  per sample, with a floor of 0.3 of it (the per-step overhead does not shrink with the layers).
- resnet18 and vgg on one GPU: 10 ms per step, the middle of the 5-20 ms range that docs/scaling.md
  prices the paper's grid at. Not measured here (no GPU on the project's CPU machines); substitute
  your own step time: GPU-hours are linear in it.
- a plugin's network (which declares neither): the quickstart's 3.1 ms per step on a CPU core.

Each architecture declares its GPU step time or hidden widths, each data set its size and input shape
(core/archs/, core/datasets/); a plugin data set not imported yet counts as 50,000 CIFAR-shaped samples.

So the time is an order of magnitude, said as such; the step counts are exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from math import prod

from dsd_tui.core.archs import ARCHITECTURES
from dsd_tui.core.datasets import DATASETS

QUICKSTART_MACS = 64 * 512 + 512 * 512 + 512 * 10
MLP_MS, MLP_FLOOR = 3.1, 0.3
DEFAULT_TRAIN, DEFAULT_INPUT = 50000, (3, 32, 32)  # what an unknown data set is priced as


@dataclass(frozen=True)
class Cost:
    ladders: int
    phases: int  # per ladder
    epochs: int  # all ladders, all phases
    steps: int  # all ladders, all phases
    ms_per_step: float
    device: str  # "CPU core" | "GPU"

    @property
    def hours(self) -> float:
        return self.steps * self.ms_per_step / 3.6e6

    def line(self) -> str:
        when = f"{self.hours * 60:.0f} min" if self.hours < 2 else f"{self.hours:.1f} h"
        return (f"{self.ladders} ladders × {self.phases} phase(s): {self.epochs:,} epochs, {self.steps:,} steps; "
                f"≈ {when} on one {self.device} at ≈ {self.ms_per_step:.1f} ms/step (an estimate: "
                f"docs/lab.md); ladders run in parallel divide the wall time")


def _loaded(registry, name: str):
    """The entry's value without importing a plugin (None for a plugin not imported yet)."""
    if name not in registry:
        return None
    entry = registry.entry(name)
    return entry.value if entry.loaded else None


def train_samples(p) -> int:
    ds = _loaded(DATASETS, p.data.dataset)
    full = (ds.full_train_size(p.data) if ds else None) or DEFAULT_TRAIN
    rest = full - p.data.val_size - (1 if ds and ds.split == "pool" else 0)  # a pool keeps one for its test set
    return min(p.data.train_size, rest) if p.data.train_size else rest


def ladder_epochs(p) -> int:
    return p.train.dense_epochs + p.prune.rungs * p.train.epochs


def step_ms(p) -> tuple[float, str]:
    arch = _loaded(ARCHITECTURES, p.model.arch)
    if arch is not None and arch.gpu_ms_per_step is not None:
        return arch.gpu_ms_per_step, "GPU"
    if arch is None or arch.hidden_widths is None:
        return MLP_MS, "CPU core"
    ds = _loaded(DATASETS, p.data.dataset)
    inputs = prod((ds.input_shape if ds and ds.input_shape else None) or DEFAULT_INPUT)
    widths = [inputs] + arch.hidden_widths(p.model) + [10]
    macs = sum(a * b for a, b in zip(widths, widths[1:]))
    return MLP_MS * max(MLP_FLOOR, macs / QUICKSTART_MACS) * p.data.batch_size / 128, "CPU core"


def estimate(profiles: list) -> Cost:
    """The cost of running every profile (one per ladder) once."""
    epochs = steps = 0
    phases = 1
    ms, device = 0.0, "CPU core"
    for p in profiles:
        phases = 2 if p.distill.enabled else 1
        per_phase = ladder_epochs(p)
        epochs += per_phase * phases
        steps += per_phase * math.ceil(train_samples(p) / p.data.batch_size) * phases
        ms, device = step_ms(p)
    return Cost(len(profiles), phases, epochs, steps, ms, device)


MAX_PROBES = 3  # distinct settings probed by `sweep --dry-run`; a bigger grid keeps the table's estimate


def measured(profiles: list, max_probes: int = MAX_PROBES) -> str:
    """The measured line of `sweep --dry-run`: each distinct model/data/batch setting of the grid probed once
    on this device (dsd_tui/probe.py, a few real epochs), every ladder priced with its probe's unit costs.
    The cheap path for big grids: more than `max_probes` distinct settings, or data a probe cannot load,
    say so and leave the table's estimate above as the price."""
    from dsd_tui.errors import UsageError
    from dsd_tui.probe import cost_key, hours_minutes, measure
    from dsd_tui.runner import preflight

    groups: dict = {}
    for p in profiles:
        groups.setdefault(cost_key(p), []).append(p)
    if len(groups) > max_probes:
        return (f"measured: not probed ({len(groups)} distinct model/data/batch settings > {max_probes}); the table's "
                f"estimate above is the price (`dsd-tui doctor` measures one setting)")
    total, probe_s, device = 0.0, 0.0, ""
    for group in groups.values():
        try:
            data = preflight(group[0])
        except UsageError as e:
            return f"measured: not probed ({e})"
        est = measure(group[0], data)
        total += sum(est.scaled(p) for p in group)
        probe_s += est.probe_s
        device = est.device
    return (f"measured: ≈ {hours_minutes(total)} ({total:,.0f} s) of ladder time on {device}, one after another "
            f"(a {probe_s:.0f} s probe of {len(groups)} setting(s) on this device, scaled to each ladder's epochs)")
