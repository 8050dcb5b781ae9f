"""Epoch loops, evaluation and the distillation loss.

The hot path is plain tensor code: batches come from device-resident tensors, and metrics accumulate
on the device and are read once per epoch (no host sync per step). The ladder's optimizer steps only
the kept weights (`kept_weights.KeptWeightsOptimizer`: pruned weights are never written, bitwise the weights of
the plain path); with a plain torch optimizer, masks are applied in place around its step instead.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dsd_tui.core.data import Batcher, Split
from dsd_tui.core.entropy import EntropyMeter
from dsd_tui.core.kept_weights import KeptWeightsOptimizer
from dsd_tui.core.pruning import Masks
from dsd_tui.errors import RunFailed


class Interrupted(Exception):
    """Raised at a batch boundary when the run was asked to stop (signal, quit key)."""


class MasksBroken(RunFailed):
    """Pruned weights found non-zero at an epoch end: a bug, so the run stops instead of going on wrong."""


def make_optimizer(params, optimizer: str, lr: float, momentum: float, weight_decay: float,
                   masks: Masks | None = None):
    """SGD or Adam over `params`; given the rung's `masks`, a KeptWeightsOptimizer stepping only the kept
    entries of the pruned weights (same weights, bitwise; build it after the rung's weights are set)."""
    if masks is not None:
        return KeptWeightsOptimizer(params, masks,
                                lambda ps: make_optimizer(ps, optimizer, lr, momentum, weight_decay))
    # foreach: one multi-tensor kernel per update step instead of a loop over parameters. On CUDA it is
    # torch's default already; on the CPU it gives bitwise the same weights (tests/speed/test_speed.py), faster.
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, foreach=True)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=True)


def masked_step(opt, masks: Masks) -> None:
    """One optimizer step after backward that leaves every pruned weight at zero: the kept-weights optimizer
    steps the kept entries only; any other optimizer is fenced by the masks (gradients masked before the
    step, weights after it, as the authors' loop does)."""
    if getattr(opt, "keeps_pruned_at_zero", False):
        opt.step()  # steps the kept entries only; pruned weights are never written
    else:
        masks.apply_to_grads()
        opt.step()
        masks.apply_to_weights()


def make_scheduler(opt, milestones: list[int], gamma: float):
    torch_opt = opt.inner if isinstance(opt, KeptWeightsOptimizer) else opt  # schedulers want a torch Optimizer
    return torch.optim.lr_scheduler.MultiStepLR(torch_opt, milestones=list(milestones), gamma=gamma)


def kd_loss(student_logits, teacher_logits, targets, temperature: float, alpha: float):
    """α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) (batch mean) + (1−α)·CE(z_s, y)."""
    t = temperature
    kl = F.kl_div(F.log_softmax(student_logits / t, dim=1), F.log_softmax(teacher_logits / t, dim=1),
                  reduction="batchmean", log_target=True)
    return alpha * t * t * kl + (1.0 - alpha) * F.cross_entropy(student_logits, targets)


@dataclass
class EpochResult:
    loss: float  # mean loss per sample over the epoch
    acc: float  # accuracy on the training labels (noisy), augmented batches
    finite: bool


LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def ce_loss(logits, _x, _idx, y):
    return F.cross_entropy(logits, y)


def train_epoch(model: nn.Module, masks: Masks, batcher: Batcher, split: Split, batch_size: int,
                gen: torch.Generator, opt, loss_fn: LossFn = ce_loss, autocast=None,
                should_stop: Callable[[], bool] | None = None,
                after_step: Callable[[int], None] | None = None) -> EpochResult:
    """One epoch over `split`; `after_step(i)` is called after the i-th optimizer step (1-based), e.g. to keep
    the weights of a training step for weight rewinding."""
    model.train()
    device = split.y.device
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    ctx = autocast or contextlib.nullcontext
    for step, (idx, x, y) in enumerate(batcher.train_batches(split, batch_size, gen), 1):
        if should_stop is not None and should_stop():
            raise Interrupted()
        with ctx():
            logits = model(x)
            loss = loss_fn(logits, x, idx, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        masked_step(opt, masks)
        if after_step is not None:
            after_step(step)
        n = y.shape[0]
        loss_sum += loss.detach().double() * n
        correct += (logits.detach().argmax(1) == y).sum()
        seen += n
    total = float(loss_sum)  # the host reads of the epoch: the metrics and the mask check
    finite = math.isfinite(total)
    if finite:  # NaN weights (a diverged epoch) are not zero under any mask; the caller handles divergence
        check_masks(masks)
    return EpochResult(total / max(1, seen), int(correct) / max(1, seen), finite)


def check_masks(masks: Masks) -> None:
    """Once per epoch (cheap: one masked count per layer, one host read): pruned weights are exactly zero."""
    bad = masks.pruned_nonzero()
    if bad:
        name, count = next(iter(bad.items()))
        raise MasksBroken(f"pruned weights are not zero after an epoch ({sum(bad.values())} of them, e.g. {count} "
                          f"in {name}); the masks were not applied: a dsd_tui bug, please report it")


@torch.inference_mode()
def evaluate(model: nn.Module, batcher: Batcher, split: Split, autocast=None) -> dict:
    """Accuracy and mean CE loss on the split's labels, and accuracy on its clean labels."""
    model.eval()
    device = split.y.device
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    correct_clean = torch.zeros((), device=device, dtype=torch.int64)
    ctx = autocast or contextlib.nullcontext
    for sl, x in batcher.eval_batches(split):
        with ctx():
            logits = model(x).float()
        y, yc = split.y[sl], split.y_clean[sl]
        loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
        pred = logits.argmax(1)
        correct += (pred == y).sum()
        correct_clean += (pred == yc).sum()
    n = max(1, len(split))
    return {"acc": int(correct) / n, "loss": float(loss_sum) / n, "acc_clean": int(correct_clean) / n}


@torch.inference_mode()
def measure_train(model: nn.Module, batcher: Batcher, split: Split, with_entropy: bool, autocast=None):
    """One eval pass over the training set (no augmentation): accuracy on noisy and clean labels,
    loss, and the per-layer entropy counts, all at once. Returns (metrics, meter or None)."""
    meter = EntropyMeter(model) if with_entropy else None
    with meter if meter is not None else contextlib.nullcontext():
        metrics = evaluate(model, batcher, split, autocast)
    if meter is not None:
        meter.add_samples(len(split))
    return metrics, meter


@torch.no_grad()
def predict_logits(model: nn.Module, batcher: Batcher, split: Split) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x).float() for _sl, x in batcher.eval_batches(split)])
