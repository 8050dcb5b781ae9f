"""The one event schema. Everything downstream of the engine (TUI, headless printer,
events.jsonl, summary.json) is fed by these objects and nothing else.

Each event is a small frozen dataclass; `to_dict()` gives its JSON line (with `type` and `time`),
`from_dict()` reads one back, so a run followed from `events.jsonl` looks exactly like a live one.
"""
from __future__ import annotations

import copy
import dataclasses
import time as _time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Literal

from dsd_tui.record.rung import RungRecord
from dsd_tui.record.verdict import Verdict

# A run's status (summary.json "status"): running until one of the four ends. "stopped" is a
# completed run in which an active stop criterion (stop.action = "stop") ended a phase early.
RunStatus = Literal["running", "completed", "stopped", "failed", "interrupted"]
FINISHED: tuple[RunStatus, ...] = ("completed", "stopped")  # ran to its end: nothing to resume, counted in studies

REGISTRY: dict[str, type["Event"]] = {}


def _now() -> float:
    return _time.time()


@dataclass(frozen=True)
class Event:
    type: ClassVar[str] = "event"
    time: float = field(default_factory=_now, kw_only=True)

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        REGISTRY[cls.type] = cls

    def to_dict(self) -> dict:
        """The event's JSON object: `type`, `time`, then its fields (typed records as their `to_json()`)."""
        out: dict = {"type": self.type}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_json() if hasattr(value, "to_json") else copy.deepcopy(value)
        return out


class BadEvent(ValueError):
    """A JSON object that names a known event type but lacks one of its fields or has one of the wrong type
    (an edited or foreign events.jsonl); readers turn it into one line naming the file."""


# The JSON types a field's annotation allows (annotations are strings: `from __future__ import annotations`);
# a float may be null (NaN/Inf are written as null, see to_jsonable).
_JSON_TYPES = {"str": (str,), "int": (int,), "float": (int, float, type(None)), "bool": (bool,), "dict": (dict,),
               "list": (list,), "RungRecord": (dict,), "RunStatus": (str,),
               "Verdict": (dict,)}


def _check_field(cls: type, f: dataclasses.Field, value: Any) -> None:
    allowed: tuple = ()
    for part in str(f.type).split("|"):
        part = part.strip()
        allowed += (type(None),) if part == "None" else _JSON_TYPES.get(part, (object,))
    bad = not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)
    if bad:
        raise BadEvent(f"a {cls.type} event whose {f.name} is {type(value).__name__}")
    if f.type == "RungRecord" and not (isinstance(value.get("rung"), int) and not isinstance(value["rung"], bool)):
        raise BadEvent(f"a {cls.type} event whose record has no rung number")


