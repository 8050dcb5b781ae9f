"""Datasets, label noise, splits and the device-resident batch iterators.

Every dataset ends up as plain tensors on the training device (images as uint8), so a training
step is a few tensor ops: index a batch, augment it on the device, normalise. No DataLoader workers.
The validation split is held out from the training set and carries the same label noise; the
test set stays clean and is never used to choose anything.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field

import numpy as np
import torch

from dsd_tui.core import label_noise, mnist_files
from dsd_tui.core.cifar_files import md5, read_batch
from dsd_tui.errors import UsageError
from dsd_tui.paths import expand

CIFAR_MEAN = (0.485, 0.456, 0.406)  # the reference recipe's normalisation for CIFAR-10/100 (design.md §2)
CIFAR_STD = (0.229, 0.224, 0.225)
CIFAR100_MEAN = (0.5071, 0.4867, 0.4408)  # CIFAR-100's own statistics: the reference's for CIFAR-100N
CIFAR100_STD = (0.2675, 0.2565, 0.2761)


def normalisation(dataset: str) -> tuple[tuple, tuple]:
    """(mean, std) per channel, as fractions of 255, that the reference uses for this data set's images."""
    if dataset == "cifar100n":
        return CIFAR100_MEAN, CIFAR100_STD
    return CIFAR_MEAN, CIFAR_STD


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


def add_noise(cfg, labels: torch.Tensor, num_classes: int, gen: torch.Generator):
    """`data.noise_type`: symmetric (the paper's, above) or one of `label_noise.py`'s schemes."""
    noise_type = getattr(cfg, "noise_type", "symmetric")
    if noise_type == "symmetric":
        return symmetric_noise(labels, cfg.noise, num_classes, gen)
    return label_noise.apply(noise_type, cfg.dataset, labels, cfg.noise, num_classes, gen)


# ---------------------------------------------------------------- sources

def _digits():
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    d = load_digits()
    x = torch.tensor(d.data, dtype=torch.float32) / 16.0
    return x, torch.tensor(d.target, dtype=torch.long), 10


class _CifarFiles:
    """Reads the CIFAR python pickles (restricted unpickler, checksums from torchvision), explaining what is
    missing where. Tested to give exactly what torchvision's own CIFAR loader gives on the same files."""

    LAYOUT = {
        "cifar10": ("cifar-10-batches-py", ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                                            "data_batch_5"], ["test_batch"], 10),
        "cifar100": ("cifar-100-python", ["train"], ["test"], 100),
    }

    def __init__(self, dataset: str, root: str):
        self.dataset = dataset
        self.root = expand(root, "data.path")
        self.folder, self.train_files, self.test_files, self.num_classes = self.LAYOUT[dataset]

    def check(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"data.path = {str(self.root)!r}: is a file, not a directory; point it at the folder "
                            f"that holds {self.folder}/ (the CIFAR python version)")
        if self.root.is_dir() and not os.access(self.root, os.R_OK | os.X_OK):
            raise DataError(f"data.path = {str(self.root)!r}: cannot be read (permission denied); fix its "
                            f"permissions or copy the data somewhere readable")
        if not self.root.is_dir():
            raise DataError(f"data.path = {str(self.root)!r}: no such directory; point it at the folder that holds "
                            f"{self.folder}/ (the CIFAR python version)")
        base = self.root / self.folder
        missing = [f for f in self.train_files + self.test_files if not (base / f).is_file()]
        if missing:
            other = "cifar-100-python" if self.dataset == "cifar10" else "cifar-10-batches-py"
            hint = f" (found {other}/: is this the other CIFAR?)" if (self.root / other).is_dir() else ""
            raise DataError(f"data.path = {str(self.root)!r}: {self.dataset} needs {self.folder}/"
                            f"{{{','.join(missing)}}} (the python-pickle CIFAR files){hint}")

    def load(self, train: bool):
        """(images N×3×32×32 uint8, labels, checksums match the official files) of the train or test set."""
        import torchvision  # only for the official checksums

        official = dict(torchvision.datasets.CIFAR10.train_list + torchvision.datasets.CIFAR10.test_list
                        if self.dataset == "cifar10" else
                        torchvision.datasets.CIFAR100.train_list + torchvision.datasets.CIFAR100.test_list)
        label_key = "labels" if self.dataset == "cifar10" else "fine_labels"
        xs, ys, verified = [], [], True
        for name in self.train_files if train else self.test_files:
            path = self.root / self.folder / name
            try:
                x, y = read_batch(path, label_key)
            except (pickle.UnpicklingError, EOFError, ValueError, KeyError, OSError, TypeError, IndexError,
                    AttributeError, MemoryError) as e:
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


