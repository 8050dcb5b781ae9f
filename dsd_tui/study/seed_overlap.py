"""How reproducible a kept set is: the overlap of the masks that different seeds keep at the same rung.

For a sweep's seeds of one setting, each phase and rung, the intersection over union of every pair of
seeds' kept sets (record/overlap.py), read from the runs' per-rung masks files (record/masks_file.py:
they outlive the checkpoints), beside the IoU two random masks of the same per-layer densities would
have: an overlap near that baseline means the seeds keep unrelated weights; near 1, the same ones.
`aggregate` adds both, as mean ± std over the pairs, to each rung's metrics (`seed_overlap`,
`seed_overlap_random`). Runs without masks files (from before them) are left out of the pairs.
"""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

from dsd_tui.core.macs import kept_by_layer
from dsd_tui.record.masks_file import load_masks
from dsd_tui.record.overlap import iou, random_iou
from dsd_tui.record.rundir import masks_name


def rung_overlaps(run_dirs: list[Path], phase: str, rung: int) -> tuple[list[float], list[float]]:
    """(IoU per pair of runs, random-mask IoU per pair) at `phase` `rung`; empty when under two runs have it."""
    masks = [load_masks(p / masks_name(phase, rung)) for p in run_dirs if (Path(p) / masks_name(phase, rung)).is_file()]
    kept = [kept_by_layer(m) for m in masks]
    pairs, chance = [], []
    for i, j in combinations(range(len(masks)), 2):
        value, _ = iou(masks[i], masks[j])
        sizes = {n: m.numel() for n, m in masks[i].items()}
        baseline = random_iou(sizes, kept[i], kept[j])
        if value is not None and baseline is not None:
            pairs.append(value)
            chance.append(baseline)
    return pairs, chance
