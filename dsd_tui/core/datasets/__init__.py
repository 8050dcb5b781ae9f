"""The data sets a profile may name (`data.dataset`): one registry, one file per data set.

Each bundled data set registers a `Dataset` in its own module here: where its samples come from (its
`source`) and the facts the rest of dsd_tui asks about it (is `data.path` required, is it images, which
asymmetric flips it has, its normalisation, its size for the cost estimate), so no other module names a
data set. An installed package adds one through an entry point in the group `dsd_tui.datasets`, Python
code through `dsd_tui.register_dataset`; their contract is `loader(path, seed) -> {"train": (x, y),
"test": (x, y), "num_classes": n}`, which `plugin_dataset` wraps into a `Dataset` that checks what the
loader returns (one line naming the plugin and its package when it is wrong).

core/data.py turns any `Source` into the run's splits the same way (validation carved from the
training set, label noise, the test set kept clean). Nothing here imports torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from dsd_tui.registry import Entry, PluginError, Registry

# The reference recipe's image normalisation (design.md §2), per channel as fractions of 255.
CIFAR_MEAN = (0.485, 0.456, 0.406)
CIFAR_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Source:
    """What a data set's source gives core/data.py: (x, y) tensors of the training set and of the test set
    (`test` None for a "pool" data set, whose test set is carved from the same samples), the class count,
    whether the files matched their official checksums (None: no files), and human noisy training labels
    (aligned with the training set) where the data set comes with them."""

    train: tuple
    test: tuple | None
    num_classes: int
    checksums_verified: bool | None = None
    noisy_train_labels: Any = None


@dataclass(frozen=True)
class Dataset:
    """One data set.

    - `source(data_cfg, seed) -> Source`: reads it (`data_cfg` is the profile's [data] section); a problem
      with the files is a one-line `DataError`.
    - `split`: "train-test" (a training set and a test set: validation and `data.train_size` come out of
      the training set) | "pool" (one set of samples: train, validation and test are one permutation of it,
      at least one sample left for the test set; scikit-learn's digits).
    - `images`: stored as uint8 3×32×32 images, normalised with `mean`/`std` (per channel, fractions of 255)
      and cropped and flipped on the device; otherwise float features, already normalised, never augmented.
    - `input_shape`: one sample's shape as the model sees it (None: known once loaded, e.g. a plugin's).
    - `image_note`: set (e.g. "28×28 grey") where the profile refuses a 3×32×32-image architecture outright;
      the preflight's forward pass catches the other mismatches.
    - `path_help`: set where `data.path` is required: the folder it must name.
    - `noisy_labels_help`: set where `data.noisy_labels` is required (the file of human noisy labels, which
      replace `data.noise`).
    - `asymmetric_map`: {source class: target class} for `data.noise_type = "asymmetric"`; None: refused.
    - `full_train`: samples in the training set (or the pool) before any split, an int or a function of
      `data_cfg` (the synthetic set's size is a profile key); None where unknown (the cost estimate then
      assumes 50,000).
    - `fetch`: where `dsd-tui data fetch NAME` gets its files: a function returning `Download`s (a function so
      that torchvision, which publishes the URLs and checksums, is read only when fetching); None: nothing
      to fetch (bundled data, a plugin's).
    """

    name: str
    source: Callable[[Any, int], Source]
    split: str = "train-test"
    images: bool = False
    input_shape: tuple | None = None
    mean: tuple = CIFAR_MEAN
    std: tuple = CIFAR_STD
    image_note: str | None = None
    path_help: str | None = None
    noisy_labels_help: str | None = None
    asymmetric_map: dict | None = None
    full_train: int | Callable[[Any], int] | None = None
    fetch: Callable[[], tuple] | None = None

    def full_train_size(self, data_cfg) -> int | None:
        return self.full_train(data_cfg) if callable(self.full_train) else self.full_train


@dataclass(frozen=True)
class Download:
    """One file `dsd-tui data fetch` transfers (dsd_tui/fetch/): its name at the source, the official URLs
    tried in order, its checksum ("md5:<hex>" or "sha256:<hex>"), how it is unpacked ("tar": a .tar.gz
    whose one top folder is `target`; "gunzip": a .gz that becomes the file `target`; "file": kept as
    `target`) and `target`, the path under the fetch folder it becomes. `folder` is the subfolder of a
    mirror (`--mirror URL` serves URL/<folder>/<name>): the data set's name."""

    folder: str
    name: str
    urls: tuple
    checksum: str
    unpack: str
    target: str


def fetch_command(name: str, path: str = "") -> str | None:
    """`dsd-tui data fetch NAME --path DIR` for a data set that can be fetched (None otherwise), with
    `path` as DIR (a placeholder when empty), for the messages that say what is missing."""
    if name not in DATASETS or not DATASETS.entry(name).loaded or DATASETS.entry(name).value.fetch is None:
        return None
    import shlex

    return f"dsd-tui data fetch {name} --path {shlex.quote(path) if path else 'DIR'}"


class PluginLoader:
    """A plugin's `loader(path, seed)` behind the bundled `source` signature, checking what it returns: a
    dict with "train" and "test" (x, y) pairs of tensors and an int "num_classes" ≥ 2, float x (N, ...) with
    the same sample shape in both, int64 y of x's length with labels in [0, num_classes). x is used as
    float32 on the CPU."""

    def __init__(self, loader: Callable, where: str, name: str):
        self.loader = loader
        self.where = where
        self.name = name

    def fail(self, problem: str) -> PluginError:
        return PluginError(f"data.dataset = {self.name!r}: dataset plugin {self.where}: {problem}; fix the plugin's "
                           f"loader or choose another data set")

    def __call__(self, data_cfg, seed: int) -> Source:
        path = data_cfg.path or None
        try:
            out = self.loader(path, seed)
        except Exception as e:  # noqa: BLE001 - whatever a plugin raises is one line naming it
            raise self.fail(f"loader({path!r}, {seed}) raised {e.__class__.__name__}: "
                            f"{(str(e).splitlines() or [''])[0][:120]}") from None
        keys = ("train", "test", "num_classes")
        if not isinstance(out, dict):
            raise self.fail(f"returned {type(out).__name__}; expected a dict with 'train', 'test' and 'num_classes'")
        missing = [k for k in keys if k not in out]
        if missing:
            raise self.fail(f"returned a dict without {', '.join(map(repr, missing))}; expected 'train', 'test' and "
                            f"'num_classes'")
        classes = out["num_classes"]
        if not isinstance(classes, int) or isinstance(classes, bool) or classes < 2:
            raise self.fail(f"num_classes = {classes!r}; expected an int ≥ 2")
        train = self.pair(out["train"], "train", classes)
        test = self.pair(out["test"], "test", classes)
        if train[0].shape[1:] != test[0].shape[1:]:
            raise self.fail(f"train samples have shape {tuple(train[0].shape[1:])} but test samples "
                            f"{tuple(test[0].shape[1:])}; both must be the same")
        return Source(train, test, classes)

    def pair(self, value, part: str, classes: int) -> tuple:
        import torch

        if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(isinstance(v, torch.Tensor)
                                                                              for v in value):
            raise self.fail(f"{part!r} is {type(value).__name__}; expected a pair (x, y) of tensors")
        x, y = value
        if not x.is_floating_point() or x.ndim < 2:
            raise self.fail(f"{part} x is a {x.dtype} tensor of shape {tuple(x.shape)}; expected float samples "
                            f"of shape (N, ...)")
        if y.dtype != torch.int64 or y.ndim != 1 or y.shape[0] != x.shape[0] or y.shape[0] == 0:
            raise self.fail(f"{part} y is a {y.dtype} tensor of shape {tuple(y.shape)} for {x.shape[0]} samples; "
                            f"expected int64 labels of shape ({x.shape[0]},), at least one")
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= classes:
            raise self.fail(f"{part} labels span {low}..{high}; expected 0..{classes - 1} (num_classes = {classes})")
        return x.detach().to("cpu", torch.float32), y.detach().cpu()


def plugin_dataset(loader: Any, entry: Entry) -> Dataset:
    """The registry's `adapt`: a plugin's or Python-registered loader as a `Dataset` (features, no
    augmentation, no asymmetric map, `data.path` passed through as given, None when empty)."""
    if not callable(loader):
        raise PluginError(f"data.dataset = {entry.name!r}: dataset plugin {entry.where()}: is a "
                          f"{type(loader).__name__}, not a loader(path, seed) function")
    return Dataset(entry.name, PluginLoader(loader, entry.where(), entry.name))


DATASETS: Registry[Dataset] = Registry("dataset", package=__name__, group="dsd_tui.datasets", adapt=plugin_dataset,
                                              python_api="dsd_tui.register_dataset")

__all__ = ["DATASETS", "Dataset", "Download", "fetch_command", "Source", "PluginLoader", "plugin_dataset",
           "CIFAR_MEAN", "CIFAR_STD"]
