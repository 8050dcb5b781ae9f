"""MNIST-format idx files from `data.path`, read by torchvision's own dataset classes (never downloaded).

torchvision looks for the uncompressed idx files in `<data.path>/MNIST/raw/` (FashionMNIST/raw/ for
Fashion-MNIST): train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
t10k-labels-idx1-ubyte. They are checked first, so a missing one is one line naming what is expected
where, not torchvision's "Dataset not found".

The ladder gets them as float features, 784 per image, normalised with the training set's mean and
std: MNIST 0.1307/0.3081 (the normalisation of OpenLTH, on which He et al. built), Fashion-MNIST
0.2860/0.3530 (the same statistics of its own training set). No augmentation, as in OpenLTH. Which
data set has which folder and statistics is said in its own module (core/datasets/mnist.py,
fashion_mnist.py); the folder is also torchvision's class name.
"""
from __future__ import annotations

from pathlib import Path

from dsd_tui.errors import UsageError
from dsd_tui.paths import expand

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class MnistFilesError(UsageError):
    """MNIST-format files that are missing or unreadable: one line for the user."""


def check(dataset: str, root: str, folder: str) -> Path:
    """`data.path` as a Path once `<folder>/raw/` holds the four idx files; else one line saying what is missing."""
    base = expand(root, "data.path")
    raw = base / folder / "raw"
    from dsd_tui.core.datasets import fetch_command

    command = fetch_command(dataset, str(base))
    fetch = f"; get them with `{command}`" if command else ""
    if not base.is_dir():
        raise MnistFilesError(f"data.path = {root!r}: no such directory; point it at the folder that holds "
                              f"{folder}/raw/ with the {dataset} idx files{fetch}")
    missing = [f for f in FILES if not (raw / f).is_file()]
    if missing:
        gz = [f for f in missing if (raw / f"{f}.gz").is_file()]
        hint = "; gunzip the .gz files there" if gz else fetch
        raise MnistFilesError(f"data.path = {root!r}: {dataset} needs {folder}/raw/{{{','.join(missing)}}} "
                              f"(the uncompressed idx files){hint}")
    return base


def fetched_unverified(base: Path, folder: str) -> bool | None:
    """False where `dsd-tui data fetch --allow-unverified` left a `<file>.unverified` marker beside an idx
    file (its .gz did not match the published md5), else None (no checksum known for unpacked idx files)."""
    raw = base / folder / "raw"
    return False if any((raw / f"{f}.unverified").is_file() for f in FILES) else None


def load(dataset: str, root: str, folder: str, mean_std: tuple[float, float]):
    """(train features N×784, train labels, test features, test labels, classes), features normalised float32
    as (pixel/255 − mean)/std. `folder`: MNIST | FashionMNIST, the torchvision class reading it."""
    import torchvision

    base = check(dataset, root, folder)
    cls = getattr(torchvision.datasets, folder)
    mean, std = mean_std
    out = []
    for train in (True, False):
        try:
            ds = cls(str(base), train=train, download=False)
            x, y = ds.data, ds.targets
        except Exception as e:  # noqa: BLE001 - a truncated or foreign file: one line, whatever torchvision raised
            raise MnistFilesError(f"data.path = {root!r}: the {dataset} {'training' if train else 'test'} idx files "
                                  f"cannot be read ({str(e)[:80] or e.__class__.__name__}); replace them with the "
                                  f"original files") from None
        if x.ndim != 3 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise MnistFilesError(f"data.path = {root!r}: the {dataset} {'training' if train else 'test'} files "
                                  f"hold {x.shape[0]} images and {y.shape[0]} labels; they do not belong together")
        if int(y.min()) < 0 or int(y.max()) > 9:
            raise MnistFilesError(f"data.path = {root!r}: labels outside 0..9: these are not {dataset} files")
        out += [((x.reshape(x.shape[0], -1).float() / 255.0) - mean) / std, y.long()]
    return (*out, 10)
