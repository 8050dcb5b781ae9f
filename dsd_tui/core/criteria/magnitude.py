"""magnitude (the paper's default): |w|. With scope global over every layer it is exactly
`torch.nn.utils.prune.global_unstructured(..., L1Unstructured)`."""
from __future__ import annotations

import torch

from dsd_tui.core.criteria import CRITERIA
from dsd_tui.core.criteria._base import Criterion, CutRequest


def magnitude_scores(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {n: p.detach().abs() for n, p in params.items()}


def score(request: CutRequest) -> dict[str, torch.Tensor]:
    return magnitude_scores(request.params)


CRITERIA.register("magnitude", Criterion(score, "magnitude |w| (the paper's)"))
