"""run.keep_checkpoints = "best-last": per phase the best validation rung and the last rung stay on disk,
the student still gets the best teacher, a run interrupted in its student phase resumes, and the numbers
are those of a run that kept everything."""
from __future__ import annotations

from relhelp import metrics

from dsd_tui import profile as profile_mod
from dsd_tui.api import load_summary
from dsd_tui.record.checkpoints import kept_rungs
from dsd_tui.record.rung import RungRecord
from dsd_tui.runner import RunSession

TINY = ["prune.rungs=3", "train.dense_epochs=2", "train.epochs=1", "data.train_size=300", "data.val_size=60",
        "model.hidden=[64, 64]", "stop.smooth=1"]


def files(run) -> list[str]:
    return sorted(p.name for p in (run / "checkpoints").iterdir())


def expected(summary) -> list[str]:
    out = []
    for p in summary["phases"]:
        last = p["rungs"][-1]["rung"]
        out += [f"{p['name']}-rung{k:02d}.pt" for k in {p["best_rung"], last}]
    return sorted(out)


def test_best_last_keeps_best_and_last_and_resumes(tmp_path, keep_signal_handlers):
    prof = profile_mod.load(None, TINY + ["run.keep_checkpoints=best-last"])
    seen = {}

    def stop_in_the_student_phase(e):
        if e.type == "rung_finished" and e.phase == "student" and e.rung == 1:
            session.stop_after_rung.set()
            seen["files"] = files(session.path)
    session = RunSession.new(prof, str(tmp_path / "runs"), sinks=[stop_in_the_student_phase])
    assert session.run() == "interrupted"
    part = load_summary(session.path)
    assert seen["files"] == files(session.path) == expected(part)
    assert len(files(session.path)) <= 4

    resumed = RunSession.resume_from(str(session.path))
    assert resumed.run() == "completed"
    summary = load_summary(session.path)
    teacher, student = summary["phases"]
    assert student["teacher"]["rung"] == teacher["best_rung"]
    assert files(session.path) == expected(summary)
    assert f"teacher-rung{teacher['best_rung']:02d}.pt" in files(session.path)

    everything = RunSession.new(profile_mod.load(None, TINY), str(tmp_path / "all"))
    assert everything.run() == "completed"
    assert len(files(everything.path)) == 8
    assert metrics(load_summary(everything.path))["phases"] == metrics(summary)["phases"]


def test_kept_rungs_rules():
    recs = [RungRecord(0, val_acc=0.5), RungRecord(1, val_acc=0.7), RungRecord(2, val_acc=0.6),
            RungRecord(3, val_acc=None, diverged=True)]
    assert kept_rungs("teacher", recs, "best") == {1, 2}  # the last *trained* rung: next-rung restores it
    assert kept_rungs("teacher", recs, "dense") == {0, 1, 2}
    assert kept_rungs("student", recs, "dense") == {1, 2}
