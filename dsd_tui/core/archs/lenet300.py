"""`lenet300`: He et al.'s LeNet-300-100 on flattened inputs (an MLP with OpenLTH's kaiming init)."""
from __future__ import annotations

from math import prod

from dsd_tui.core.archs import ARCHITECTURES, Architecture


def build(model_cfg, input_shape: tuple, num_classes: int):
    from dsd_tui.core.models import lenet300

    return lenet300(prod(input_shape), num_classes)


ARCHITECTURES.register("lenet300", Architecture("lenet300", build, hidden_widths=lambda cfg: [300, 100]))
