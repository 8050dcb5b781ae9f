"""The architectures: output shapes, one ReLU module per activation layer."""
import torch
from torch import nn

from dsd_tui.core.models import ResNet18, VGGLike, build_model
from dsd_tui.profile import ModelSection


def relus(model):
    return [n for n, m in model.named_modules() if isinstance(m, nn.ReLU)]


def test_resnet18_cifar_shape_and_relu_layers():
    m = ResNet18(100).eval()
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 100)
    assert len(relus(m)) == 1 + 8 * 2  # stem + two per basic block
    assert isinstance(m.maxpool, nn.MaxPool2d)  # kept, as in the reference code


def test_vgg_like_blocks_and_widths():
    m = VGGLike(depth=3, width_exp=3, num_classes=10).eval()
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    convs = [mod for mod in m.modules() if isinstance(mod, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 16, 16, 32, 32]
    assert len(relus(m)) == 6


def test_mlp_from_profile():
    m = build_model("mlp", ModelSection(hidden=[32, 16]), (64,), 10)
    assert m(torch.zeros(3, 64)).shape == (3, 10)
    assert len(relus(m)) == 2
