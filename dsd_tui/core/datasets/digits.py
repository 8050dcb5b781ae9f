"""`digits`: scikit-learn's 1,797 8×8 digits as 64 features in [0, 1] (bundled with scikit-learn: no download).
One pool of samples: train, validation and test are one seeded permutation of it."""
from __future__ import annotations

from dsd_tui.core.datasets import DATASETS, Dataset, Source
from dsd_tui.core.datasets._flips import DIGIT_FLIPS


def source(cfg, seed: int) -> Source:
    import torch
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.data, dtype=torch.float32) / 16.0
    return Source((x, torch.tensor(d.target, dtype=torch.long)), None, 10)


DATASETS.register("digits", Dataset("digits", source, split="pool", input_shape=(64,), asymmetric_map=DIGIT_FLIPS,
                                    full_train=1797))
