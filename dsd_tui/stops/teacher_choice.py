"""Which teacher the student distils from, and why, in one sentence for the monitor and the headless view.

The teacher phase's active stop keeps one rung ("keep rung 19") while `distill.teacher = "best"` hands the
student the best validation rung over every rung trained (say 23); without a sentence saying so the two
numbers on screen look like a contradiction. The tie rule is the one that chose the rung
(record/summary.py `best_rung`, `best_test_rung`: the sparser rung wins), read here, not restated.
"""
from __future__ import annotations

from dsd_tui.record.rung import RungRecord
from dsd_tui.record.summary import StopEntry, best_rung, best_test_rung

RULES = {"best": ("best validation", "val_acc", best_rung), "best-test": ("best test", "test_acc", best_test_rung)}


def _ties(records: list[RungRecord], key: str, rung: int) -> list[int]:
    """The other rungs with the same score as the chosen one (the candidates its tie rule passed over)."""
    chosen = next((r for r in records if r.rung == rung), None)
    if chosen is None or getattr(chosen, key) is None:
        return []
    return [r.rung for r in records
            if r.rung != rung and not r.diverged and getattr(r, key) == getattr(chosen, key)]


def choice_line(teacher: dict | None, records: list[RungRecord], stops: list[StopEntry] = ()) -> str | None:
    """"student distils from teacher rung 23 (best validation 0.810, tie with rung 19 broken toward the
    sparser)", plus why it differs from the rung the teacher's active stop kept. `teacher`: the student
    phase's `teacher` block (core/ladder.py `load_teacher`); None before the student phase starts."""
    if not teacher:
        return None
    source, rung = teacher.get("source"), teacher.get("rung")
    if source == "path":
        return f"student distils from the checkpoint {teacher.get('path')} (distill.teacher)"
    if source == "dense":
        return "student distils from the dense teacher, rung 0 (distill.teacher = \"dense\")"
    label, key, rule = RULES.get(source, (str(source), "val_acc", best_rung))
    rec = next((r for r in records if r.rung == rung), None)
    score = getattr(rec, key, None) if rec is not None else None
    kept = next((s for s in stops if s.phase == "teacher" and s.active and s.selected_rung is not None), None)
    differs = kept is not None and kept.selected_rung != rung
    why = label + ("" if score is None else f" {score:.3f}") + (f" of all {len(records)} rungs" if differs else "")
    ties = _ties(records, key, rung) if rule(records) == rung else []
    if ties:
        named = ", ".join(str(t) for t in ties)
        why += f", tie with rung{'s' if len(ties) > 1 else ''} {named} broken toward the sparser"
    if differs:  # the stop's banner names another rung: the teacher rule reads every rung, not the stop's
        why += f"; the stop ({kept.criterion}) kept rung {kept.selected_rung}"
    return f"student distils from teacher rung {rung} ({why})"
