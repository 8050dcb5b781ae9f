"""The one interface every criterion is called through, and the cut that applies its scores.

`Criterion.score(request) -> {weight name: scores}`: scores shaped like the weights, smaller pruned
first, for at least every name in `request.names` (the weights in scope; random.py scores every
prunable weight so its draws do not depend on the scope). `cut` then ranks the kept weights of those
names only (`Masks.prune_by_scores`), so a criterion cannot revive or re-rank a pruned weight.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from dsd_tui.core.pruning import Masks

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (x prepared for the model, noisy labels, sample indices)
LossFn = Callable  # (logits, x, idx, y) -> scalar: the phase's loss (training.ce_loss or the KD loss)


@dataclass(frozen=True)
class CutRequest:
    """What a criterion may look at for one rung's cut."""

    model: nn.Module  # the phase's live network: a criterion that runs it works on a copy
    params: dict[str, nn.Parameter]  # every prunable weight (masked: pruned ones are zero)
    names: list[str]  # the weights in scope (prune.output_layer = false leaves the output layer out)
    gen: torch.Generator  # seeded from (seed, phase, rung): a resumed run draws the same
    rng_seed: int  # the global RNG's seed during the call (restored afterwards)
    loss: LossFn
    draw_batch: Callable[[], Batch]  # one training batch drawn with `gen` (the gradient criterion's)
    phase: str
    rung: int


@dataclass(frozen=True)
class Criterion:
    """A registered criterion: `score` maps a CutRequest to per-weight scores."""

    score: Callable[[CutRequest], dict[str, torch.Tensor]]
    summary: str = ""  # one line for the profile docs and `dsd-tui plugins`


def score_batch(n: int, batch_size: int, gen: torch.Generator) -> torch.Tensor:
    """The sample indices of a rung's scoring batch (seeded, so a resumed run draws the same)."""
    return torch.randperm(n, generator=gen, device=gen.device)[:batch_size]


def once(draw: Callable[[], Batch]) -> Callable[[], Batch]:
    """`draw` called on the first request only, so a criterion that asks twice gets the same batch and the
    rung's generator moves once (and a criterion that never asks draws nothing)."""
    drawn: list[Batch] = []

    def first() -> Batch:
        if not drawn:
            drawn.append(draw())
        return drawn[0]
    return first


def cut(criterion: Criterion, masks: Masks, request: CutRequest, rate: float, scope: str) -> int:
    """Score with `criterion` (the global RNG seeded, then restored), then remove round(rate · kept) of the
    kept weights of `request.names` (scope global: taken together; layerwise: per layer)."""
    scores = scored(criterion, request)
    return masks.prune_by_scores(scores, rate, scope, request.names)


def scored(criterion: Criterion, request: CutRequest) -> dict[str, torch.Tensor]:
    device = next(iter(request.params.values())).device if request.params else torch.device("cpu")
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(request.rng_seed)
        return criterion.score(request)
