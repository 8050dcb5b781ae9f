"""`fashion-mnist`: Fashion-MNIST's idx files under `data.path` (core/mnist_files.py), 784 float features
normalised with its own training set's 0.2860/0.3530, no augmentation."""
from __future__ import annotations

from dsd_tui.core.datasets import DATASETS
from dsd_tui.core.datasets._idx import idx_dataset

NAME = "fashion-mnist"
DATASETS.register(NAME, idx_dataset(NAME, "FashionMNIST", (0.2860, 0.3530)))
