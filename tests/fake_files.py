"""Files in their real on-disk formats that several test folders write for themselves: a distribution seen
only through its dist-info (entry points), MNIST idx files, a run directory as `dsd-tui run` leaves it, and a
checkpoint's bytes. One place, so a test in one package folder never imports another folder's test module."""
from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path

import numpy as np
import torch

from dsd_tui import profile as profile_mod
from dsd_tui.record import events as ev

TINY = ["prune.rungs=1", "train.dense_epochs=1", "train.epochs=1"]  # the profile of `fake_run`'s run


def write_dist(root, dist: str, version: str, group: str, entries: dict[str, str]) -> None:
    """A distribution seen only through its metadata: NAME-VERSION.dist-info with entry_points.txt."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entries.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}\n")


def write_idx(path: Path, array: np.ndarray) -> None:
    """The idx format: magic (0, 0, type 0x08 = uint8, number of dims), each dim big-endian int32, then the bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def write_mnist(root: Path, folder: str = "MNIST", n_train: int = 400, n_test: int = 100, seed: int = 0) -> Path:
    """Tiny MNIST-format files: each class a bright stroke in its own rows, plus noise (learnable, not trivial)."""
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, c in enumerate(labels):
            images[i, 2 + 2 * c: 4 + 2 * c, 4:24] = 255
        write_idx(root / folder / "raw" / f"{prefix}-images-idx3-ubyte", images)
        write_idx(root / folder / "raw" / f"{prefix}-labels-idx1-ubyte", labels)
    return root


def fake_run(root: Path, finished: bool = False, state: bytes | None = None) -> Path:
    """A run directory as `dsd-tui run` leaves it (profile, events; a finished one or a given state)."""
    run = root / "quickstart-20260101-000000"
    (run / "checkpoints").mkdir(parents=True)
    (run / "state").mkdir()
    prof = profile_mod.load(None, TINY)
    (run / "profile.toml").write_text(prof.to_toml())
    events = [ev.RunStarted(name="quickstart", run_dir=str(run), profile=prof.to_dict(), environment={},
                            phases=["teacher", "student"], rungs=1)]
    if finished:
        events.append(ev.RunFinished(status="completed", seconds=1.0))
    (run / "events.jsonl").write_text("".join(json.dumps(e.to_dict()) + "\n" for e in events))
    if state is not None:
        (run / "state" / "latest.pt").write_bytes(state)
    return run


def checkpoint_bytes(model, **extra) -> bytes:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"ck-{os.getpid()}-{time.time_ns()}.pt"
    torch.save({"state_dict": model.state_dict(), "phase": "teacher", "rung": 0, **extra}, path)
    data = path.read_bytes()
    path.unlink()
    return data
