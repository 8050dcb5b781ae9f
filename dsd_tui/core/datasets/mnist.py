"""`mnist`: MNIST's idx files under `data.path` (core/mnist_files.py), 784 float features normalised with
0.1307/0.3081 (OpenLTH's), no augmentation; asymmetric noise flips similar digits."""
from __future__ import annotations

from dsd_tui.core.datasets import DATASETS
from dsd_tui.core.datasets._flips import DIGIT_FLIPS
from dsd_tui.core.datasets._idx import idx_dataset

NAME = "mnist"
DATASETS.register(NAME, idx_dataset(NAME, "MNIST", (0.1307, 0.3081), DIGIT_FLIPS))
