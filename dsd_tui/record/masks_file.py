"""Every rung's masks, kept small: one bit per prunable weight, whatever run.keep_checkpoints deletes.

A ResNet-18 checkpoint is about 45 MB and `run.keep_checkpoints = "best-last"` deletes most of them, but
the masks alone (which weights a rung kept) are what the teacher–student overlap, the MACs of any rung
and later analyses need. So the ladder writes `masks/<phase>-rung<NN>.masks.pt` (record/rundir.py
`masks_name`) at every finished rung: per prunable weight its shape and its mask packed eight weights to
a byte (first weight in the high bit, numpy.packbits' order), about 1.4 MB for ResNet-18. The file is a
plain dict of tensors, lists and strings, loadable with `torch.load(..., weights_only=True)`:
    {"format": "dsd_tui.masks/1", "phase": str, "rung": int,
     "layers": {weight name: {"shape": [int, ...], "bits": uint8 tensor}}}
"""
from __future__ import annotations

from pathlib import Path

import torch

from dsd_tui.record.rundir import safe_torch_load

FORMAT = "dsd_tui.masks/1"
_WEIGHTS = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.uint8)


def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """A mask (nonzero = kept) as uint8, eight entries a byte, the first in the high bit, zero-padded."""
    flat = mask.detach().flatten().cpu().ne(0)
    pad = (-flat.numel()) % 8
    if pad:
        flat = torch.cat([flat, torch.zeros(pad, dtype=torch.bool)])
    return (flat.view(-1, 8).to(torch.uint8) * _WEIGHTS).sum(dim=1, dtype=torch.uint8)


def unpack_bits(bits: torch.Tensor, shape) -> torch.Tensor:
    """The bool mask of `shape` that pack_bits packed."""
    count = 1
    for d in shape:
        count *= int(d)
    flat = (bits.to(torch.uint8).unsqueeze(1) & _WEIGHTS).ne(0).flatten()
    return flat[:count].view(*[int(d) for d in shape])


def packed(phase: str, rung: int, masks: dict[str, torch.Tensor]) -> dict:
    """The masks file's content for one rung."""
    return {"format": FORMAT, "phase": phase, "rung": int(rung),
            "layers": {n: {"shape": [int(d) for d in m.shape], "bits": pack_bits(m)} for n, m in masks.items()}}


def unpacked(obj: dict) -> dict[str, torch.Tensor]:
    """Weight name -> bool mask (True = kept) of a masks file's content."""
    return {n: unpack_bits(layer["bits"], layer["shape"]) for n, layer in obj["layers"].items()}


def load_masks(path: Path) -> dict[str, torch.Tensor]:
    """Weight name -> bool mask of a masks file on disk."""
    return unpacked(safe_torch_load(Path(path), "masks file"))
