"""`digits-images`: scikit-learn's 8×8 digits as 1×8×8 float images (bundled with scikit-learn, no download).

The plugin contract: `loader(path, seed) -> {"train": (x, y), "test": (x, y), "num_classes": n}` with
float x already normalised and int64 labels. dsd_tui carves the validation split out of "train" and adds
the profile's label noise; the test set stays clean. The split here is fixed (the last 297 images are the
test set), so `seed` is not needed; `path` is unused (the data ships with scikit-learn).
"""
from __future__ import annotations

import torch

TEST_SIZE = 297


def digits_images(path: str | None, seed: int) -> dict:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # pixel values 0..16 → [0, 1]
    x = (x - 0.3) / 0.4  # roughly zero mean, unit spread over the whole set
    y = torch.tensor(digits.target, dtype=torch.int64)
    cut = len(y) - TEST_SIZE
    return {"train": (x[:cut], y[:cut]), "test": (x[cut:], y[cut:]), "num_classes": 10}
