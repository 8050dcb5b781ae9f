"""`cifar100`: CIFAR-100 (fine labels) from the python-pickle files under `data.path`, normalised with the
reference recipe's statistics, crop+flip by default."""
from __future__ import annotations

from dsd_tui.core.datasets import DATASETS, Dataset

NAME = "cifar100"


def fetch():
    from dsd_tui.core.datasets._downloads import cifar_archive

    return cifar_archive(NAME, "CIFAR100")


def source(cfg, seed: int):
    from dsd_tui.core.cifar_files import CIFAR100_LAYOUT, CifarFiles

    return CifarFiles(NAME, cfg.path, CIFAR100_LAYOUT).source()


DATASETS.register(NAME, Dataset(NAME, source, images=True, input_shape=(3, 32, 32),
                                path_help="the folder holding the CIFAR python files (cifar-100-python/)",
                                full_train=50000, fetch=fetch))
