"""`resnet18`: the paper's CIFAR ResNet-18 (3×32×32 images only; 10 ms per step on a GPU for the estimate,
the middle of docs/scaling.md's 5-20 ms range)."""
from __future__ import annotations

from dsd_tui.core.archs import ARCHITECTURES, Architecture

NAME = "resnet18"


def build(model_cfg, input_shape: tuple, num_classes: int):
    from dsd_tui.core.models import ResNet18, require_image_input

    require_image_input(NAME, input_shape)
    return ResNet18(num_classes)


ARCHITECTURES.register(NAME, Architecture(NAME, build, needs_images=True, gpu_ms_per_step=10.0))
