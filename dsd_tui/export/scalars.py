"""A run's events as metric points: (tag, step, value, wall time), the same for every exporter.

Per phase and rung (step = the rung): every numeric field of the rung record (train/val/test
accuracy and loss, sparsity, remaining weights, mean entropy, seconds, ...) as `<phase>/<field>`, and
each entry of a dict field as `<phase>/<field>/<name>` (`teacher/entropy/fc1`,
`teacher/layer_sparsity/...`). Per epoch (step = the epoch's index within the phase, counting the
dense rung's epochs first): `<phase>/epoch/train_loss`, `train_acc`, `lr`. Wall times are the
events' own, so the same events.jsonl always gives the same points; after a resume the later copy of
a repeated (tag, step) wins, as in the summary.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

from dsd_tui.record import events as ev
from dsd_tui.record.rung import RungRecord


@dataclass(frozen=True)
class Point:
    tag: str
    step: int
    value: float
    time: float


def epoch_step(profile: dict, rung: int, epoch: int) -> int:
    """The epoch's 1-based index within its phase: the dense rung's epochs, then `train.epochs` per rung."""
    train = profile.get("train", {})
    if rung == 0:
        return epoch
    return int(train.get("dense_epochs", 0)) + (rung - 1) * int(train.get("epochs", 0)) + epoch


def _number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def rung_points(phase: str, record: RungRecord, time: float) -> list[Point]:
    """Every number of the record (its JSON keys: a newer or older record's too), at step = its rung."""
    rung = int(record.rung)
    out = []
    for key, value in record.to_json().items():
        if key == "rung":
            continue
        if isinstance(value, dict):
            out += [Point(f"{phase}/{key}/{name}", rung, float(v), time) for name, v in value.items() if _number(v)]
        elif _number(value):
            out.append(Point(f"{phase}/{key}", rung, float(value), time))
    return out


def points(e: ev.Event, profile: dict) -> list[Point]:
    """The points one event adds (none for most event types)."""
    if e.type == "rung_finished":
        return rung_points(e.phase, e.record, e.time)
    if e.type == "epoch_finished":
        step = epoch_step(profile, e.rung, e.epoch)
        return [Point(f"{e.phase}/epoch/{k}", step, float(v), e.time)
                for k, v in (("train_loss", e.train_loss), ("train_acc", e.train_acc), ("lr", e.lr)) if _number(v)]
    return []


def hparams(profile: dict) -> dict:
    """The resolved profile as flat `section.key` hyperparameters (lists as text, for the tools' tables)."""
    out = {}
    for section, table in profile.items():
        if not isinstance(table, dict):
            continue
        for key, value in table.items():
            out[f"{section}.{key}"] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out


class Fold:
    """All points of a run, keyed by (tag, step); a later event replaces an earlier one's point."""

    def __init__(self):
        self.profile: dict = {}
        self.name = ""
        self.points: dict[tuple[str, int], Point] = {}

    def consume(self, e: ev.Event) -> list[Point]:
        if e.type == "run_started":
            self.profile, self.name = e.profile, e.name
        new = points(e, self.profile)
        for p in new:
            self.points[(p.tag, p.step)] = p
        return new

    def sorted(self) -> list[Point]:
        """Every point, in a fixed order: by tag, then step."""
        return [self.points[k] for k in sorted(self.points)]
