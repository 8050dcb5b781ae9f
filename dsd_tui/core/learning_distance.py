"""The learning distance of a rung: how far training moved the prunable weights (He et al., ICML 2022).

He et al. report that the ℓ2 distance between a rung's initial and final weights tracks the sparse
double descent curve. Here it is the ℓ2 norm of (final − start) over the prunable weights (the
`weight` of every Conv2d and Linear; no biases, no BatchNorm), all layers together, where "start"
is the weights the rung's training starts from: after the rung's cut and its retraining mode's reset
(lr-rewind/finetune: the previous rung's weights; weight-rewind: the rewind point; reinit: the fresh
init; rung 0: the initialisation), with the pruned weights already set to zero. Pruned weights stay
zero through the rung, so the distance is, in effect, over the kept (masked) weights only. Unit: the
weights' own (no normalisation by the number of weights).

A rung's start weights are also written to `state/rung-start.pt` so a run resumed mid-rung measures
the same distance as an uninterrupted one.
"""
from __future__ import annotations

import math

import torch


@torch.no_grad()
def snapshot(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A copy of the prunable weights where the rung starts (on their device)."""
    return {n: p.detach().clone() for n, p in params.items()}


@torch.no_grad()
def distance(start: dict[str, torch.Tensor], params: dict[str, torch.Tensor]) -> float | None:
    """ℓ2 norm of (now − start) over all prunable weights; None when the start is unknown or does not match."""
    if not start or set(start) != set(params):
        return None
    total = torch.zeros((), dtype=torch.float64, device=next(iter(params.values())).device)
    for n, p in params.items():
        d = p.detach().double() - start[n].to(p.device, torch.float64)
        total += (d * d).sum()
    value = math.sqrt(float(total))
    return value if math.isfinite(value) else None
