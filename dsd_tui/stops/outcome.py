"""What a fired stop criterion is worth: the model it keeps and the compute it spends.

A pruning study wants the sparsest model that keeps its accuracy, so a criterion's outcome is a
pair (test accuracy, sparsity) of the rung it selects, plus its cost had it stopped the phase where
it fired, against the full ladder:
- rungs (trainings) trained: rungs 0..fired, versus rungs 0..R;
- epochs trained, versus dense_epochs + R·epochs;
- density-weighted epochs: each rung's epochs × its fraction of prunable weights kept, the cost on
  hardware that skips zeros (prunable weights only; biases and norms are not counted).
- training MACs (core/macs.py): the rungs' `train_macs` up to and including the fired rung
  (`train_macs_spent`), versus the whole phase's ladder as configured (`train_macs_full`).
The untrained rungs of the full ladder are counted at their planned density (1 − rate)^k; their
training MACs from the last trained rung's forward MACs scaled by (1 − rate) per rung after it (exact
for an MLP under a global cut, an estimate for convolutions, whose layers keep different fractions),
× 3 × the configured epochs × the training samples, plus a student's teacher forwards when they run
per batch (`Plan.teacher_macs` per sample; 0 when cached or in the teacher phase).
"""
from __future__ import annotations

from dataclasses import dataclass

from dsd_tui.record.rung import RungRecord


@dataclass(frozen=True)
class Plan:
    """The full ladder of one phase: rungs 0..rungs, dense_epochs then `epochs` per rung."""

    rungs: int
    dense_epochs: int
    epochs: int
    rate: float
    train_samples: int = 0  # samples in one training epoch (0: unknown, no MACs price)
    teacher_macs: int = 0  # a student's per-sample teacher forward MACs, run once per sample seen (0: cached/none)

    @classmethod
    def from_profile(cls, prune, train, train_samples: int = 0, teacher_macs: int = 0) -> "Plan":
        return cls(prune.rungs, train.dense_epochs, train.epochs, prune.rate, train_samples, teacher_macs)

    def epochs_of(self, rung: int) -> int:
        return self.dense_epochs if rung == 0 else self.epochs

    def density_of(self, rung: int) -> float:
        return (1.0 - self.rate) ** rung

    def full_epochs(self) -> float:
        return float(sum(self.epochs_of(k) for k in range(self.rungs + 1)))

    def full_density_epochs(self) -> float:
        return sum(self.epochs_of(k) * self.density_of(k) for k in range(self.rungs + 1))

    def full_train_macs(self, records: list[RungRecord]) -> int | None:
        """The phase's training MACs had it run every configured rung: the trained rungs' own, then the rest
        estimated from the last trained rung's forward MACs (None when a record has no MACs)."""
        if not records or not self.train_samples:
            return None
        last = records[-1]
        if last.cumulative_train_macs is None or last.macs is None:
            return None
        total = last.cumulative_train_macs  # every rung of the phase so far, a diverged one too
        for k in range(last.rung + 1, self.rungs + 1):
            forward = last.macs * (1.0 - self.rate) ** (k - last.rung)
            samples = self.epochs_of(k) * self.train_samples
            # 3: forward + backward (core/macs.py TRAIN_FACTOR); a per-batch teacher's forwards on top
            total += round(3 * forward * samples) + self.teacher_macs * samples
        return int(total)


def firing_details(records: list[RungRecord], fired_rung: int, selected_rung: int, plan: Plan) -> dict:
    """The fields a stop_fired event carries (and summary.json's `stops` entry with it, `StopEntry.details`).
    `train_macs_spent` is the fired rung's `cumulative_train_macs`: the phase's every rung up to it."""
    trained = [r for r in records if r.rung <= fired_rung]
    sel = next((r for r in records if r.rung == selected_rung), records[-1])
    epochs = [r.epochs if r.epochs is not None else plan.epochs_of(r.rung) for r in trained]
    return {
        "selected_test_acc": sel.test_acc,
        "selected_val_acc": sel.val_acc,
        "selected_sparsity": sel.sparsity,
        "rungs_trained": len(trained),
        "rungs_full": plan.rungs + 1,
        "epochs_trained": float(sum(epochs)),
        "epochs_full": plan.full_epochs(),
        "density_epochs_trained": sum(e * (1.0 - r.sparsity) for e, r in zip(epochs, trained)),
        "density_epochs_full": plan.full_density_epochs(),
        "train_macs_spent": trained[-1].cumulative_train_macs if trained else None,
        "train_macs_full": plan.full_train_macs(trained),
    }
