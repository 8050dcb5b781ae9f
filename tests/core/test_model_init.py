"""Initialisation as the authors do it: ResNet-18's convs kaiming_normal_(fan_out, relu) and BatchNorm 1/0,
VGG-like on PyTorch's default, and what that does to global magnitude pruning at initialisation."""
import math

import torch
from torch import nn

from dsd_tui.core.models import ResNet18, VGGLike, reinitialise
from dsd_tui.core.pruning import Masks


def _convs(model):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def _check_authors_init(model):
    for name, conv in _convs(model):
        fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
        expected = math.sqrt(2.0 / fan_out)
        std = float(conv.weight.detach().std())
        assert abs(std / expected - 1) < 0.06, f"{name}: std {std:.4f}, kaiming fan_out gives {expected:.4f}"
        assert abs(float(conv.weight.detach().mean())) < 0.1 * expected, name
    for name, bn in model.named_modules():
        if isinstance(bn, nn.BatchNorm2d):
            assert bool((bn.weight == 1).all()) and bool((bn.bias == 0).all()), name


def test_resnet18_convs_are_kaiming_fan_out_and_batchnorm_one_zero():
    torch.manual_seed(0)
    model = ResNet18(10)
    assert len(_convs(model)) == 20  # stem, 16 block convs, 3 downsample 1×1 convs
    _check_authors_init(model)
    # the reinit retraining mode draws its fresh weights the same way
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0).add_(1.0)
    reinitialise(model)
    _check_authors_init(model)


def test_vgg_keeps_pytorch_default_init():
    torch.manual_seed(0)
    model = VGGLike(depth=2, width_exp=5)
    for name, conv in _convs(model):
        fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
        expected = 1.0 / math.sqrt(3.0 * fan_in)  # kaiming_uniform_(a=√5): U(±1/√fan_in)
        assert abs(float(conv.weight.detach().std()) / expected - 1) < 0.06, name


def _kept_after_global_cut(model, rungs=10, one_shot=False):
    masks = Masks(model)
    if one_shot:  # the same cut as `rungs` untrained rungs (nested top-|w| sets), in one selection
        masks.prune_global(1 - 0.8 ** rungs)
    else:
        for _ in range(rungs):
            masks.prune_global(0.2)
    return masks, {n: float(m.float().mean()) for n, m in masks.masks.items()}


def test_ten_untrained_rungs_are_one_cut_of_the_same_sparsity():
    """Without training between them, 10 global rungs keep the top-|w| weights at each step, nested sets: the
    one cut to their sparsity, up to one weight of rounding per rung (so the ResNet-18 test below makes
    that one cut, seconds cheaper than 10 top-k passes over its 11M weights)."""
    torch.manual_seed(0)
    model = VGGLike(depth=2, width_exp=4)
    rungs, _ = _kept_after_global_cut(model)
    one, _ = _kept_after_global_cut(model, one_shot=True)
    assert abs(rungs.sparsity() - (1 - 0.8 ** 10)) < 1e-4
    differ = sum(int((rungs.masks[n] != one.masks[n]).sum()) for n in rungs.masks)
    assert differ <= 10, differ
    assert all(bool((one.masks[n] <= rungs.masks[n]).all()) for n in rungs.masks) or \
        all(bool((rungs.masks[n] <= one.masks[n]).all()) for n in rungs.masks)  # nested: the same ranking


def test_ten_global_rungs_at_init_empty_no_layer_as_the_authors_init_shares_them_out():
    """The audit's numbers: after 10 rungs at initialisation (89.3% sparse), the authors' init keeps about
    6% of each layer4 3×3 conv and 11% of the classifier; PyTorch's default init empties three layer4 convs
    and leaves the classifier 63% (so a ResNet-18 run made before the change is not comparable). Both as the
    one cut the 10 untrained rungs amount to (the test above)."""
    torch.manual_seed(0)
    model = ResNet18(10)
    masks, kept = _kept_after_global_cut(model, one_shot=True)
    assert abs(masks.sparsity() - (1 - 0.8 ** 10)) < 1e-4
    assert min(kept.values()) > 0.03, {n: k for n, k in kept.items() if k <= 0.03}
    for name in ("layer4.0.conv1.weight", "layer4.0.conv2.weight", "layer4.1.conv1.weight", "layer4.1.conv2.weight"):
        assert 0.04 < kept[name] < 0.08, (name, kept[name])
    assert 0.09 < kept["fc.weight"] < 0.13

    torch.manual_seed(0)
    default = ResNet18(10)
    for m in default.modules():  # PyTorch's default init, what dsd_tui used before
        if m is not default and hasattr(m, "reset_parameters"):
            m.reset_parameters()
    _, kept_default = _kept_after_global_cut(default, one_shot=True)
    emptied = sorted(n for n, k in kept_default.items() if k == 0.0)
    assert emptied == ["layer4.0.conv2.weight", "layer4.1.conv1.weight", "layer4.1.conv2.weight"]
    assert 0.55 < kept_default["fc.weight"] < 0.7
