"""Global magnitude pruning: the right fraction, the same cut as torch's prune API, and zeros that stay zero."""
import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from dsd_tui.core.models import MLP, ResNet18
from dsd_tui.core.pruning import Masks, prunable_parameters


def small_convnet():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 4, 1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 6 * 6, 5))


def test_prunable_weights_are_conv_and_linear_weights_only():
    names = set(prunable_parameters(ResNet18(10)))
    assert "conv1.weight" in names and "fc.weight" in names
    assert "layer2.0.shortcut.0.weight" in names  # the 1×1 downsample conv
    assert not any("bn" in n or n.endswith("bias") for n in names)


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_sparsity_after_k_rungs_is_one_minus_keep_rate_power_k(rate):
    model = MLP(64, [128, 64], 10)
    masks = Masks(model)
    total = masks.total()
    for k in range(1, 8):
        masks.prune_global(rate)
        assert abs(masks.sparsity() - (1 - (1 - rate) ** k)) < k / total + 1e-9


def test_masks_equal_torch_global_unstructured_l1():
    model = small_convnet()
    reference = copy.deepcopy(model)
    masks = Masks(model)
    targets = [(m, "weight") for m in reference.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for _ in range(4):
        masks.prune_global(0.2)
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=0.2)
        for (name, mask), (module, _) in zip(masks.masks.items(), targets):
            assert torch.equal(mask, module.weight_mask.bool()), name
        # perturb the surviving weights identically, as retraining would, so later cuts differ from the first
        with torch.no_grad():
            for (name, p), (module, _) in zip(masks.params.items(), targets):
                noise = torch.randn_like(p) * 0.05
                p.add_(noise).mul_(masks.masks[name])
                module.weight_orig.add_(noise)
        reference(torch.zeros(1, 3, 8, 8))  # torch recomputes weight = weight_orig · mask on forward


def test_global_cut_removes_smallest_magnitudes_across_layers():
    model = small_convnet()
    masks = Masks(model)
    before = {n: p.detach().abs().clone() for n, p in masks.params.items()}
    masks.prune_global(0.3)
    pruned = torch.cat([before[n][~m] for n, m in masks.masks.items()])
    kept = torch.cat([before[n][m] for n, m in masks.masks.items()])
    assert pruned.max() <= kept.min()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_pruned_weights_stay_exactly_zero_through_training(optimizer):
    from dsd_tui.core.training import make_optimizer

    model = small_convnet()
    masks = Masks(model)
    # momentum built up before pruning would revive weights without in-place masking
    opt = make_optimizer(model.parameters(), optimizer, 0.1, 0.9, 1e-2)
    x, y = torch.randn(16, 3, 8, 8), torch.randint(0, 5, (16,))
    for step in range(6):
        if step == 3:
            masks.prune_global(0.5)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        masks.apply_to_grads()
        opt.step()
        masks.apply_to_weights()
        if step >= 3:
            assert masks.pruned_are_zero()
            assert all(bool((p.grad[~masks.masks[n]] == 0).all()) for n, p in masks.params.items())
    assert masks.sparsity() == pytest.approx(0.5, abs=1e-3)


def test_masks_state_is_uint8_named_like_the_state_dict():
    model = small_convnet()
    masks = Masks(model)
    masks.prune_global(0.2)
    state = masks.state()
    assert set(state) <= set(model.state_dict())
    assert all(t.dtype == torch.uint8 for t in state.values())
