"""random: a uniform random score per weight from the rung's seeded generator: a random cut of the kept
weights, the baseline of "is the criterion what makes the double descent?" (He et al., ICML 2022).
Every prunable weight is drawn for, in scope or not, so the draws do not depend on prune.output_layer."""
from __future__ import annotations

import torch

from dsd_tui.core.criteria import CRITERIA
from dsd_tui.core.criteria._base import Criterion, CutRequest


def random_scores(params: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {n: torch.rand(p.shape, generator=gen, device=gen.device).to(p.device) for n, p in params.items()}


def score(request: CutRequest) -> dict[str, torch.Tensor]:
    return random_scores(request.params, request.gen)


CRITERIA.register("random", Criterion(score, "random"))