def from_dict(data: dict) -> Event:
    """The event of one JSON line; BadEvent when a known type lacks a field or has one of the wrong type."""
    cls = REGISTRY.get(data.get("type"))
    if cls is None:
        t = data.get("time", 0.0)
        return UnknownEvent(raw=dict(data), time=float(t) if isinstance(t, (int, float)) else 0.0)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            _check_field(cls, f, data[f.name])
            kwargs[f.name] = data[f.name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise BadEvent(f"a {cls.type} event without its {f.name}")
    return cls(**kwargs)


@dataclass(frozen=True)
class RunStarted(Event):
    type: ClassVar[str] = "run_started"
    name: str
    run_dir: str
    profile: dict
    environment: dict
    phases: list  # planned phase names, in order
    rungs: int  # pruning rungs per phase after the dense rung
    resumed: bool = False
    data: dict | None = None  # the data facts (core/data_facts.py): the summary's `data` block


@dataclass(frozen=True)
class PhaseStarted(Event):
    type: ClassVar[str] = "phase_started"
    phase: str
    arch: str
    rungs: int
    prunable_weights: int
    teacher: dict | None = None  # student phase: where its teacher came from
    layer_weights: dict | None = None  # prunable weight's state-dict name -> its number of weights


@dataclass(frozen=True)
class RungStarted(Event):
    type: ClassVar[str] = "rung_started"
    phase: str
    rung: int
    sparsity: float
    epochs: int


@dataclass(frozen=True)
class EpochFinished(Event):
    type: ClassVar[str] = "epoch_finished"
    phase: str
    rung: int
    epoch: int  # 1-based, within the rung
    epochs: int
    train_loss: float  # mean training loss over the epoch (KD loss in the student phase)
    train_acc: float  # running accuracy on the (noisy) training labels, augmented batches
    lr: float
    seconds: float  # wall time of this epoch


@dataclass(frozen=True)
class RungFinished(Event):
    type: ClassVar[str] = "rung_finished"
    phase: str
    rung: int
    record: RungRecord  # the summary's rung record (record/rung.py)

    def __post_init__(self):
        if not isinstance(self.record, RungRecord):  # its JSON object (events.jsonl, or a hand-made event)
            object.__setattr__(self, "record", RungRecord.from_json(self.record))


@dataclass(frozen=True)
class StopFired(Event):
    type: ClassVar[str] = "stop_fired"
    phase: str
    rung: int
    criterion: str
    reason: str
    selected_rung: int
    active: bool  # the phase's active criterion (alerts); others are recorded in shadow mode
    action: str  # alert | stop | shadow
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LayerCollapse(Event):
    """A prunable layer's kept weights fell to zero (level "collapsed") or under 1% of the layer or
    10 weights ("warning") at this rung; announced once per level, when the layer reaches it."""

    type: ClassVar[str] = "layer_collapse"
    phase: str
    rung: int
    layer: str  # the weight's state-dict name
    level: str  # collapsed | warning (record/layers.py)
    kept: int  # weights kept in the layer
    weights: int  # weights in the layer


@dataclass(frozen=True)
class PhaseFinished(Event):
    type: ClassVar[str] = "phase_finished"
    phase: str
    best_rung: int
    rungs_trained: int
    stopped_early: bool
    verdict: Verdict | None = None  # None: no rung finished with a test accuracy (`{}` in the JSON)

    def __post_init__(self):
        if isinstance(self.verdict, dict):  # its JSON object (events.jsonl, or a hand-made event)
            object.__setattr__(self, "verdict", Verdict.from_json(self.verdict) if self.verdict else None)

    def to_dict(self) -> dict:
        out = super().to_dict()
        if out["verdict"] is None:
            out["verdict"] = {}
        return out


@dataclass(frozen=True)
class RunFinished(Event):
    type: ClassVar[str] = "run_finished"
    status: RunStatus  # completed | stopped (an active stop criterion ended a phase early)
    seconds: float


@dataclass(frozen=True)
class RunFailed(Event):
    type: ClassVar[str] = "run_failed"
    error: str


@dataclass(frozen=True)
class RunInterrupted(Event):
    type: ClassVar[str] = "run_interrupted"
    reason: str
    resumable: bool = True


@dataclass(frozen=True)
class Warning(Event):  # noqa: A001 - the event's name in the schema
    type: ClassVar[str] = "warning"
    message: str


@dataclass(frozen=True)
class Log(Event):
    type: ClassVar[str] = "log"
    message: str


@dataclass(frozen=True)
class UnknownEvent(Event):
    """An event type this version does not know (a newer writer); kept, not dropped."""

    type: ClassVar[str] = "unknown"
    raw: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.raw)


Sink = Callable[[Event], None]


class Fanout:
    """Hands each event to every sink in order (run directory first, then the views)."""

    def __init__(self, *sinks: Sink):
        self.sinks = [s for s in sinks if s is not None]

    def __call__(self, event: Event) -> None:
        for sink in self.sinks:
            sink(event)


def to_jsonable(value: Any) -> Any:
    """Floats NaN/Inf are not JSON: they become None (the record's `diverged` flag says why)."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if hasattr(value, "to_json"):  # a typed record (record/rung.py)
        return to_jsonable(value.to_json())
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value
