"""Streaming activation entropy equals a direct computation on stored ReLU inputs."""
import math

import torch
from torch import nn

from dsd_tui.core.entropy import EntropyMeter, binary_entropy, mean_entropy


def direct_entropy(acts: torch.Tensor) -> float:
    p = (acts.flatten(1) > 0).double().mean(0)
    h = [0.0 if v in (0.0, 1.0) else -(v * math.log2(v) + (1 - v) * math.log2(1 - v)) for v in p.tolist()]
    return sum(h) / len(h)


def test_binary_entropy_values():
    h = binary_entropy(torch.tensor([0.0, 0.5, 1.0, 0.25]))
    assert h.tolist()[:3] == [0.0, 1.0, 0.0]
    assert abs(h[3].item() - 0.8112781244591328) < 1e-12


def test_meter_matches_direct_computation_on_conv_and_linear_layers():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3), nn.ReLU(inplace=True),
                          nn.Flatten(), nn.Linear(2 * 6 * 6, 7), nn.ReLU(), nn.Linear(7, 3)).eval()
    x = torch.randn(50, 3, 8, 8)
    stored = {}
    hooks = [m.register_forward_pre_hook(lambda mod, inp, name=name: stored.setdefault(name, []).append(inp[0].clone()))
             for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    meter = EntropyMeter(model)
    with meter, torch.no_grad():
        for chunk in x.split(17):  # several batches, an uneven last one
            model(chunk)
    meter.add_samples(len(x))
    got = meter.layer_entropy()
    assert set(got) == {"1", "3", "6"}
    for name, acts in stored.items():
        assert abs(got[name] - direct_entropy(torch.cat(acts))) < 1e-12, name
    assert meter.counts()["1"].shape == (4 * 8 * 8,)  # every C×H×W position is a neuron
    assert abs(mean_entropy(got) - sum(got.values()) / 3) < 1e-12


def test_hooks_are_removed_after_the_pass():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    with EntropyMeter(model):
        pass
    assert not model[1]._forward_pre_hooks
