"""What a rung ranks weights by before the cut (`prune.criterion`): magnitude, gradient or random.

The pruning literature the lab compares (He et al., "Sparse Double Descent", ICML 2022) shows the
phenomenon under three criteria; a smaller score is pruned first (`pruning.Masks.prune_by_scores`):

- magnitude (the paper's default): |w|.
- gradient: |w · ∂L/∂w|, the SNIP-like saliency He et al. use, computed once per rung on one batch of
  training data (the phase's own loss on its noisy labels: cross-entropy for the teacher, the KD loss
  for the student), drawn without augmentation by a generator seeded from (seed, phase, rung) so a
  resumed run cuts the same weights. The batch is `data.batch_size` samples. The model is run in train
  mode on a copy, so BatchNorm's running statistics of the real model are left untouched.
- random: a uniform random score per weight from the same seeded generator: a random cut of the kept
  weights, the baseline of "is the criterion what makes the double descent?".
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

CRITERIA = ("magnitude", "gradient", "random")


def magnitude_scores(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {n: p.detach().abs() for n, p in params.items()}


def random_scores(params: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {n: torch.rand(p.shape, generator=gen, device=gen.device).to(p.device) for n, p in params.items()}


def gradient_scores(model: nn.Module, names: list[str], x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor,
                    loss_fn: Callable) -> dict[str, torch.Tensor]:
    """|w · ∂L/∂w| of the weights `names` for one batch (x, y; `idx` its sample indices for a cached-target
    loss), on a train-mode copy of `model` so nothing of the model itself changes."""
    work = copy.deepcopy(model).train()
    params = dict(work.named_parameters())
    for p in work.parameters():
        p.requires_grad_(p is not None and any(p is params[n] for n in names))
        p.grad = None
    loss = loss_fn(work(x), x, idx, y)
    grads = torch.autograd.grad(loss, [params[n] for n in names])
    return {n: (params[n].detach() * g).abs() for n, g in zip(names, grads)}


def score_batch(n: int, batch_size: int, gen: torch.Generator) -> torch.Tensor:
    """The sample indices of the gradient criterion's batch (seeded, so a resumed run draws the same)."""
    return torch.randperm(n, generator=gen, device=gen.device)[:batch_size]