def load_cifar100n_labels(path: str, clean: torch.Tensor, train_file: str) -> torch.Tensor:
    """The CIFAR-100N human noisy labels (`CIFAR-100_human.pt`: numpy arrays `noisy_label` and `clean_label`),
    read without running code. The file as distributed was pickled under numpy 1.x; both numpy module paths
    are accepted. Its `clean_label` must be the CIFAR-100 training labels `clean` read from `train_file`
    (as the authors assert), else the two files do not belong together."""
    file = expand(path, "data.noisy_labels")
    if not file.is_file():
        raise DataError(f"data.noisy_labels = {path!r}: no such file; give the CIFAR-100N file CIFAR-100_human.pt")
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


def _synthetic(n: int, seed: int):
    """CIFAR-shaped random images with a learnable class signal (for benchmarks and tests)."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    y = torch.randint(0, 10, (n,), generator=gen)
    base = torch.randint(0, 256, (10, 3, 32, 32), generator=gen).float()
    noise = torch.randint(-60, 61, (n, 3, 32, 32), generator=gen).float()
    x = (0.5 * base[y] + noise + 64).clamp(0, 255).to(torch.uint8)
    return x, y, 10


# ---------------------------------------------------------------- assembling a bundle

def load_data(cfg, seed: int) -> DataBundle:
    """Build train/val/test splits on the CPU from a DataSection; move with `.to(device)`."""
    gen = torch.Generator().manual_seed(seed)
    noise_info: dict = {}
    if cfg.dataset == "digits":
        x, y, classes = _digits()
        perm = torch.randperm(len(y), generator=gen)
        n_val = cfg.val_size
        n_train = cfg.train_size or (len(y) - n_val - 1)
        if n_val + n_train >= len(y):
            raise DataError(f"data.train_size + data.val_size = {n_train + n_val}: digits has {len(y)} samples; "
                            f"leave some for the test set")
        tr, va, te = perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]
        train_x, train_y, val_x, val_y = x[tr], y[tr], x[va], y[va]
        test_x, test_y = x[te], y[te]
        images, shape = False, (64,)
    else:
        if cfg.dataset == "synthetic":
            x, y, classes = _synthetic(cfg.synthetic_size + cfg.val_size, seed)
            test_x, test_y, _ = _synthetic(max(256, cfg.synthetic_size // 5), seed + 1)
        elif cfg.dataset in mnist_files.FOLDERS:
            x, y, test_x, test_y, classes = mnist_files.load(cfg.dataset, cfg.path)
        else:
            files = _CifarFiles("cifar100" if cfg.dataset == "cifar100n" else cfg.dataset, cfg.path)
            files.check()
            x, y, ok_train = files.load(train=True)
            test_x, test_y, ok_test = files.load(train=False)
            classes = files.num_classes
            noise_info["checksums_verified"] = bool(ok_train and ok_test)
            if cfg.dataset == "cifar100n":
                human = load_cifar100n_labels(cfg.noisy_labels, y, str(files.root / files.folder / "train"))
                noise_info["human_noisy_labels"] = True
                y_noisy_all = human
        perm = torch.randperm(len(y), generator=gen)
        n_val = cfg.val_size
        if n_val >= len(y):
            raise DataError(f"data.val_size = {n_val}: the training set has only {len(y)} samples")
        va = perm[:n_val]
        rest = perm[n_val:]
        tr = rest[:cfg.train_size] if cfg.train_size else rest
        train_x, train_y, val_x, val_y = x[tr], y[tr], x[va], y[va]
        images, shape = True, (3, 32, 32)
        if cfg.dataset in mnist_files.FOLDERS:  # normalised float features, like digits: no augmentation
            images, shape = False, (x.shape[1],)
        if cfg.dataset == "cifar100n":
            train_noisy, val_noisy = y_noisy_all[tr], y_noisy_all[va]

    if cfg.dataset == "cifar100n":
        tr_idx = (train_noisy != train_y).nonzero().flatten()
        va_idx = (val_noisy != val_y).nonzero().flatten()
    else:
        noise_gen = torch.Generator().manual_seed(seed + 1)
        train_noisy, tr_idx = add_noise(cfg, train_y, classes, noise_gen)
        val_noisy, va_idx = add_noise(cfg, val_y, classes, noise_gen)
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
    augment = {"auto": images, "none": False, "crop-flip": True}[cfg.augment]
    if augment and not images:
        raise DataError("data.augment = 'crop-flip': only image datasets can be cropped and flipped; use 'none'")
    return DataBundle(cfg.dataset, Split(train_x, train_noisy, train_y), val_split, Split(test_x, test_y, test_y),
                      classes, shape, images, augment, noise_info, *normalisation(cfg.dataset))


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
