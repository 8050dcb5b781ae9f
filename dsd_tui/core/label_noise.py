"""The label-noise schemes beyond the paper's symmetric one (`data.noise_type`).

The noisy-label literature varies how labels are corrupted, and sparse double descent is reported
under several of them. With ε = `data.noise` and n samples (train and val each, seeded):

- symmetric (the paper's; `data.symmetric_noise`): round(ε·n) samples, each moved to a *different*
  class drawn uniformly. Realised rate = ε.
- random-labels (He et al.'s `random_labels_fraction`, from OpenLTH): round(ε·n) samples get a label
  drawn uniformly from *all* classes, so about 1/C of them keep their true label. Realised rate
  ≈ ε·(1 − 1/C).
- pairflip (Han et al., NeurIPS 2018, "Co-teaching"): round(ε·n) samples move to the next class,
  c → (c + 1) mod C. Realised rate = ε.
- asymmetric (Patrini et al., CVPR 2017): class-dependent flips between similar classes; in every
  source class, round(ε·n_c) of its samples move to the mapped class; other classes stay clean, so
  the realised rate is ε times the share of samples in source classes. Each data set declares its
  mapping (`asymmetric_map` in core/datasets/, the maps in core/datasets/_flips.py): CIFAR-10 (and the
  synthetic CIFAR-shaped set) truck→automobile, bird→airplane, deer→horse, cat↔dog (9→1, 2→0, 4→7,
  3→5, 5→3); digits and MNIST 2→7, 3→8, 5↔6, 7→1. A data set without one (plugins included) is
  refused by the profile.

Every scheme returns (noisy labels, sorted indices of the samples whose label changed); the realised
rate is len(indices)/n, recorded in the run.
"""
from __future__ import annotations

import torch

from dsd_tui.core.datasets._flips import CIFAR10_FLIPS, DIGIT_FLIPS  # noqa: F401 - the maps, re-exported

NOISE_TYPES = ("symmetric", "random-labels", "pairflip", "asymmetric")


def _changed(labels: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    return (noisy != labels).nonzero().flatten()


def random_labels(labels: torch.Tensor, rate: float, num_classes: int, gen: torch.Generator):
    n = labels.shape[0]
    idx = torch.randperm(n, generator=gen)[:int(round(rate * n))]
    noisy = labels.clone()
    noisy[idx] = torch.randint(0, num_classes, (idx.numel(),), generator=gen)
    return noisy, _changed(labels, noisy)


def pairflip(labels: torch.Tensor, rate: float, num_classes: int, gen: torch.Generator):
    n = labels.shape[0]
    idx = torch.randperm(n, generator=gen)[:int(round(rate * n))]
    noisy = labels.clone()
    noisy[idx] = (labels[idx] + 1) % num_classes
    return noisy, _changed(labels, noisy)


def asymmetric(labels: torch.Tensor, rate: float, mapping: dict, gen: torch.Generator):
    noisy = labels.clone()
    for source, target in sorted(mapping.items()):
        members = (labels == source).nonzero().flatten()
        pick = members[torch.randperm(members.numel(), generator=gen)[:int(round(rate * members.numel()))]]
        noisy[pick] = target
    return noisy, _changed(labels, noisy)


def apply(noise_type: str, labels: torch.Tensor, rate: float, num_classes: int, gen: torch.Generator,
          asymmetric_map: dict | None = None):
    """One of the non-symmetric schemes (symmetric stays `data.symmetric_noise`, the paper's code path);
    "asymmetric" flips by the data set's `asymmetric_map`."""
    if noise_type == "random-labels":
        return random_labels(labels, rate, num_classes, gen)
    if noise_type == "pairflip":
        return pairflip(labels, rate, num_classes, gen)
    if noise_type == "asymmetric":
        if asymmetric_map is None:
            raise ValueError("asymmetric noise needs the data set's class map; this data set has none")
        return asymmetric(labels, rate, asymmetric_map, gen)
    raise ValueError(f"unknown noise type {noise_type!r}")
