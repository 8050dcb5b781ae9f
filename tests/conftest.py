"""Shared test helpers: short real ladders and tiny CIFAR files in the real on-disk format."""
from __future__ import annotations

import pickle
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

SHORT = ("prune.rungs=2", "train.dense_epochs=3", "train.epochs=2")


def short_overrides(*extra: str) -> list[str]:
    out = []
    for item in SHORT + extra:
        out += ["--set", item]
    return out


def write_cifar(root: Path, dataset: str = "cifar10", n_train: int = 60, n_test: int = 20, seed: int = 0) -> Path:
    """Tiny CIFAR files with the real python-pickle layout (pickled dicts: "data" N×3072 uint8 and a label list)."""
    rng = np.random.default_rng(seed)
    if dataset == "cifar10":
        folder, label_key, classes = root / "cifar-10-batches-py", "labels", 10
        per = n_train // 5
        files = {f"data_batch_{i}": per for i in range(1, 6)}
        files["test_batch"] = n_test
    else:
        folder, label_key, classes = root / "cifar-100-python", "fine_labels", 100
        files = {"train": n_train, "test": n_test}
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in files.items():
        entry = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 label_key: [int(v) for v in rng.integers(0, classes, n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    meta = "batches.meta" if dataset == "cifar10" else "meta"
    key = "label_names" if dataset == "cifar10" else "fine_label_names"
    with open(folder / meta, "wb") as f:
        pickle.dump({key: [f"c{i}".encode() for i in range(classes)]}, f)
    return root


@pytest.fixture
def cifar10_dir(tmp_path):
    return write_cifar(tmp_path / "data", "cifar10")


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    """Every test gives pytest its own SIGINT/SIGTERM/SIGHUP handlers back (an in-process run that raised
    before its `stop_on_signals` block ended would otherwise leave its handlers to the next tests)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)
