"""Splits, label noise and the device-resident batch iterators, for any data set of core/datasets/.

Every dataset ends up as plain tensors on the training device (images as uint8), so a training
step is a few tensor ops: index a batch, augment it on the device, normalise. No DataLoader workers.
The validation split is held out from the training set and carries the same label noise; the
test set stays clean and is never used to choose anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from dsd_tui.core import label_noise
from dsd_tui.core.datasets import CIFAR_MEAN, CIFAR_STD  # noqa: F401 - re-exported: the reference's normalisation
from dsd_tui.core.datasets._normalisation import CIFAR100_MEAN, CIFAR100_STD  # noqa: F401 - re-exported
from dsd_tui.errors import UsageError
from dsd_tui.paths import expand


class DataError(UsageError):
    """Data that cannot be used as given: one line saying what was expected where."""


@dataclass
class Split:
    x: torch.Tensor  # float features (digits) or uint8 images N×3×32×32
    y: torch.Tensor  # labels used for training/selection (noisy for train and val)
    y_clean: torch.Tensor  # the true labels

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device) -> "Split":
        return Split(self.x.to(device), self.y.to(device), self.y_clean.to(device))


@dataclass
class DataBundle:
    name: str
    train: Split
    val: Split
    test: Split
    num_classes: int
    input_shape: tuple
    images: bool  # uint8 images needing normalisation (and maybe augmentation)
    augment: bool
    noise: dict = field(default_factory=dict)  # realised rates and noisy indices
    mean: tuple = CIFAR_MEAN  # image normalisation per channel (fractions of 255)
    std: tuple = CIFAR_STD

    def to(self, device) -> "DataBundle":
        return DataBundle(self.name, self.train.to(device), self.val.to(device), self.test.to(device),
                          self.num_classes, self.input_shape, self.images, self.augment, self.noise,
                          self.mean, self.std)


# ---------------------------------------------------------------- label noise

def symmetric_noise(labels: torch.Tensor, rate: float, num_classes: int, gen: torch.Generator):
    """Move round(rate·n) labels, chosen at random, to a different class drawn uniformly.

    Returns (noisy labels, sorted indices of the changed samples)."""
    n = labels.shape[0]
    count = int(round(rate * n))
    idx = torch.randperm(n, generator=gen)[:count].sort().values
    shift = torch.randint(1, num_classes, (count,), generator=gen)
    noisy = labels.clone()
    noisy[idx] = (labels[idx] + shift) % num_classes
    return noisy, idx


def add_noise(cfg, labels: torch.Tensor, num_classes: int, gen: torch.Generator, asymmetric_map: dict | None = None):
    """`data.noise_type`: symmetric (the paper's, above) or one of `label_noise.py`'s schemes; `asymmetric_map`
    is the data set's class map (core/datasets/) for "asymmetric"."""
    noise_type = getattr(cfg, "noise_type", "symmetric")
    if noise_type == "symmetric":
        return symmetric_noise(labels, cfg.noise, num_classes, gen)
    return label_noise.apply(noise_type, labels, cfg.noise, num_classes, gen, asymmetric_map)


# ---------------------------------------------------------------- CIFAR-100N's human labels

def load_cifar100n_labels(path: str, clean: torch.Tensor, train_file: str) -> torch.Tensor:
    """The CIFAR-100N human noisy labels (`CIFAR-100_human.pt`: numpy arrays `noisy_label` and `clean_label`),
    read without running code. The file as distributed was pickled under numpy 1.x; both numpy module paths
    are accepted. Its `clean_label` must be the CIFAR-100 training labels `clean` read from `train_file`
    (as the authors assert), else the two files do not belong together."""
    file = expand(path, "data.noisy_labels")
    if not file.is_file():
        from dsd_tui.core.datasets import fetch_command

        raise DataError(f"data.noisy_labels = {path!r}: no such file; give the CIFAR-100N file CIFAR-100_human.pt "
                        f"(get it with `{fetch_command('cifar100n', str(file.parent))}`)")
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            raw = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line answer
        raise DataError(f"data.noisy_labels = {path!r}: cannot be read safely ({e.__class__.__name__}); "
                        f"expected the CIFAR-100N .pt file with 'noisy_label' and 'clean_label' arrays") from None
    arrays = {}
    for key in ("noisy_label", "clean_label"):
        value = raw.get(key) if isinstance(raw, dict) else None
        if value is None:
            raise DataError(f"data.noisy_labels = {path!r}: has no {key!r} entry; expected CIFAR-100_human.pt")
        arrays[key] = torch.as_tensor(np.asarray(value), dtype=torch.long).flatten()
    n_train = clean.shape[0]
    for key, labels in arrays.items():
        if labels.shape[0] != n_train:
            raise DataError(f"data.noisy_labels = {path!r}: {labels.shape[0]} {key} entries for the {n_train} "
                            f"training images of {train_file}; the file does not belong to this data set")
    differ = int((arrays["clean_label"] != clean.long()).sum())
    if differ:
        raise DataError(f"data.noisy_labels = {path!r}: its clean_label differs from the CIFAR-100 training labels "
                        f"in {train_file} at {differ} of {n_train} images; use the CIFAR-N labels file with the "
                        f"original CIFAR-100 python files")
    return arrays["noisy_label"]


def _numpy_safe_globals():
    """What a pickled numpy array needs, under the module path of numpy 1.x files (numpy.core) and of
    numpy 2 files (numpy._core), whichever numpy runs here."""
    core = getattr(np, "_core", None) or np.core
    rebuild = core.multiarray._reconstruct
    out = [np.ndarray, np.dtype, (rebuild, "numpy.core.multiarray._reconstruct"),
           (rebuild, "numpy._core.multiarray._reconstruct")]
    out.extend(type(np.dtype(t)) for t in ("int64", "int32", "uint8", "float32", "float64"))
    return out


# ---------------------------------------------------------------- assembling a bundle

def load_data(cfg, seed: int) -> DataBundle:
    """Build train/val/test splits on the CPU from a DataSection; move with `.to(device)`.

    The data set's source (core/datasets/) gives its samples; the split, the label noise and the
    validation carving are the same for every data set, bundled or plugin."""
    dataset = _dataset(cfg.dataset)
    gen = torch.Generator().manual_seed(seed)
    noise_info: dict = {}
    src = dataset.source(cfg, seed)
    x, y = src.train
    classes = src.num_classes
    if src.checksums_verified is not None:
        noise_info["checksums_verified"] = src.checksums_verified
    if src.noisy_train_labels is not None:
        noise_info["human_noisy_labels"] = True
    perm = torch.randperm(len(y), generator=gen)
    n_val = cfg.val_size
    if dataset.split == "pool":  # one set of samples: train, validation and test from one permutation
        n_train = cfg.train_size or (len(y) - n_val - 1)
        if n_val + n_train >= len(y):
            raise DataError(f"data.train_size + data.val_size = {n_train + n_val}: {cfg.dataset} has {len(y)} "
                            f"samples; leave some for the test set")
        tr, va, te = perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]
        test_x, test_y = x[te], y[te]
    else:
        if n_val >= len(y):
            raise DataError(f"data.val_size = {n_val}: the training set has only {len(y)} samples")
        va = perm[:n_val]
        rest = perm[n_val:]
        tr = rest[:cfg.train_size] if cfg.train_size else rest
        test_x, test_y = src.test
    train_x, train_y, val_x, val_y = x[tr], y[tr], x[va], y[va]

    if src.noisy_train_labels is not None:  # human labels: the noise comes with the data
        train_noisy, val_noisy = src.noisy_train_labels[tr], src.noisy_train_labels[va]
        tr_idx = (train_noisy != train_y).nonzero().flatten()
        va_idx = (val_noisy != val_y).nonzero().flatten()
    else:
        noise_gen = torch.Generator().manual_seed(seed + 1)
        train_noisy, tr_idx = add_noise(cfg, train_y, classes, noise_gen, dataset.asymmetric_map)
        val_noisy, va_idx = add_noise(cfg, val_y, classes, noise_gen, dataset.asymmetric_map)
        noise_info["noise_type"] = getattr(cfg, "noise_type", "symmetric")
    noise_info.update({
        "train_rate": float(len(tr_idx) / max(1, len(train_y))),
        "val_rate": float(len(va_idx) / max(1, len(val_y))),
        "train_noisy_indices": tr_idx.tolist(),
        "val_noisy_indices": va_idx.tolist(),
    })
    val_split = Split(val_x, val_noisy, val_y)
    if cfg.val_size == 0:  # no validation split (distill.teacher = "best-test"): the test set stands in
        val_split = Split(test_x, test_y, test_y)
        noise_info["val_is_test"] = True
    images = dataset.images
    augment = {"auto": images, "none": False, "crop-flip": True}[cfg.augment]
    if augment and not images:
        raise DataError("data.augment = 'crop-flip': only image datasets can be cropped and flipped; use 'none'")
    return DataBundle(cfg.dataset, Split(train_x, train_noisy, train_y), val_split, Split(test_x, test_y, test_y),
                      classes, tuple(x.shape[1:]), images, augment, noise_info, dataset.mean, dataset.std)


