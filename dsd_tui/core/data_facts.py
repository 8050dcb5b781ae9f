"""The data facts of a run, recorded in `summary.json` as its `data` block.

A curve means little without the data it was measured on: which data set, how it was split, how
much label noise was actually realised (not only asked for), how images were normalised, whether the
files were the official ones, and whether the test set was used to choose anything. These facts
come from the loaded `DataBundle`, so they say what the run did, not what the profile hoped for.
"""
from __future__ import annotations

from dsd_tui.core.data import DataBundle


def noise_type(bundle: DataBundle, cfg) -> str:
    """How the training/validation labels were made noisy: "human" where the data set came with its own
    noisy labels (CIFAR-100N), else the profile's `data.noise_type` where the profile has one, else the
    uniform "symmetric" noise."""
    if bundle.noise.get("human_noisy_labels"):
        return "human"
    return getattr(cfg, "noise_type", "symmetric")


def data_facts(bundle: DataBundle, cfg, teacher_choice: str) -> dict:
    """The `data` block: sizes are sample counts, rates fractions in [0, 1], mean/std per channel as
    fractions of 255 (null for non-image data); `checksums_verified` is null where there are no files."""
    human = bool(bundle.noise.get("human_noisy_labels"))
    facts = {
        "dataset": bundle.name,
        "train": len(bundle.train),
        "val": 0 if bundle.noise.get("val_is_test") else len(bundle.val),
        "test": len(bundle.test),
        "noise_type": noise_type(bundle, cfg),
        "noise": {"requested": None if human else float(cfg.noise),
                  "train_rate": bundle.noise["train_rate"], "val_rate": bundle.noise["val_rate"]},
        "normalization": ({"mean": [float(v) for v in bundle.mean], "std": [float(v) for v in bundle.std]}
                          if bundle.images else None),
        "augment": "crop-flip" if bundle.augment else "none",
        "checksums_verified": bundle.noise.get("checksums_verified"),
        "selection": "test" if teacher_choice == "best-test" else "validation",
    }
    if bundle.noise.get("val_is_test"):
        facts["val_is_test"] = True  # no validation split: the records' val_* are the test set's
    if human:
        facts["noisy_labels_file"] = cfg.noisy_labels
        facts["clean_labels_match"] = True  # checked when loading: a mismatch is refused
    return facts
