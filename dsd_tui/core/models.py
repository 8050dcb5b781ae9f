"""The networks a ladder prunes: the paper's ResNet-18 (CIFAR variant) and VGG-like(δ, γ), the
MLP of the embedded quickstart, and He et al.'s LeNet-300-100 (an MLP with their initialiser).
Which name builds which is core/archs/ (one file per architecture, plugins beside them).

Every ReLU is its own `nn.ReLU` module (never reused, never functional), so the entropy hooks see
each activation layer exactly once per forward and name it by its module path.

Initialisation follows the authors' code: ResNet-18 re-initialises every Conv2d with
kaiming_normal_(fan_out, relu) and every BatchNorm to weight 1, bias 0; VGG-like and the MLP keep
PyTorch's default. It matters beyond the dense rung: global magnitude pruning compares |w| across
layers, so each layer's initial scale decides how the sparsity is shared out (docs/results.md).
"""
from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, in_features: int, hidden: list[int], num_classes: int):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for i, h in enumerate(hidden):
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x.flatten(1)))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18: 3×3 stride-1 stem and, as in the reference code, a 3×3/2 max-pool after it."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (cout, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)]):
            layer = nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1))
            self.add_module(f"layer{i + 1}", layer)
            cin = cout
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        self.init_weights()

    def init_weights(self) -> None:
        """The authors' init (the classifier keeps PyTorch's default)."""
        kaiming_fan_out_init(self)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def kaiming_fan_out_init(model: nn.Module) -> None:
    """Every Conv2d: kaiming_normal_(mode="fan_out", nonlinearity="relu"), so weight std = √(2 / (C_out·k·k));
    every BatchNorm: weight 1, bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def reinitialise(model: nn.Module) -> None:
    """A fresh random init drawn as the model was built (`prune.retrain = reinit`): every module's
    PyTorch default, then the architecture's own init where it has one."""
    for m in model.modules():
        if m is not model and hasattr(m, "reset_parameters"):
            m.reset_parameters()
    if hasattr(model, "init_weights"):
        model.init_weights()


class VGGLike(nn.Module):
    """δ blocks of (Conv3×3 → ReLU → BatchNorm) ×2 → MaxPool2d(2), widths 2^γ doubling per block,
    then AdaptiveAvgPool2d(7) and one Linear classifier."""

    def __init__(self, depth: int = 5, width_exp: int = 5, num_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for b in range(depth):
            cout = 2 ** (width_exp + b)
            for _ in range(2):
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(cout)]
                cin = cout
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Linear(cin * 49, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def lenet300(in_features: int, num_classes: int) -> MLP:
    """LeNet-300-100 (He et al. on MNIST): in_features-300-100-classes with ReLUs; every Linear weight drawn
    kaiming_normal_ (fan_in, ReLU gain), the initialiser OpenLTH uses for this model; biases torch's default."""
    model = MLP(in_features, [300, 100], num_classes)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight)
    return model


def require_image_input(arch: str, input_shape: tuple) -> None:
    """The image networks take N×C×H×W batches; flat features get this ValueError (the preflight's line)."""
    if len(input_shape) != 3:
        raise ValueError(f"{arch} needs image input, got shape {tuple(input_shape)}")


def build_model(arch: str, model_cfg, input_shape: tuple, num_classes: int) -> nn.Module:
    """The network named `arch` (bundled, a plugin or registered from Python: core/archs/), drawing its init
    from torch's global RNG."""
    from dsd_tui.core.archs import ARCHITECTURES

    return ARCHITECTURES.get(arch).build(model_cfg, tuple(input_shape), num_classes)
