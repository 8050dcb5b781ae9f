"""What MNIST and Fashion-MNIST share: idx files under `data.path/<FOLDER>/raw/` (core/mnist_files.py), read
as 784 float features normalised with the set's own mean and std, no augmentation. Each data set's module
registers `idx_dataset(...)` with its own name, folder and statistics."""
from __future__ import annotations

from dsd_tui.core.datasets import Dataset, Source


def idx_dataset(name: str, folder: str, mean_std: tuple[float, float], asymmetric_map: dict | None = None) -> Dataset:
    def fetch():
        from dsd_tui.core.datasets._downloads import idx_files

        return idx_files(name, folder)

    def source(cfg, seed: int) -> Source:
        from dsd_tui.core import mnist_files

        x, y, test_x, test_y, classes = mnist_files.load(name, cfg.path, folder, mean_std)
        verified = mnist_files.fetched_unverified(mnist_files.check(name, cfg.path, folder), folder)
        return Source((x, y), (test_x, test_y), classes, checksums_verified=verified)

    return Dataset(name, source, input_shape=(784,), image_note="28×28 grey",
                   path_help=f"the folder holding {folder}/raw/ (the idx files)", asymmetric_map=asymmetric_map,
                   full_train=60000, fetch=fetch)
