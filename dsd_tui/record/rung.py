"""The rung record: what one finished rung of a ladder measured, defined once.

A rung record is built once, complete, by the ladder (`measured_record` after a rung trained,
`diverged_record` when its loss became NaN/Inf), carried by the `rung_finished` event, kept in
summary.json under `phases[].rungs[]` and read by the stop criteria, the verdicts, the views and the
study tools. In memory it is a frozen dataclass read by attribute (`record.val_acc`); JSON exists only at
the disk edge (`to_json()` / `from_json()`, record/json_record.py): the keys in the order summary.json
and events.jsonl have always had, a trained rung's and a diverged rung's each.

Units: accuracies and sparsity are fractions in [0, 1]; losses are mean cross-entropy in nats per
sample (the plain loss, also in the KD student phase); entropies are in bits, in [0, 1]; `epochs`
are epochs trained in the rung; `seconds` is wall time; `learning_distance` is in the weights' own units
(docs/lab.md). A diverged rung has None for every metric.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dsd_tui.record.json_record import JsonRecord

METRICS = ("train_acc", "train_acc_clean", "train_loss", "val_acc", "val_acc_clean", "val_loss", "test_acc",
           "test_loss")


@dataclass(frozen=True, eq=True)
class RungRecord(JsonRecord):
    """One rung's record (summary.json `phases[].rungs[]`, the `rung_finished` event's `record`)."""

    rung: int  # 0 = the dense rung; k = after the k-th pruning
    sparsity: float | None = None  # fraction of the prunable weights removed, in [0, 1]
    remaining_weights: int | None = None  # prunable weights kept (count)
    train_acc: float | None = None  # accuracy on the (noisy) training labels, unaugmented pass, in [0, 1]
    train_acc_clean: float | None = None  # the same samples scored against their clean labels, in [0, 1]
    train_loss: float | None = None  # mean cross-entropy on the noisy training labels
    val_acc: float | None = None  # validation accuracy (noisy labels, what the criteria see), in [0, 1]
    val_acc_clean: float | None = None  # validation accuracy against the clean labels, in [0, 1]
    val_loss: float | None = None  # mean validation cross-entropy
    test_acc: float | None = None  # test accuracy (clean labels; read only for reporting), in [0, 1]
    test_loss: float | None = None  # mean test cross-entropy
    entropy: dict = field(default_factory=dict)  # ReLU layer name -> mean on/off binary entropy, bits in [0, 1]
    entropy_mean: float | None = None  # mean of `entropy` over layers (0.0 when entropy is off; None: diverged)
    epochs: int | None = None  # epochs trained in this rung (for a diverged rung: the epoch it diverged in)
    learning_distance: float | None = None  # ℓ2 norm of (final − start) prunable weights of the rung (docs/lab.md)
    seconds: float | None = None  # wall time of the rung: its epochs plus the measuring pass (trained rungs)
    regime: str | None = None  # memorising | critical | recovered | collapsing (stops/regime.py; trained rungs)
    diverged: bool = False  # True: the loss became NaN/Inf and the metrics are None
    diverged_epoch: int | None = None  # the 1-based epoch in which it diverged (diverged rungs only)
    layer_sparsity: dict | None = None  # prunable weight's state-dict name -> fraction pruned (record/layers.py)
    peak_rss_mb: float | None = None  # MiB: the process's peak resident set size up to this rung's end
    #                                   (ru_maxrss: a high-water mark since the process started; record/memory.py)
    gpu_peak_mb: float | None = None  # MiB: this rung's peak of torch.cuda allocations (CUDA runs only)
    # Compute (core/macs.py): multiply-accumulates of the prunable Conv2d/Linear weights, per sample forward
    # (dense: every weight kept); train_macs: what the rung's training computed (3 × macs × samples seen, plus a
    # student's teacher forwards as run); cumulative_train_macs: the phase's rungs so far. None: a run from
    # before these fields (or an earlier rung's is unknown, for the cumulative count).
    dense_macs: int | None = None
    macs: int | None = None
    train_macs: int | None = None
    cumulative_train_macs: int | None = None
    # Student rungs only (record/overlap.py): IoU of the kept set with the teacher's at the same rung, overall and
    # per prunable weight name; None when the teacher has no such rung.
    teacher_overlap: float | None = None
    layer_teacher_overlap: dict | None = None
    # The JSON keys, in order, of a record read from disk (None: built here, the canonical keys), and the
    # values of keys this version does not know: a record read back is written out unchanged.
    json_keys: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    REQUIRED = ("rung",)

    def canonical_keys(self) -> tuple[str, ...]:
        if self.diverged:
            return DIVERGED_KEYS + self.compute_keys()
        cuda = ("gpu_peak_mb",) if self.gpu_peak_mb is not None else ()
        regime = ("regime",) if self.regime is not None else ()
        return MEASURED_KEYS + cuda + regime + self.compute_keys()

    def compute_keys(self) -> tuple[str, ...]:
        """The additive keys (issue 23), after the older ones: MACs when counted, the overlap on student rungs."""
        macs = MACS_KEYS if self.dense_macs is not None else ()
        overlap = OVERLAP_KEYS if self.layer_teacher_overlap is not None else ()
        return macs + overlap

    def speedup(self) -> float | None:
        """Theoretical speed-up of this rung's forward pass: dense_macs / macs (ShrinkBench)."""
        return self.dense_macs / self.macs if self.dense_macs and self.macs else None

    def compression(self) -> float | None:
        """Compression ratio of the prunable weights: all / kept (ShrinkBench)."""
        if self.sparsity is None or self.sparsity >= 1.0:
            return None
        return 1.0 / (1.0 - self.sparsity)

    @classmethod
    def _placeholder(cls, name: str):
        return 0  # a hand-made record without a rung number (events.jsonl's are checked: record/events.py)

    __hash__ = None  # type: ignore[assignment]  # holds dicts


