"""`lamp`: the layer-adaptive magnitude score of Lee et al., "Layer-adaptive sparsity for the
magnitude-based pruning" (ICLR 2021).

Within a layer, sort the weights by magnitude; a weight's score is its squared magnitude divided by the
sum of the squared magnitudes of every weight of that layer at least as large. The largest weight of
each layer scores 1, so a global cut on LAMP scores never empties a layer, and the per-layer sparsities
follow from one global threshold without a hand-made schedule.

The plugin contract: `score(model, weights, batch) -> {name: scores}`, smaller pruned first, the same
shapes as `weights` (the masked prunable weights in scope; pruned ones are zero and dsd_tui never
revives them). LAMP needs neither the model nor the batch.
"""
from __future__ import annotations

import torch


def lamp(model, weights: dict[str, torch.Tensor], batch) -> dict[str, torch.Tensor]:
    return {name: _layer_lamp(w.detach()) for name, w in weights.items()}


def _layer_lamp(w: torch.Tensor) -> torch.Tensor:
    squared = w.flatten().double() ** 2
    order = torch.argsort(squared)  # ascending
    ranked = squared[order]
    # the sum over this weight and every larger one: a reversed cumulative sum
    tail = torch.flip(torch.cumsum(torch.flip(ranked, [0]), 0), [0])
    scores = torch.zeros_like(squared)
    scores[order] = torch.where(tail > 0, ranked / tail.clamp_min(1e-300), torch.zeros_like(ranked))
    return scores.view_as(w).to(torch.float32)
