"""A reference-style training loop, the baseline `throughput.py` measures dsd_tui against.

It reproduces how the paper's authors' code spends its time, not their numbers: samples go through
torchvision PIL transforms (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize)
inside a torch DataLoader whose workers restart every epoch; pruning uses
`torch.nn.utils.prune.global_unstructured` (forward pre-hooks recompute weight = weight_orig · mask
on every forward); and every step reads the loss and the accuracy back with `.item()`.
The digits MLP has no images: its dataset returns one feature row per sample (default collate).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from dsd_tui.core.data import CIFAR_MEAN, CIFAR_STD, Split


class ImageDataset(torch.utils.data.Dataset):
    """uint8 HWC images turned into PIL images and transformed one sample at a time."""

    def __init__(self, images_nchw_uint8: torch.Tensor, labels: torch.Tensor, augment: bool):
        import torchvision.transforms as T

        self.images = images_nchw_uint8.permute(0, 2, 3, 1).contiguous().numpy()  # N×H×W×C, as in CIFAR files
        self.labels = labels.tolist()
        steps = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if augment else []
        self.transform = T.Compose(steps + [T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), self.labels[i]


class RowDataset(torch.utils.data.Dataset):
    """Feature rows (digits): one sample per __getitem__, collated by the DataLoader."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def make_loader(split: Split, images: bool, augment: bool, batch_size: int, workers: int, device: torch.device):
    """A shuffling DataLoader over the split (kept on the CPU, as a dataset object)."""
    cpu = split.to("cpu")
    ds = ImageDataset(cpu.x, cpu.y, augment) if images else RowDataset(cpu.x, cpu.y)
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                                       pin_memory=device.type == "cuda", persistent_workers=False)


def prune_with_hooks(model: nn.Module, amount: float) -> None:
    """One global L1 rung with torch's pruning utilities (weight_orig + weight_mask + forward pre-hook)."""
    targets = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)


def prune_with_masks(model: nn.Module, masks: dict) -> None:
    """Given masks (state-dict weight name → bool, 1 = kept), the same hooks via `prune.custom_from_mask`."""
    for name, module in model.named_modules():
        key = f"{name}.weight" if name else "weight"
        if key in masks:
            prune.custom_from_mask(module, "weight", masks[key].to(module.weight.device))


def train_epoch(model: nn.Module, loader, opt, device: torch.device) -> tuple[float, float]:
    """One epoch the reference way; returns (mean loss, accuracy) accumulated with per-step `.item()`."""
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * x.size(0)
        correct += (out.argmax(1) == y).sum().item()
        seen += x.size(0)
    return loss_sum / max(1, seen), correct / max(1, seen)


def hooked_weights_zero(model: nn.Module) -> bool:
    """Pruned weights (as the forward sees them) are zero: the hooks' guarantee, for a sanity check."""
    return all(bool((m.weight[m.weight_mask == 0] == 0).all()) for m in model.modules()
               if hasattr(m, "weight_mask"))