MEASURED_KEYS = ("rung", "sparsity", "remaining_weights", *METRICS, "entropy", "entropy_mean", "epochs",
                 "learning_distance", "seconds", "layer_sparsity", "peak_rss_mb")
MACS_KEYS = ("dense_macs", "macs", "train_macs", "cumulative_train_macs")
OVERLAP_KEYS = ("teacher_overlap", "layer_teacher_overlap")
DIVERGED_KEYS = ("rung", "sparsity", "remaining_weights", "diverged", "diverged_epoch", "epochs", "entropy",
                 "entropy_mean", "learning_distance", *METRICS, "layer_sparsity")


def measured_record(rung: int, kept: int, total: int, train: dict, val: dict, test: dict, entropy: dict,
                    entropy_mean: float | None, epochs: int, learning_distance: float | None, *, seconds: float,
                    layer_sparsity: dict, peak_rss_mb: float | None, gpu_peak_mb: float | None,
                    regime: str, compute: dict | None = None) -> RungRecord:
    """The record of a trained rung from its measuring pass (`train`/`val`/`test`: acc, acc_clean, loss), its
    learning distance (None when the rung's start weights are unknown), time, memory and regime; `compute`:
    the MACs and overlap fields (`compute_fields`)."""
    return RungRecord(
        rung=rung, sparsity=1.0 - kept / total, remaining_weights=kept,
        train_acc=train["acc"], train_acc_clean=train["acc_clean"], train_loss=train["loss"],
        val_acc=val["acc"], val_acc_clean=val["acc_clean"], val_loss=val["loss"],
        test_acc=test["acc"], test_loss=test["loss"],
        entropy=entropy, entropy_mean=entropy_mean, epochs=epochs, learning_distance=learning_distance,
        seconds=seconds, layer_sparsity=layer_sparsity, peak_rss_mb=peak_rss_mb, gpu_peak_mb=gpu_peak_mb,
        regime=regime, **(compute or {}))


def compute_fields(dense_macs: int, macs: int, train_macs: int, earlier: list[RungRecord],
                   overlap: tuple[float | None, dict] | None = None) -> dict:
    """The compute fields of a rung record: cumulative_train_macs adds the `earlier` rungs' of the phase (None
    when one of them has none: a run resumed from before these fields); `overlap` (student rungs): the
    teacher_overlap and its per-layer dict (record/overlap.py `iou`)."""
    before = [r.train_macs for r in earlier]
    out = {"dense_macs": int(dense_macs), "macs": int(macs), "train_macs": int(train_macs),
           "cumulative_train_macs": None if None in before else int(sum(before)) + int(train_macs)}
    if overlap is not None:
        out.update(teacher_overlap=overlap[0], layer_teacher_overlap=overlap[1])
    return out


def diverged_record(rung: int, kept: int, total: int, epoch: int, layer_sparsity: dict,
                    compute: dict | None = None) -> RungRecord:
    """The record of a rung whose loss became NaN/Inf in `epoch`: no metrics (its MACs when `compute`)."""
    return RungRecord(rung=rung, sparsity=1.0 - kept / total, remaining_weights=kept, diverged=True,
                      diverged_epoch=epoch, epochs=epoch, entropy={}, entropy_mean=None, learning_distance=None,
                      layer_sparsity=layer_sparsity, **(compute or {}))


def trained(records: list[RungRecord]) -> list[RungRecord]:
    """The records of rungs that trained to the end (diverged ones left out)."""
    return [r for r in records if not r.diverged]
