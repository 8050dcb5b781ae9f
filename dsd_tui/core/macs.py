"""What one forward pass of a pruned network costs: multiply-accumulates (MACs) counted from its masks.

The price of a rung (issue 23, docs/design.md "Compute"): per sample, each prunable weight (the `weight`
of every Conv2d and Linear, core/pruning.py) does one multiply-accumulate per output position it is
applied at: once for a Linear on a vector, H_out × W_out times for a Conv2d, as often as the layer's
output holds values per output channel in general. So a layer's forward MACs per sample are
(kept weights) × (output positions), and the network's are their sum. Biases, BatchNorm, activations,
pooling and the loss are left out (they are not pruned and are small beside the weights' MACs), as
ShrinkBench (Blalock et al., MLSys 2020) counts "FLOPs of the kept weights". FLOPs = 2 × MACs.

The output positions come from one forward pass with hooks on the modules that own a prunable weight,
on a copy of the network built on the meta device (no memory, no random numbers drawn, no BatchNorm
statistics touched), or, when an architecture cannot run there (a plugin with a host-side op), on a CPU
copy in eval mode. So the count works for every architecture, plugins included; a prunable weight whose
module was never called counts 0 positions.

Training MACs of a rung (`train_macs`): 3 × forward MACs × samples seen (one forward, two backward
products: the gradient with respect to the inputs and to the weights), the standard estimate, plus a KD
student's teacher forward passes as they are run (core/ladder.py). The per-layer count of a masks file
is `macs_of`; `dense_macs_of` is the same with every weight kept.
"""
from __future__ import annotations

import torch
from torch import nn

TRAIN_FACTOR = 3  # forward + backward (input gradients + weight gradients), each ≈ the forward's MACs


def weight_modules(model: nn.Module, names) -> dict[str, nn.Module]:
    """Prunable weight name (state-dict) -> the module that owns it as its `weight`."""
    wanted = set(names)
    out = {}
    for mname, module in model.named_modules():
        name = f"{mname}.weight" if mname else "weight"
        if name in wanted and isinstance(getattr(module, "weight", None), torch.Tensor):
            out[name] = module
    return out


@torch.no_grad()
def _positions_by_forward(model: nn.Module, names, input_shape: tuple, device) -> dict[str, int]:
    found: dict[str, int] = {}
    hooks = []
    for name, module in weight_modules(model, names).items():
        def hook(mod, _inputs, output, name=name):
            out = output[0] if isinstance(output, (tuple, list)) else output
            channels = mod.weight.shape[0]  # out_features / out_channels: one value per channel and position
            found[name] = found.get(name, 0) + int(out.numel()) // channels  # batch of one sample
        hooks.append(module.register_forward_hook(hook))
    try:
        model(torch.zeros((1, *input_shape), device=device))
    finally:
        for h in hooks:
            h.remove()
    return {n: found.get(n, 0) for n in names}


def output_positions(build, names, input_shape: tuple) -> dict[str, int]:
    """Prunable weight name -> output positions per sample (how often each of its weights is applied).

    `build()` returns a fresh network of the architecture: called on the meta device first; where that
    fails, again on the CPU in eval mode, its random initialisation drawn inside `fork_rng` so that the
    run's own random numbers are not moved."""
    names = list(names)
    try:
        with torch.device("meta"):
            model = build()
        return _positions_by_forward(model.eval(), names, input_shape, "meta")
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        with torch.random.fork_rng(devices=[]):
            model = build()
        return _positions_by_forward(model.cpu().eval(), names, input_shape, "cpu")


def macs_of(positions: dict[str, int], kept_by_layer: dict[str, int]) -> dict[str, int]:
    """Per-sample forward MACs of each layer: kept weights × output positions."""
    return {n: int(kept_by_layer[n]) * int(positions.get(n, 0)) for n in kept_by_layer}


def total_macs(positions: dict[str, int], kept_by_layer: dict[str, int]) -> int:
    """Per-sample forward MACs of the network's prunable layers."""
    return sum(macs_of(positions, kept_by_layer).values())


def kept_by_layer(masks: dict[str, torch.Tensor]) -> dict[str, int]:
    """Kept weights per layer of a masks dict (name -> tensor, nonzero = kept)."""
    return {n: int(torch.count_nonzero(m)) for n, m in masks.items()}


def speedup(dense_macs: int | None, macs: int | None) -> float | None:
    """Theoretical speed-up from the kept weights' MACs (ShrinkBench): dense / kept; None if unknown or 0."""
    if not dense_macs or not macs:
        return None
    return dense_macs / macs


def compression(total_weights: int | None, kept_weights: int | None) -> float | None:
    """Compression ratio of the prunable weights (ShrinkBench): all / kept; None if unknown or 0."""
    if not total_weights or not kept_weights:
        return None
    return total_weights / kept_weights
