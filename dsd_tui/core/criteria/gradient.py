"""gradient: |w · ∂L/∂w|, the SNIP-like saliency He et al. (ICML 2022) use, once per rung on one batch.

The batch is `data.batch_size` training samples drawn without augmentation by the rung's seeded
generator (`_base.score_batch`), so a resumed run cuts the same weights; the loss is the phase's own on its
noisy labels (cross-entropy for the teacher, the KD loss for the student). The model runs in train mode
on a copy, so BatchNorm's running statistics of the real model are left untouched.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from dsd_tui.core.criteria import CRITERIA
from dsd_tui.core.criteria._base import Criterion, CutRequest


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


def score(request: CutRequest) -> dict[str, torch.Tensor]:
    x, y, idx = request.draw_batch()
    return gradient_scores(request.model, request.names, x, y, idx, request.loss)


CRITERIA.register("gradient", Criterion(score, "gradient |w·dL/dw| on one seeded training batch"))
