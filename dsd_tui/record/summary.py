"""The run summary as a fold over events.

`SummaryBuilder.consume(event)` is the only place a summary is assembled: the run directory writes
its `summary()` to summary.json, the TUI keeps one to render from, `watch` and `export` rebuild one
from events.jsonl. Rung records are keyed by (phase, rung), so an event replayed after a resume
replaces its twin instead of duplicating it.

What it holds is typed: a `PhaseSummary` per phase (its `RungRecord`s and `Verdict`), a `StopEntry` per
(phase, criterion) that fired, and the `Position` of the ladder. Each is a frozen record, replaced (not
edited) when an event changes it; `summary()` is the JSON edge (summary.json's keys and order).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from dsd_tui.record import events as ev
from dsd_tui.record.json_record import JsonRecord
from dsd_tui.record.rung import RungRecord
from dsd_tui.record.verdict import Verdict

SCHEMA = "dsd_tui.summary/1"


def best_rung(records: list[RungRecord]) -> int | None:
    """The rung with the best validation accuracy; ties go to the sparser rung."""
    valid = [r for r in records if r.val_acc is not None and not r.diverged]
    if not valid:
        return None
    return max(valid, key=lambda r: (r.val_acc, r.rung)).rung


def best_test_rung(records: list[RungRecord]) -> int | None:
    """The rung with the best test accuracy, ties to the sparser rung (`distill.teacher = "best-test"`, the
    authors' protocol: it uses the test set for selection)."""
    valid = [r for r in records if r.test_acc is not None and not r.diverged]
    if not valid:
        return None
    return max(valid, key=lambda r: (r.test_acc, r.rung)).rung


@dataclass(frozen=True)
class PhaseSummary(JsonRecord):
    """One phase of the run (summary.json `phases[]`)."""

    name: str
    arch: str = ""
    best_rung: int | None = None  # the best validation rung so far
    rungs: tuple[RungRecord, ...] = ()  # in rung order
    rungs_trained: int = 0
    stopped_early: bool = False  # an active criterion with action "stop" ended it
    prunable_weights: int | None = None
    layer_weights: dict | None = None  # prunable weight's state-dict name -> its number of weights
    teacher: dict | None = None  # student phase: where its teacher came from (Ladder.load_teacher)
    verdict: Verdict | None = None  # once the phase finished with a tested rung
    finished: bool = False  # the phase_finished event came (not in the JSON)
    json_keys: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    ALWAYS = ("name", "arch", "best_rung", "rungs", "rungs_trained", "stopped_early")
    REQUIRED = ("name",)
    __hash__ = None  # type: ignore[assignment]

    def canonical_keys(self) -> tuple[str, ...]:
        optional = ("prunable_weights", "layer_weights", "teacher", "verdict")
        return self.ALWAYS + tuple(k for k in optional if getattr(self, k) is not None)

    def keys_in_json(self) -> tuple[str, ...]:
        return tuple(k for k in super().keys_in_json() if k != "finished")

    @classmethod
    def _field_from_json(cls, name: str, value):
        if name == "rungs":
            return tuple(RungRecord.from_json(r) for r in value)
        if name == "verdict":
            return Verdict.from_json(value) if value else None
        return value

    @classmethod
    def _placeholder(cls, name: str):
        return ""


STOP_FIELDS = ("phase", "rung", "criterion", "reason", "selected_rung", "active", "action")


@dataclass(frozen=True)
class StopEntry(JsonRecord):
    """A stop criterion that fired (summary.json `stops[]`): the last firing per (phase, criterion), with what
    keeping its selected rung would have cost and given (`details`: stops/outcome.py `firing_details`)."""

    phase: str
    rung: int
    criterion: str
    reason: str = ""
    selected_rung: int | None = None
    active: bool = False  # the phase's active criterion (alerts); others are recorded in shadow mode
    action: str = "shadow"  # alert | stop | shadow
    details: dict = field(default_factory=dict)  # flattened into the JSON object after the fields above
    json_keys: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    __hash__ = None  # type: ignore[assignment]

    def canonical_keys(self) -> tuple[str, ...]:
        return STOP_FIELDS + tuple(self.details)

    def _value(self, key: str):
        return getattr(self, key) if key in STOP_FIELDS else self.details[key]

    @classmethod
    def from_json(cls, data) -> StopEntry:
        fixed = {k: data[k] for k in STOP_FIELDS if k in data}
        fixed.setdefault("phase", "")
        fixed.setdefault("rung", 0)
        fixed.setdefault("criterion", "")
        return cls(**fixed, details={k: v for k, v in data.items() if k not in STOP_FIELDS}, json_keys=tuple(data))


@dataclass(frozen=True)
class Position:
    """Where the ladder is (not in summary.json): its phase, rung and epoch, and the last epoch's numbers."""

    phase: str | None = None
    rung: int = 0
    epoch: int = 0  # epochs finished in the rung
    epochs: int = 0  # epochs the rung trains
    sparsity: float | None = None  # the rung's sparsity, once it started
    train_loss: float | None = None  # the last finished epoch's mean training loss
    train_acc: float | None = None
    lr: float | None = None


class SummaryBuilder:
    def __init__(self):
        self.status: ev.RunStatus = "running"
        self.name = ""
        self.run_dir = ""
        self.profile: dict = {}
        self.environment: dict = {}
        self.data: dict | None = None
        self.planned_phases: list[str] = []
        self.planned_rungs = 0
        self.started: float | None = None
        self.finished: float | None = None
        self.seconds = 0.0  # training wall time over every process that ran the run (summary.json "seconds")
        self.seconds_this_process: float | None = None  # the last process's share, once the run finished
        self.prior_seconds = 0.0  # wall time of the processes before the current one (first event to last)
        self.process_started: float | None = None  # the current process's run_started time
        self.last_time: float | None = None  # the newest event's time
        self.phases: dict[str, PhaseSummary] = {}
        self.stops: list[StopEntry] = []
        self.layer_collapse: list[dict] = []  # layer_collapse events, one per (phase, layer, level)
        self.error: str | None = None
        self.interrupted_reason: str | None = None
        self.current = Position()  # where the ladder is

    # ------------------------------------------------------------ folding
    def consume(self, e: ev.Event) -> None:
        if e.type == "run_started" and self.process_started is not None and self.last_time is not None:
            # a resume: the previous process ran from its run_started to its last event (its interruption)
            self.prior_seconds += max(0.0, self.last_time - self.process_started)
        if e.type == "run_started":
            self.process_started = e.time
        self.last_time = e.time
        handler = getattr(self, f"_on_{e.type}", None)
        if handler is not None:
            handler(e)

    def _on_run_started(self, e: ev.RunStarted) -> None:
        self.name, self.run_dir, self.profile, self.environment = e.name, e.run_dir, e.profile, e.environment
        self.planned_phases, self.planned_rungs = list(e.phases), e.rungs
        if e.data is not None:
            self.data = e.data
        if self.started is None:
            self.started = e.time
        self.status = "running"
        self.error = None
        self.interrupted_reason = None

    def _phase(self, name: str) -> PhaseSummary:
        return self.phases.get(name) or PhaseSummary(name)

    def _update_phase(self, name: str, **changes) -> None:
        self.phases[name] = dataclasses.replace(self._phase(name), **changes)

    def _on_phase_started(self, e: ev.PhaseStarted) -> None:
        p = self._phase(e.phase)
        self._update_phase(e.phase, arch=e.arch, prunable_weights=e.prunable_weights,
                           layer_weights=e.layer_weights if e.layer_weights is not None else p.layer_weights,
                           teacher=e.teacher if e.teacher is not None else p.teacher)
        self.current = Position(e.phase)

    def _on_rung_started(self, e: ev.RungStarted) -> None:
        self.current = Position(e.phase, e.rung, 0, e.epochs, sparsity=e.sparsity)

    def _on_epoch_finished(self, e: ev.EpochFinished) -> None:
        self.current = dataclasses.replace(self.current, phase=e.phase, rung=e.rung, epoch=e.epoch, epochs=e.epochs,
                                           train_loss=e.train_loss, train_acc=e.train_acc, lr=e.lr)

    def _on_rung_finished(self, e: ev.RungFinished) -> None:
        rungs = sorted([*(r for r in self._phase(e.phase).rungs if r.rung != e.rung), e.record],
                       key=lambda r: r.rung)
        self._update_phase(e.phase, rungs=tuple(rungs), rungs_trained=len(rungs), best_rung=best_rung(rungs))

    def _on_stop_fired(self, e: ev.StopFired) -> None:
        entry = StopEntry(e.phase, e.rung, e.criterion, e.reason, e.selected_rung, e.active, e.action,
                          dict(e.details))
        self.stops = [s for s in self.stops if (s.phase, s.criterion) != (e.phase, e.criterion)]
        self.stops.append(entry)

    def _on_layer_collapse(self, e: ev.LayerCollapse) -> None:
        entry = {"phase": e.phase, "rung": e.rung, "layer": e.layer, "level": e.level, "kept": e.kept,
                 "weights": e.weights}
        self.layer_collapse = [c for c in self.layer_collapse
                               if (c["phase"], c["layer"], c["level"]) != (e.phase, e.layer, e.level)]
        self.layer_collapse.append(entry)

    def _on_phase_finished(self, e: ev.PhaseFinished) -> None:
        p = self._phase(e.phase)
        self._update_phase(e.phase, best_rung=e.best_rung, rungs_trained=e.rungs_trained,
                           stopped_early=e.stopped_early, finished=True,
                           verdict=e.verdict if e.verdict is not None else p.verdict)

    def _on_run_finished(self, e: ev.RunFinished) -> None:
        self.status = e.status
        self.finished = e.time
        self.seconds_this_process = e.seconds
        self.seconds = self.prior_seconds + e.seconds

    def elapsed(self, now: float) -> float:
        """Training wall time so far over every process (seconds): the earlier processes' spans plus the
        current one's, up to `now` while it runs, up to its end once it ended. What the header shows, and
        what summary.json's `seconds` says once the run finished."""
        if self.status in ev.FINISHED:
            return self.seconds
        if self.process_started is None:
            return 0.0
        end = self.finished if self.status != "running" and self.finished else now
        return self.prior_seconds + max(0.0, end - self.process_started)

    def _on_run_failed(self, e: ev.RunFailed) -> None:
        self.status = "failed"
        self.error = e.error
        self.finished = e.time

    def _on_run_interrupted(self, e: ev.RunInterrupted) -> None:
        self.status = "interrupted"
        self.interrupted_reason = e.reason
        self.finished = e.time

    # ------------------------------------------------------------ reading
    def records(self, phase: str) -> list[RungRecord]:
        p = self.phases.get(phase)
        return list(p.rungs) if p is not None else []

    def stopped_early(self, phase: str) -> bool:
        """Did an active criterion with action "stop" end this phase (as far as the events say)?"""
        p = self.phases.get(phase)
        return p is not None and p.stopped_early

    def summary(self) -> dict:
        """The summary.json object (the JSON edge of the typed records)."""
        phases = [self.phases[name].to_json() for name in self.planned_phases or list(self.phases)
                  if name in self.phases]
        out = {
            "schema": SCHEMA,
            "status": self.status,
            "name": self.name,
            "run_dir": self.run_dir,
            "started": self.started,
            "finished": self.finished,
            "seconds": self.seconds,
            **({"seconds_this_process": self.seconds_this_process} if self.seconds_this_process is not None else {}),
            "profile": self.profile,
            "environment": self.environment,
            **({"data": self.data} if self.data is not None else {}),
            "phases": phases,
            "stops": [s.to_json() for s in self.stops],
            "layer_collapse": self.layer_collapse,
        }
        if self.error:
            out["error"] = self.error
        if self.interrupted_reason:
            out["interrupted"] = self.interrupted_reason
        return ev.to_jsonable(out)