def _dataset(name: str):
    """The registry's entry; a plugin that cannot be imported is one line naming the profile key."""
    from dsd_tui.core.datasets import DATASETS
    from dsd_tui.registry import PluginError

    try:
        return DATASETS.get(name)
    except PluginError as e:
        if str(e).startswith("data.dataset"):
            raise
        raise PluginError(f"data.dataset = {name!r}: {e}") from None


# ---------------------------------------------------------------- batches on the device

class Batcher:
    """Turns stored samples into model inputs: normalisation and (for training) crop+flip on the device."""

    def __init__(self, bundle: DataBundle, device, channels_last: bool = False):
        self.images = bundle.images
        self.augment = bundle.augment
        self.channels_last = channels_last
        if self.images:
            self.mean = torch.tensor(bundle.mean, device=device).view(1, -1, 1, 1) * 255
            self.inv_std = 1.0 / (torch.tensor(bundle.std, device=device).view(1, -1, 1, 1) * 255)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        if not self.images:
            return x
        out = (x.float() - self.mean) * self.inv_std
        return out.contiguous(memory_format=torch.channels_last) if self.channels_last else out

    def train_batches(self, split: Split, batch_size: int, gen: torch.Generator):
        """One epoch: a fresh permutation, every sample once, the last short batch kept."""
        n = len(split)
        order = torch.randperm(n, generator=gen, device=gen.device)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            x = split.x[idx]
            if self.augment:
                x = random_crop_flip(x, gen)
            yield idx, self.prepare(x), split.y[idx]

    def eval_batches(self, split: Split, batch_size: int = 1024):
        for start in range(0, len(split), batch_size):
            sl = slice(start, start + batch_size)
            yield sl, self.prepare(split.x[sl])


def random_crop_flip(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop (zero padding `pad`, in pixel space) and horizontal flip with p = 0.5, per sample,
    the distribution of torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip()."""
    b, c, h, w = x.shape
    dev = gen.device  # the generator lives on the data's device: no host round trip per step
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen, device=dev)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen, device=dev)
    flip = torch.rand(b, generator=gen, device=dev) < 0.5
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = dy[:, None] + torch.arange(h, device=x.device)  # b×h
    cols = torch.arange(w, device=x.device).expand(b, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols) + dx[:, None]  # b×w
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    ci = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]
