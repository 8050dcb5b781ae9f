"""`mlp`: the embedded quickstart's MLP, hidden widths from `model.hidden`, PyTorch's default init."""
from __future__ import annotations

from math import prod

from dsd_tui.core.archs import ARCHITECTURES, Architecture


def build(model_cfg, input_shape: tuple, num_classes: int):
    from dsd_tui.core.models import MLP

    return MLP(prod(input_shape), list(model_cfg.hidden), num_classes)


ARCHITECTURES.register("mlp", Architecture("mlp", build, hidden_widths=lambda cfg: list(cfg.hidden)))
