"""How much two kept sets agree: intersection over union of masks, and what chance would give.

The DSD² student is distilled from its teacher and pruned by the same rule; whether it keeps the *same*
weights is a question about masks, not accuracies. `teacher_overlap` of a student rung is the IoU of its
kept set with the teacher's kept set at the same rung: |A ∩ B| / |A ∪ B| over all prunable weights
(and per layer). Two masks drawn at random with kept fractions p and q (per layer) have an expected IoU of
about Σ n·p·q / Σ n·(p + q − p·q) (n weights per layer), the baseline `aggregate` prints beside the
overlap of a sweep's seeds. Masks are name -> tensor (nonzero = kept), as in checkpoints and masks files.
"""
from __future__ import annotations

import torch


def layer_counts(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> dict[str, tuple[int, int]]:
    """Weight name -> (|A ∩ B|, |A ∪ B|) over the layers both masks have."""
    out = {}
    for n in a:
        if n in b and a[n].shape == b[n].shape:
            x, y = a[n].ne(0), b[n].to(a[n].device).ne(0)
            out[n] = (int((x & y).sum()), int((x | y).sum()))
    return out


def iou(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> tuple[float | None, dict[str, float | None]]:
    """(overall IoU, per-layer IoU) of two masks dicts; None where the union is empty or nothing is shared."""
    counts = layer_counts(a, b)
    if not counts:
        return None, {}
    inter = sum(i for i, _ in counts.values())
    union = sum(u for _, u in counts.values())
    return (inter / union if union else None), {n: (i / u if u else None) for n, (i, u) in counts.items()}


def random_iou(sizes: dict[str, int], kept_a: dict[str, int], kept_b: dict[str, int]) -> float | None:
    """Expected IoU of two random masks with these kept counts per layer (the chance baseline)."""
    inter = union = 0.0
    for n, size in sizes.items():
        if not size or n not in kept_a or n not in kept_b:
            continue
        p, q = kept_a[n] / size, kept_b[n] / size
        inter += size * p * q
        union += size * (p + q - p * q)
    return inter / union if union else None
