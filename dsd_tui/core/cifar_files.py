"""Reading the CIFAR python-pickle files without letting them run code.

The CIFAR "python version" batches are pickles (a dict of a uint8 array and a label list). A plain
`pickle.load` would execute whatever a tampered file asks for; this reader only lets the pickle
rebuild numpy arrays, so a file carrying code is refused like any other unreadable file.

`CifarFiles` reads one archive's layout (`CIFAR10_LAYOUT`, `CIFAR100_LAYOUT`: the folders and files the
official archives unpack to) from `data.path`, explaining what is missing where; the data sets of
core/datasets/ use it.
"""
from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 2 pickles carry raw bytes
}


class UnsafePickle(pickle.UnpicklingError):
    """The pickle asked for something other than plain arrays, lists and strings."""


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise UnsafePickle(f"it asks to load {module}.{name}, which a data file never needs")


def read_pickle(path: Path):
    """Unpickle a data file allowing only numpy arrays, lists, dicts, strings and numbers."""
    with open(path, "rb") as f:
        return _ArrayUnpickler(f, encoding="latin1").load()


def read_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(images N×3×32×32 uint8, labels N) of one CIFAR batch file; ValueError says what is wrong."""
    entry = read_pickle(path)
    if not isinstance(entry, dict):
        raise ValueError("not a CIFAR batch (no dict inside)")
    entry = {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in entry.items()}
    other = "fine_labels" if label_key == "labels" else "labels"
    if label_key not in entry and other in entry:
        raise ValueError(f"it has '{other}' but no '{label_key}': a file of the other CIFAR")
    data, labels = entry.get("data"), entry.get(label_key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError("its 'data' is not an N×3072 uint8 array")
    labels = np.asarray(labels if labels is not None else [], dtype=np.int64)
    if labels.shape != (data.shape[0],):
        raise ValueError(f"{data.shape[0]} images but {labels.size} labels")
    return data.reshape(-1, 3, 32, 32), labels


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class CifarLayout:
    """One official CIFAR python archive as unpacked under `data.path`."""

    folder: str  # e.g. cifar-10-batches-py
    train_files: tuple
    test_files: tuple
    num_classes: int
    label_key: str  # "labels" (CIFAR-10) | "fine_labels" (CIFAR-100)
    checksums: str  # the torchvision dataset class whose file lists carry the official md5 sums
    other_folder: str  # the other CIFAR's folder: found instead, it gets a hint


CIFAR10_LAYOUT = CifarLayout("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",),
                             10, "labels", "CIFAR10", "cifar-100-python")
CIFAR100_LAYOUT = CifarLayout("cifar-100-python", ("train",), ("test",), 100, "fine_labels", "CIFAR100",
                              "cifar-10-batches-py")


class CifarFiles:
    """Reads the CIFAR python pickles (restricted unpickler, checksums from torchvision), explaining what is
    missing where. Tested to give exactly what torchvision's own CIFAR loader gives on the same files.
    `dataset` is the name the messages use."""

    def __init__(self, dataset: str, root: str, layout: CifarLayout):
        from dsd_tui.paths import expand

        self.dataset = dataset
        self.layout = layout
        self.root = expand(root, "data.path")
        self.folder, self.num_classes = layout.folder, layout.num_classes
        self.train_files, self.test_files = list(layout.train_files), list(layout.test_files)

    def check(self) -> None:
        from dsd_tui.core.data import DataError

        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"data.path = {str(self.root)!r}: is a file, not a directory; point it at the folder "
                            f"that holds {self.folder}/ (the CIFAR python version)")
        if self.root.is_dir() and not os.access(self.root, os.R_OK | os.X_OK):
            raise DataError(f"data.path = {str(self.root)!r}: cannot be read (permission denied); fix its "
                            f"permissions or copy the data somewhere readable")
        if not self.root.is_dir():
            raise DataError(f"data.path = {str(self.root)!r}: no such directory; point it at the folder that holds "
                            f"{self.folder}/ (the CIFAR python version){self.fetch_hint()}")
        base = self.root / self.folder
        missing = [f for f in self.train_files + self.test_files if not (base / f).is_file()]
        if missing:
            other = self.layout.other_folder
            hint = f" (found {other}/: is this the other CIFAR?)" if (self.root / other).is_dir() else ""
            fetch = self.fetch_hint() if not (self.root / other).is_dir() and not base.is_dir() else ""
            raise DataError(f"data.path = {str(self.root)!r}: {self.dataset} needs {self.folder}/"
                            f"{{{','.join(missing)}}} (the python-pickle CIFAR files){hint}{fetch}")

    def fetch_hint(self) -> str:
        """"; get it with `dsd-tui data fetch …`" for the folder data.path names (core/datasets/)."""
        from dsd_tui.core.datasets import fetch_command

        command = fetch_command(self.dataset, str(self.root))
        return f"; get it with `{command}`" if command else ""

    def load(self, train: bool):
        """(images N×3×32×32 uint8, labels, checksums match the official files) of the train or test set."""
        import torch
        import torchvision  # only for the official checksums

        from dsd_tui.core.data import DataError

        cls = getattr(torchvision.datasets, self.layout.checksums)
        official = dict(cls.train_list + cls.test_list)
        xs, ys, verified = [], [], True
        for name in self.train_files if train else self.test_files:
            path = self.root / self.folder / name
            try:
                x, y = read_batch(path, self.layout.label_key)
            except (pickle.UnpicklingError, EOFError, ValueError, KeyError, OSError, TypeError, IndexError,
                    AttributeError, MemoryError, OverflowError) as e:  # OverflowError: a label of 2**70
                raise DataError(f"data.path = {str(self.root)!r}: {self.folder}/{name} cannot be used as "
                                f"{self.dataset} ({str(e)[:80] or e.__class__.__name__}); it looks truncated, unsafe "
                                f"or of another format: replace it with the python-pickle CIFAR file") from None
            verified = verified and md5(path) == official.get(name)
            xs.append(x)
            ys.append(y)
        x, y = np.concatenate(xs), np.concatenate(ys)
        if len(x) == 0:
            raise DataError(f"data.path = {str(self.root)!r}: {self.folder}/ holds no images")
        if y.min() < 0 or y.max() >= self.num_classes:
            raise DataError(f"data.path = {str(self.root)!r}: labels outside 0..{self.num_classes - 1}: "
                            f"these are not {self.dataset} files")
        images = torch.from_numpy(np.ascontiguousarray(x))
        return images, torch.from_numpy(y.astype(np.int64)), verified

    def source(self):
        """Both sets as a `Source` (core/datasets/), `checksums_verified` true only if every file matched."""
        from dsd_tui.core.datasets import Source

        self.check()
        x, y, ok_train = self.load(train=True)
        test_x, test_y, ok_test = self.load(train=False)
        return Source((x, y), (test_x, test_y), self.num_classes, checksums_verified=bool(ok_train and ok_test))
