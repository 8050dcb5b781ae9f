"""What a fired stop criterion is worth: the model it keeps and the compute it spends.

A pruning study wants the sparsest model that keeps its accuracy, so a criterion's outcome is a
pair (test accuracy, sparsity) of the rung it selects, plus its cost had it stopped the phase where
it fired, against the full ladder:
- rungs (trainings) trained: rungs 0..fired, versus rungs 0..R;
- epochs trained, versus dense_epochs + R·epochs;
- density-weighted epochs: each rung's epochs × its fraction of prunable weights kept, the cost on
  hardware that skips zeros (prunable weights only; biases and norms are not counted).
The untrained rungs of the full ladder are counted at their planned density (1 − rate)^k.
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

    @classmethod
    def from_profile(cls, prune, train) -> "Plan":
        return cls(prune.rungs, train.dense_epochs, train.epochs, prune.rate)

    def epochs_of(self, rung: int) -> int:
        return self.dense_epochs if rung == 0 else self.epochs

    def density_of(self, rung: int) -> float:
        return (1.0 - self.rate) ** rung

    def full_epochs(self) -> float:
        return float(sum(self.epochs_of(k) for k in range(self.rungs + 1)))

    def full_density_epochs(self) -> float:
        return sum(self.epochs_of(k) * self.density_of(k) for k in range(self.rungs + 1))


def firing_details(records: list[RungRecord], fired_rung: int, selected_rung: int, plan: Plan) -> dict:
    """The fields a stop_fired event carries (and summary.json's `stops` entry with it, `StopEntry.details`)."""
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
    }
