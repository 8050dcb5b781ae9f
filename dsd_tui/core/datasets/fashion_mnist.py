"""`fashion-mnist`: Fashion-MNIST's idx files under `data.path` (core/mnist_files.py), 784 float features
normalised with its own training set's 0.2860/0.3530, no augmentation."""
from __future__ import annotations

from dsd_tui.core.datasets import DATASETS, Dataset, Source

NAME = "fashion-mnist"
FOLDER, MEAN_STD = "FashionMNIST", (0.2860, 0.3530)


def fetch():
    from dsd_tui.core.datasets._downloads import idx_files

    return idx_files(NAME, FOLDER)


def source(cfg, seed: int) -> Source:
    from dsd_tui.core import mnist_files

    x, y, test_x, test_y, classes = mnist_files.load(NAME, cfg.path, FOLDER, MEAN_STD)
    verified = mnist_files.fetched_unverified(mnist_files.check(NAME, cfg.path, FOLDER), FOLDER)
    return Source((x, y), (test_x, test_y), classes, checksums_verified=verified)


DATASETS.register(NAME, Dataset(NAME, source, input_shape=(784,), image_note="28×28 grey",
                                path_help=f"the folder holding {FOLDER}/raw/ (the idx files)", full_train=60000,
                                fetch=fetch))
