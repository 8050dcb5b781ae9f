"""Which rung checkpoints a run keeps on disk (`run.keep_checkpoints`).

"all" (the default) keeps every rung's checkpoint: about 45 MB each for ResNet-18, so a paper run
of two 35-rung ladders holds about 3 GB (docs/reliability.md, "Disk footprint"). "best-last" keeps,
per phase, the best validation rung and the last trained rung, plus the teacher's dense rung when
`distill.teacher = "dense"`; that is everything the run itself reads back: the student's teacher
(the teacher phase's best rung, or rung 0), the last good rung that `train.on_divergence =
"next-rung"` restores, and what a resumed student phase reloads as its teacher. Resume state lives
in state/latest.pt and does not depend on checkpoints.

`CheckpointRetention` is an event sink placed after the run directory: on every `rung_finished`
(emitted once the rung's checkpoint is on disk) it removes that phase's checkpoints that are no
longer kept. It reads the records the run directory has just folded, so a resumed run prunes from
the same facts; a removal that fails (or a crash between the write and the removal) only leaves an
extra file, removed at the next rung.
"""
from __future__ import annotations

import re

from dsd_tui.record import events as ev
from dsd_tui.record.rung import RungRecord
from dsd_tui.record.summary import best_rung

NAME = re.compile(r"(teacher|student)-rung(\d+)\.pt")  # fullmatch


def kept_rungs(phase: str, records: list[RungRecord], distill_teacher: str) -> set[int]:
    """The rungs of `phase` whose checkpoints best-last keeps, given the phase's records so far."""
    good = [r.rung for r in records if not r.diverged]
    keep = set(good[-1:])
    best = best_rung(records)
    if best is not None:
        keep.add(best)
    if phase == "teacher" and distill_teacher == "dense":
        keep.add(0)
    return keep


class CheckpointRetention:
    """Sink: after each finished rung, delete the phase's checkpoints that best-last does not keep."""

    def __init__(self, rundir, distill_teacher: str):
        self.rundir = rundir  # the open RunDir: its builder holds the records, folded before this sink runs
        self.distill_teacher = distill_teacher

    def __call__(self, e: ev.Event) -> None:
        if e.type != "rung_finished":
            return
        records = self.rundir.builder.records(e.phase)
        keep = kept_rungs(e.phase, records, self.distill_teacher)
        for path in self.rundir.checkpoint_dir().iterdir():
            m = NAME.fullmatch(path.name)
            if m and m.group(1) == e.phase and int(m.group(2)) not in keep:
                try:
                    path.unlink()
                except OSError:  # gone already, or not removable now: retried at the next rung
                    pass
