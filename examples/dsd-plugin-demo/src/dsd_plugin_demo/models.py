"""`tinyconv`: two 3×3 convolutions and a classifier, for 1×8×8 images (the digits as images).

The plugin contract: `factory(num_classes, input_shape) -> nn.Module`. dsd_tui prunes every Conv/Linear
weight, treats the last Linear as the output layer, and measures the entropy of each `nn.ReLU`
module's input, so each ReLU is its own module here.
"""
from __future__ import annotations

from torch import nn


def tiny_conv(num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    channels, height, width = input_shape
    return nn.Sequential(
        nn.Conv2d(channels, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * (height // 2) * (width // 2), num_classes),
    )
