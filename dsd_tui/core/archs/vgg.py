"""`vgg`: the paper's VGG-like(δ = model.depth, γ = model.width_exp) (3×32×32 images only; 10 ms per step
on a GPU for the estimate, as resnet18)."""
from __future__ import annotations

from dsd_tui.core.archs import ARCHITECTURES, Architecture

NAME = "vgg"


def build(model_cfg, input_shape: tuple, num_classes: int):
    from dsd_tui.core.models import VGGLike, require_image_input

    require_image_input(NAME, input_shape)
    return VGGLike(model_cfg.depth, model_cfg.width_exp, num_classes)


ARCHITECTURES.register(NAME, Architecture(NAME, build, needs_images=True, gpu_ms_per_step=10.0))
