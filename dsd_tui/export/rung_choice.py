"""Which rung an export or `load_model` means: a phase and `N`, `best` or `kept`, read off the run's summary.

`best` is the phase's selected rung (best validation accuracy, ties to the sparser rung: summary.json's
`best_rung`); `kept` is the rung the phase's active stop criterion kept (its stop entry's
`selected_rung`). The default phase is the student where the run has one. Each way the choice can fail
is one line saying what the run has instead.
"""
from __future__ import annotations

from dataclasses import dataclass

from dsd_tui.errors import UsageError
from dsd_tui.record.rung import RungRecord
from dsd_tui.record.summary import SummaryBuilder

PHASES = ("teacher", "student")


@dataclass(frozen=True)
class RungChoice:
    phase: str
    rung: int
    record: RungRecord
    how: str  # "best" | "kept" | "rung N": said in messages and file names

    def label(self) -> str:
        """"student rung 7 (best)", "teacher rung 3": for messages."""
        named = f" ({self.how})" if self.how in ("best", "kept") else ""
        return f"{self.phase} rung {self.rung}{named}"


def choose_rung(summary: SummaryBuilder, phase: str | None = None, rung: str | int | None = None) -> RungChoice:
    """The (phase, rung) meant by `phase` (None: the student where there is one) and `rung` (None or "best",
    "kept", or a rung number)."""
    phase = phase or ("student" if summary.records("student") else "teacher")
    if phase not in PHASES:
        raise UsageError(f"--phase {phase}: not a phase; use teacher or student")
    records = summary.records(phase)
    if not records:
        raise UsageError(f"the run has no finished {phase} rung yet; "
                         f"{'use --phase teacher' if phase == 'student' else 'wait for its first rung'}")
    spec = "best" if rung is None else str(rung).strip()
    number, how = _rung_number(summary, phase, spec), spec if spec in ("best", "kept") else f"rung {spec}"
    record = next((r for r in records if r.rung == number), None)
    if record is None:
        have = ", ".join(str(r.rung) for r in records)
        raise UsageError(f"--rung {spec}: the {phase} phase has no finished rung {number} (it has {have})")
    if record.diverged:
        raise UsageError(f"--rung {spec}: {phase} rung {number} diverged (its loss became NaN/Inf); choose "
                         f"another rung")
    return RungChoice(phase, number, record, how)


def _rung_number(summary: SummaryBuilder, phase: str, spec: str) -> int:
    if spec == "best":
        best = summary.phases[phase].best_rung
        if best is None:
            raise UsageError(f"--rung best: the {phase} phase has no rung with a validation accuracy; give a "
                             f"rung number with --rung N")
        return best
    if spec == "kept":
        return _kept_rung(summary, phase)
    try:
        number = int(spec)
    except ValueError:
        raise UsageError(f"--rung {spec}: not a rung; use a rung number, best or kept") from None
    if number < 0:
        raise UsageError(f"--rung {spec}: rungs are numbered from 0 (the dense rung)")
    return number


def _kept_rung(summary: SummaryBuilder, phase: str) -> int:
    """The rung the phase's active stop criterion kept (the last firing of it wins)."""
    active = [s for s in summary.stops if s.phase == phase and s.active and s.selected_rung is not None]
    if not active:
        raise UsageError(f"--rung kept: the {phase} phase's active stop criterion has not fired, so it kept no "
                         f"rung; use --rung best or a rung number")
    return int(active[-1].selected_rung)
