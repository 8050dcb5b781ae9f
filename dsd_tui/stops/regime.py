"""The regime a rung is in, labelled live from signals the run has without the test set.

A vanilla ladder on noisy labels passes through four regimes, and an accuracy drop means something
different in each: while the network still *memorises* the noisy labels, a drop is the first
descent and no reason to stop; in the *critical* stretch it is losing its hold on the noise (the
dip and the climb out of it); once *recovered* it follows the true labels and accuracy is back up;
when *collapsing*, pruning has taken more capacity than the task needs.

Signals (all from the rung records so far, so the label is the same live and after the fact):
- the noise fit φ = (train_acc − train_acc_clean) / ε, with ε the realised fraction of noisy
  training labels. φ = +1: every noisy label is fitted; φ = −1: every noisy sample is predicted
  as its true class instead. (Derivation: on the clean samples both accuracies agree, so their
  difference is ε·(P(noisy label) − P(true label)) over the noisy samples.)
- the mean layer entropy against its running maximum (it starts falling at the dip);
- the accuracy on the clean training labels against its best since memorisation ended
  (collapse: the network can no longer fit even the clean signal).

Rules, first match wins (thresholds measured on the quickstart, see docs/results.md):
    memorising  φ ≥ MEMORISE_PHI and mean entropy within ENTROPY_DROP of its running max
    critical    φ > RECOVERED_PHI (still fits part of the noise, or entropy started to fall)
    collapsing  train_acc_clean more than COLLAPSE_DROP below its best over the non-memorising rungs,
                and train_acc not more than NOISE_RETURN above its value there (a distilled student
                drifting towards the noisy labels loses clean accuracy without collapsing)
    recovered   otherwise
Without label noise (ε = 0) there is no noise to fit: only recovered / collapsing are used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


class _Rung(Protocol):
    """What the rules read of a rung: a RungRecord (record/rung.py), or the Signals of one being built."""

    train_acc: float | None
    train_acc_clean: float | None
    entropy_mean: float | None


@dataclass(frozen=True)
class Signals:
    """The signals of the rung being measured, labelled before its record is built (the record holds the label)."""

    train_acc: float | None
    train_acc_clean: float | None
    entropy_mean: float | None


REGIMES = ("memorising", "critical", "recovered", "collapsing")

MEMORISE_PHI = 0.75  # fits at least ~87% of the noisy labels (f = (1 + φ) / 2)
RECOVERED_PHI = 0.25  # fits at most ~62% of them: no longer memorising
ENTROPY_DROP = 0.02  # fraction below the running max that marks the start of the dip
COLLAPSE_DROP = 0.05  # accuracy on the clean training labels, fraction (5 points)
NOISE_RETURN = 0.02  # a clean-accuracy drop with the noisy-label accuracy up by more is noise fitting


def noise_fit(record: _Rung, noise_rate: float) -> float | None:
    """φ in [−1, 1], or None without label noise or without clean labels."""
    acc, clean = record.train_acc, record.train_acc_clean
    if not noise_rate or acc is None or clean is None:
        return None
    return max(-1.0, min(1.0, (acc - clean) / noise_rate))


def _entropy_fell(records: Sequence[_Rung]) -> bool:
    values = [r.entropy_mean for r in records if r.entropy_mean is not None]
    return bool(values) and values[-1] < (1.0 - ENTROPY_DROP) * max(values)


def _collapsing(records: Sequence[_Rung], noise_rate: float) -> bool:
    """The clean training accuracy fell COLLAPSE_DROP below its best over the non-memorising rungs,
    while the accuracy on the noisy labels did not rise (that would be noise fitting, not collapse)."""
    settled = [r for r in records if r.train_acc_clean is not None
               and (noise_fit(r, noise_rate) or 0.0) <= RECOVERED_PHI]
    if len(settled) < 2 or settled[-1] is not records[-1]:
        return False
    best, now = max(settled, key=lambda r: r.train_acc_clean), records[-1]
    return (now.train_acc_clean < best.train_acc_clean - COLLAPSE_DROP
            and now.train_acc <= best.train_acc + NOISE_RETURN)


def label(records: Sequence[_Rung], noise_rate: float) -> str:
    """The regime of the last record, given the ones before it (same phase, in rung order)."""
    phi = noise_fit(records[-1], noise_rate)
    if phi is not None and phi >= MEMORISE_PHI and not _entropy_fell(records):
        return "memorising"
    if phi is not None and phi > RECOVERED_PHI:
        return "critical"
    if _collapsing(records, noise_rate):
        return "collapsing"
    return "recovered"


def labels(records: Sequence[_Rung], noise_rate: float) -> list[str]:
    """The label every rung got live (each from the records up to it)."""
    return [label(records[:i + 1], noise_rate) for i in range(len(records))]
