"""Where the activation entropy is computed.

For every ReLU's input and every neuron (each C×H×W position of a conv map counts as one),
p = fraction of samples with input > 0 and H = −p·log2 p − (1−p)·log2(1−p) (0 at p ∈ {0, 1});
a layer's entropy is the mean over its neurons. Counting is streaming: forward pre-hooks add
integer ON counts per batch, activations are never stored. The raw counts are kept so other
entropy variants can be recomputed later.
"""
from __future__ import annotations

import torch
from torch import nn


def binary_entropy(p: torch.Tensor) -> torch.Tensor:
    """H(p) in bits, elementwise, 0 at p = 0 and p = 1."""
    p = p.double()
    q = 1.0 - p
    h = -(torch.xlogy(p, p) + torch.xlogy(q, q)) / torch.log(torch.tensor(2.0, dtype=torch.float64))
    return h.clamp_min(0.0)


class EntropyMeter:
    """Counts, per ReLU layer and neuron, how many samples had a positive ReLU input.

    Use as a context manager around forward passes in eval mode; hooks are removed on exit."""

    def __init__(self, model: nn.Module):
        self.layers = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
        self.on: dict[str, torch.Tensor] = {}
        self.samples = 0
        self._handles: list = []

    def __enter__(self) -> "EntropyMeter":
        for name, module in self.layers:
            self._handles.append(module.register_forward_pre_hook(self._hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _hook(self, name: str):
        def count(_module, inputs):
            x = inputs[0]
            # Per batch the counts fit int32, whose CPU reduction is ~4x quicker than int64's; the
            # running totals are int64.
            positive = (x > 0).flatten(1).sum(0, dtype=torch.int32)
            if name in self.on:
                self.on[name] += positive
            else:
                self.on[name] = positive.to(torch.int64)
        return count

    def add_samples(self, n: int) -> None:
        self.samples += n

    def layer_entropy(self) -> dict[str, float]:
        return entropy_from_counts(self.on, self.samples)

    def counts(self) -> dict[str, torch.Tensor]:
        return {name: on.to("cpu") for name, on in self.on.items()}

    def raw(self) -> dict:
        """The raw counters as a rung checkpoint keeps them (`"entropy_counts"`): per layer, an int64
        tensor of ON counts per neuron (flattened C×H×W), and the number of samples counted."""
        return {"on": self.counts(), "samples": self.samples}


def entropy_from_counts(on: dict[str, torch.Tensor], samples: int) -> dict[str, float]:
    """Per-layer mean binary entropy (bits) from ON counts; also recomputes it from a checkpoint's
    `entropy_counts` (`entropy_from_counts(**ck["entropy_counts"])`)."""
    if samples == 0:
        return {}
    return {name: float(binary_entropy(c.double() / samples).mean()) for name, c in on.items()}


def mean_entropy(per_layer: dict[str, float]) -> float:
    return sum(per_layer.values()) / len(per_layer) if per_layer else 0.0
