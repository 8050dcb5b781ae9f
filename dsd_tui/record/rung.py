"""The rung record: what one finished rung of a ladder measured, defined once.

A rung record is built by the ladder (`measured_record` after a rung trained, `diverged_record` when
its loss became NaN/Inf), carried by the `rung_finished` event, kept in summary.json under
`phases[].rungs[]` and read by the stop criteria, the verdicts, the views and the study tools. It
stays a plain dict on disk and in events (JSON in, JSON out), so `RungRecord` is a TypedDict: the
type documents the keys and their units, and `record["val_acc"]` keeps working everywhere.

Units: accuracies and sparsity are fractions in [0, 1]; losses are mean cross-entropy in nats per
sample (the plain loss, also in the KD student phase); entropies are in bits, in [0, 1]; `epochs`
are epochs trained in the rung; `seconds` is wall time; `learning_distance` is in the weights' own units
(docs/lab.md). A diverged rung has None for every metric.
Key order is the order summary.json has always had, so the file is unchanged by this module.
"""
from __future__ import annotations

from typing import TypedDict


class _RungRecordRequired(TypedDict):
    rung: int  # 0 = the dense rung; k = after the k-th pruning
    sparsity: float  # fraction of the prunable weights removed, in [0, 1]
    remaining_weights: int  # prunable weights kept (count)
    train_acc: float | None  # accuracy on the (noisy) training labels, unaugmented pass, in [0, 1]
    train_acc_clean: float | None  # the same samples scored against their clean labels, in [0, 1]
    train_loss: float | None  # mean cross-entropy on the noisy training labels
    val_acc: float | None  # validation accuracy (noisy labels, what the criteria see), in [0, 1]
    val_acc_clean: float | None  # validation accuracy against the clean labels, in [0, 1]
    val_loss: float | None  # mean validation cross-entropy
    test_acc: float | None  # test accuracy (clean labels; read only for reporting), in [0, 1]
    test_loss: float | None  # mean test cross-entropy
    entropy: dict  # ReLU layer name -> mean over its neurons of the on/off binary entropy, bits in [0, 1]
    entropy_mean: float | None  # mean of `entropy` over layers (0.0 when entropy is off; None: diverged)
    epochs: int  # epochs trained in this rung (for a diverged rung: the epoch it diverged in)
    learning_distance: float | None  # ℓ2 norm of (final − start) prunable weights of the rung (docs/lab.md)


class RungRecord(_RungRecordRequired, total=False):
    """One rung's record (summary.json `phases[].rungs[]`, the `rung_finished` event's `record`)."""

    seconds: float  # wall time of the rung: its epochs plus the measuring pass (trained rungs only)
    regime: str  # memorising | critical | recovered | collapsing (stops/regime.py; trained rungs only)
    diverged: bool  # True: the loss became NaN/Inf and the metrics are None (absent otherwise)
    diverged_epoch: int  # the 1-based epoch in which it diverged (diverged rungs only)
    layer_sparsity: dict  # prunable weight's state-dict name -> fraction of it pruned, in [0, 1] (record/layers.py)
    peak_rss_mb: float | None  # MiB: the process's peak resident set size up to this rung's end (ru_maxrss: a
    #                            high-water mark since the process started, never reset; record/memory.py)
    gpu_peak_mb: float  # MiB: this rung's peak of torch.cuda allocations (CUDA runs only)


METRICS = ("train_acc", "train_acc_clean", "train_loss", "val_acc", "val_acc_clean", "val_loss", "test_acc",
           "test_loss")


def measured_record(rung: int, kept: int, total: int, train: dict, val: dict, test: dict, entropy: dict,
                    entropy_mean: float | None, epochs: int, learning_distance: float | None = None) -> RungRecord:
    """The record of a trained rung from its measuring pass (`train`/`val`/`test`: acc, acc_clean, loss) and
    its learning distance (None when the rung's start weights are unknown)."""
    return {
        "rung": rung,
        "sparsity": 1.0 - kept / total,
        "remaining_weights": kept,
        "train_acc": train["acc"],
        "train_acc_clean": train["acc_clean"],
        "train_loss": train["loss"],
        "val_acc": val["acc"],
        "val_acc_clean": val["acc_clean"],
        "val_loss": val["loss"],
        "test_acc": test["acc"],
        "test_loss": test["loss"],
        "entropy": entropy,
        "entropy_mean": entropy_mean,
        "epochs": epochs,
        "learning_distance": learning_distance,
    }


def diverged_record(rung: int, kept: int, total: int, epoch: int) -> RungRecord:
    """The record of a rung whose loss became NaN/Inf in `epoch`: no metrics."""
    return {"rung": rung, "sparsity": 1.0 - kept / total, "remaining_weights": kept,  # type: ignore[typeddict-item]
            "diverged": True, "diverged_epoch": epoch, "epochs": epoch, "entropy": {}, "entropy_mean": None,
            "learning_distance": None, **{k: None for k in METRICS}}


def trained(records: list[RungRecord]) -> list[RungRecord]:
    """The records of rungs that trained to the end (diverged ones left out)."""
    return [r for r in records if not r.get("diverged")]
