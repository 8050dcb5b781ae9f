"""`synthetic`: CIFAR-shaped random images with a learnable class signal (benchmarks and tests, no files):
`data.synthetic_size` + `data.val_size` training images, max(256, synthetic_size / 5) test images."""
from __future__ import annotations

from dsd_tui.core.datasets import DATASETS, Dataset, Source
from dsd_tui.core.datasets._flips import CIFAR10_FLIPS


def images(n: int, seed: int):
    import torch

    gen = torch.Generator().manual_seed(10_000 + seed)
    y = torch.randint(0, 10, (n,), generator=gen)
    base = torch.randint(0, 256, (10, 3, 32, 32), generator=gen).float()
    noise = torch.randint(-60, 61, (n, 3, 32, 32), generator=gen).float()
    x = (0.5 * base[y] + noise + 64).clamp(0, 255).to(torch.uint8)
    return x, y


def source(cfg, seed: int) -> Source:
    return Source(images(cfg.synthetic_size + cfg.val_size, seed),
                  images(max(256, cfg.synthetic_size // 5), seed + 1), 10)


DATASETS.register("synthetic", Dataset("synthetic", source, images=True, input_shape=(3, 32, 32),
                                       asymmetric_map=CIFAR10_FLIPS,
                                       full_train=lambda cfg: cfg.synthetic_size + cfg.val_size))
