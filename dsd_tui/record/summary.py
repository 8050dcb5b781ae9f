"""The run summary as a fold over events.

`SummaryBuilder.consume(event)` is the only place a summary is assembled: the run directory writes
its `summary()` to summary.json, the TUI keeps one to render from, `watch` and `export` rebuild one
from events.jsonl. Rung records are keyed by (phase, rung), so an event replayed after a resume
replaces its twin instead of duplicating it.
"""
from __future__ import annotations

from dsd_tui.record import events as ev
from dsd_tui.record.rung import RungRecord

SCHEMA = "dsd_tui.summary/1"


def best_rung(records: list[RungRecord]) -> int | None:
    """The rung with the best validation accuracy; ties go to the sparser rung."""
    valid = [r for r in records if r.get("val_acc") is not None and not r.get("diverged")]
    if not valid:
        return None
    return max(valid, key=lambda r: (r["val_acc"], r["rung"]))["rung"]


def best_test_rung(records: list[dict]) -> int | None:
    """The rung with the best test accuracy, ties to the sparser rung (`distill.teacher = "best-test"`, the
    authors' protocol: it uses the test set for selection)."""
    valid = [r for r in records if r.get("test_acc") is not None and not r.get("diverged")]
    if not valid:
        return None
    return max(valid, key=lambda r: (r["test_acc"], r["rung"]))["rung"]


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
        self.seconds = 0.0
        self.phases: dict[str, dict] = {}
        self.stops: list[dict] = []
        self.layer_collapse: list[dict] = []  # layer_collapse events, one per (phase, layer, level)
        self.error: str | None = None
        self.interrupted_reason: str | None = None
        self.current: dict = {}  # where the ladder is: phase, rung, epoch, epochs

    # ------------------------------------------------------------ folding
    def consume(self, e: ev.Event) -> None:
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

    def _phase(self, name: str) -> dict:
        if name not in self.phases:
            self.phases[name] = {"name": name, "arch": "", "best_rung": None, "rungs": [],
                                 "rungs_trained": 0, "stopped_early": False, "finished": False}
        return self.phases[name]

    def _on_phase_started(self, e: ev.PhaseStarted) -> None:
        p = self._phase(e.phase)
        p["arch"] = e.arch
        p["prunable_weights"] = e.prunable_weights
        if e.layer_weights is not None:
            p["layer_weights"] = e.layer_weights
        if e.teacher is not None:
            p["teacher"] = e.teacher
        self.current = {"phase": e.phase, "rung": 0, "epoch": 0, "epochs": 0}

    def _on_rung_started(self, e: ev.RungStarted) -> None:
        self.current = {"phase": e.phase, "rung": e.rung, "epoch": 0, "epochs": e.epochs, "sparsity": e.sparsity}

    def _on_epoch_finished(self, e: ev.EpochFinished) -> None:
        self.current = {**self.current, "phase": e.phase, "rung": e.rung, "epoch": e.epoch, "epochs": e.epochs,
                        "train_loss": e.train_loss, "train_acc": e.train_acc, "lr": e.lr}

    def _on_rung_finished(self, e: ev.RungFinished) -> None:
        p = self._phase(e.phase)
        rungs = [r for r in p["rungs"] if r.rung != e.rung]
        rungs.append(e.record)
        rungs.sort(key=lambda r: r.rung)
        p["rungs"] = rungs
        p["rungs_trained"] = len(rungs)
        p["best_rung"] = best_rung(rungs)

    def _on_stop_fired(self, e: ev.StopFired) -> None:
        entry = {"phase": e.phase, "rung": e.rung, "criterion": e.criterion, "reason": e.reason,
                 "selected_rung": e.selected_rung, "active": e.active, "action": e.action, **e.details}
        self.stops = [s for s in self.stops if (s["phase"], s["criterion"]) != (e.phase, e.criterion)]
        self.stops.append(entry)

    def _on_layer_collapse(self, e: ev.LayerCollapse) -> None:
        entry = {"phase": e.phase, "rung": e.rung, "layer": e.layer, "level": e.level, "kept": e.kept,
                 "weights": e.weights}
        self.layer_collapse = [c for c in self.layer_collapse
                               if (c["phase"], c["layer"], c["level"]) != (e.phase, e.layer, e.level)]
        self.layer_collapse.append(entry)

    def _on_phase_finished(self, e: ev.PhaseFinished) -> None:
        p = self._phase(e.phase)
        p.update(best_rung=e.best_rung, rungs_trained=e.rungs_trained, stopped_early=e.stopped_early,
                 finished=True)
        if e.verdict:
            p["verdict"] = e.verdict

    def _on_run_finished(self, e: ev.RunFinished) -> None:
        self.status = e.status
        self.finished = e.time
        self.seconds = e.seconds

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
        return list(self.phases.get(phase, {}).get("rungs", []))

    def stopped_early(self, phase: str) -> bool:
        """Did an active criterion with action "stop" end this phase (as far as the events say)?"""
        return bool(self.phases.get(phase, {}).get("stopped_early"))

    def summary(self) -> dict:
        phases = []
        for name in self.planned_phases or list(self.phases):
            if name in self.phases:
                p = dict(self.phases[name])
                p.pop("finished", None)
                phases.append(p)
        out = {
            "schema": SCHEMA,
            "status": self.status,
            "name": self.name,
            "run_dir": self.run_dir,
            "started": self.started,
            "finished": self.finished,
            "seconds": self.seconds,
            "profile": self.profile,
            "environment": self.environment,
            **({"data": self.data} if self.data is not None else {}),
            "phases": phases,
            "stops": self.stops,
            "layer_collapse": self.layer_collapse,
        }
        if self.error:
            out["error"] = self.error
        if self.interrupted_reason:
            out["interrupted"] = self.interrupted_reason
        return ev.to_jsonable(out)
