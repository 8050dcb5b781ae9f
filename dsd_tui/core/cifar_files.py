"""Reading the CIFAR python-pickle files without letting them run code.

The CIFAR "python version" batches are pickles (a dict of a uint8 array and a label list). A plain
`pickle.load` would execute whatever a tampered file asks for; this reader only lets the pickle
rebuild numpy arrays, so a file carrying code is refused like any other unreadable file.
"""
from __future__ import annotations

import hashlib
import pickle
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
