"""`cifar10`: CIFAR-10 from the python-pickle files under `data.path` (core/cifar_files.py), uint8 images
normalised with the reference recipe's statistics, crop+flip by default."""
from __future__ import annotations

from dsd_tui.core.datasets import DATASETS, Dataset
from dsd_tui.core.datasets._flips import CIFAR10_FLIPS

NAME = "cifar10"


def fetch():
    from dsd_tui.core.datasets._downloads import cifar_archive

    return cifar_archive(NAME, "CIFAR10")


def source(cfg, seed: int):
    from dsd_tui.core.cifar_files import CIFAR10_LAYOUT, CifarFiles

    return CifarFiles(NAME, cfg.path, CIFAR10_LAYOUT).source()


DATASETS.register(NAME, Dataset(NAME, source, images=True, input_shape=(3, 32, 32), asymmetric_map=CIFAR10_FLIPS,
                                path_help="the folder holding the CIFAR python files (cifar-10-batches-py/)",
                                full_train=50000, fetch=fetch))
