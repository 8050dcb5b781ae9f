"""The engine's pieces as the ladder wires them (issue 18, item 4): tests that fail when the wiring breaks.

The pieces (kd_loss, best_rung, the CSV writer, the pruning masks, the stop rules) have their own unit
tests; these check what the ladder and the commands do with them, so that a mutation in the wiring
(α dropped from the ladder's KD loss, the teacher picked on test accuracy, a CSV column filled from
another field, a weight-rewind that never rewinds, smoothing ignored) fails the suite. The mutations
were applied by hand and each failed these tests (docs/reliability.md, "Mutation checks").
"""
from __future__ import annotations

import copy
import csv
import dataclasses
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from relhelp import metrics

import dsd_tui.core.ladder as ladder_mod
from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.conventions import CSV_FIELDS
from dsd_tui.core import ladder_resume
from dsd_tui.core.ladder import Ladder, PhaseRun
from dsd_tui.core.ladder_resume import StateSaver
from dsd_tui.core.models import build_model
from dsd_tui.core.pruning import Masks
from dsd_tui.profile import StopSection
from dsd_tui.record import events as ev
from dsd_tui.record.rundir import RunDir, read_events, safe_torch_load
from dsd_tui.record.rung import RungRecord
from dsd_tui.runner import RunSession
from dsd_tui.stops import criteria

TINY = ["prune.rungs=1", "train.dense_epochs=2", "train.epochs=1", "model.hidden=[32, 32]"]


def run_to_end(out: Path, overrides: list[str]) -> Path:
    session = RunSession.new(profile_mod.load(None, overrides), str(out))
    assert session.run() == "completed", session.error
    return session.path


# ---------------------------------------------------------------- the KD loss in a real student epoch

def test_the_student_epochs_use_the_kd_loss_with_the_profiles_alpha_and_temperature(tmp_path, monkeypatch):
    alpha, T = 0.7, 4.0
    real = ladder_mod.kd_loss
    calls = []

    def spy(student, teacher, y, temperature, a):
        out = real(student, teacher, y, temperature, a)
        # the loss of design.md §2, written out independently, with the profile's α and T
        p_t = F.softmax(teacher.float() / T, dim=1)
        kl = (p_t * (F.log_softmax(teacher.float() / T, dim=1) - F.log_softmax(student.float() / T, dim=1))).sum(1)
        want = alpha * T * T * kl.mean() + (1 - alpha) * F.cross_entropy(student.float(), y)
        calls.append((float(out.detach()), float(want.detach()), teacher.detach().clone()))
        return out
    monkeypatch.setattr(ladder_mod, "kd_loss", spy)
    run = run_to_end(tmp_path, TINY + [f"distill.alpha={alpha}", f"distill.temperature={T}"])
    student_epochs = [e for e in read_events(run / "events.jsonl")
                      if isinstance(e, ev.EpochFinished) and e.phase == "student"]
    assert student_epochs and len(calls) >= len(student_epochs)  # every student batch went through it
    for got, want, _ in calls:
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    # ... and its targets are the logits of the chosen teacher checkpoint (not the student's, not zeros)
    summary = json.loads((run / "summary.json").read_text())
    teacher_info = next(p for p in summary["phases"] if p["name"] == "student")["teacher"]
    ck = safe_torch_load(Path(teacher_info["path"]))
    prof = profile_mod.load(str(run / "profile.toml"))
    from dsd_tui.core.data import load_data
    data = load_data(prof.data, prof.run.seed)
    teacher = build_model("mlp", prof.model, data.input_shape, data.num_classes).eval()
    teacher.load_state_dict(ck["state_dict"])
    with torch.no_grad():
        all_logits = teacher(data.train.x)  # digits: features already scaled, no augmentation
    for _, _, t in calls[:3]:
        nearest = torch.cdist(t.float(), all_logits.float()).min(dim=1).values
        assert float(nearest.max()) < 1e-3


# ---------------------------------------------------------------- the teacher is chosen on validation

def test_the_student_teacher_is_the_best_validation_rung_when_val_and_test_peaks_differ(tmp_path):
    prof = profile_mod.load(None, TINY)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "state").mkdir()
    (run / "profile.toml").write_text(prof.to_toml())
    rundir = RunDir(run)
    weights = {}
    vals, tests = [0.50, 0.70, 0.60], [0.55, 0.60, 0.80]  # validation peaks at rung 1, test at rung 2
    try:
        for rung, (v, t) in enumerate(zip(vals, tests)):
            torch.manual_seed(rung)
            model = build_model("mlp", prof.model, (64,), 10)
            weights[rung] = copy.deepcopy(model.state_dict())
            rundir.save_checkpoint("teacher", rung, {"state_dict": model.state_dict(), "rung": rung, "arch": "mlp"})
            rundir(ev.RungFinished(phase="teacher", rung=rung, record={"rung": rung, "val_acc": v, "test_acc": t,
                                                                        "sparsity": 0.2 * rung}))
        ladder = Ladder(prof, rundir, lambda e: None)
        ladder.data = SimpleNamespace(input_shape=(64,), num_classes=10)
        ladder.device = torch.device("cpu")
        ladder.speed = SimpleNamespace(place=lambda m, d: m)
        ladder.saver = SimpleNamespace(teacher_path="")
        model, info = ladder.load_teacher(None)
    finally:
        rundir.close()
    assert info["rung"] == 1 and info["val_acc"] == 0.70
    assert all(torch.equal(model.state_dict()[k], weights[1][k]) for k in weights[1])


# ---------------------------------------------------------------- every CSV cell against the summary

def test_every_csv_cell_matches_the_summary(finished_run):
    finished = finished_run  # the shared short quickstart run, both phases (conftest.py)
    summary = json.loads(CliRunner().invoke(main, ["export", str(finished)]).stdout)
    text = CliRunner().invoke(main, ["export", str(finished), "--format", "csv"]).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    records = [(p["name"], r) for p in summary["phases"] for r in p["rungs"]]
    assert len(rows) == len(records) == 2 * (summary["profile"]["prune"]["rungs"] + 1)  # two phases, every rung
    layers = sorted({k for _, r in records for k in r.get("entropy", {})})
    head = CSV_FIELDS + [f"entropy:{n}" for n in layers]
    assert layers and list(rows[0])[:len(head)] == head
    extra = list(rows[0])[len(head):]  # every other record field, dicts flattened as key:sub
    assert "val_acc_clean" in extra
    assert any(r["test_acc"] != r["val_acc"] for _, r in records)  # a swapped column would show
    for row, (phase, rec) in zip(rows, records):
        assert row["phase"] == phase
        assert set(row) == set(head) | set(extra)
        expected = {k: rec.get(k) for k in CSV_FIELDS[1:]}
        expected.update({f"entropy:{n}": rec.get("entropy", {}).get(n) for n in layers})
        for name in extra:
            key, _, sub = name.partition(":")
            value = rec.get(key)
            expected[name] = value.get(sub) if isinstance(value, dict) and sub else value
        for key, want in expected.items():
            cell = row[key]
            if want is None:
                assert cell == "", key
            elif isinstance(want, (int, float)) and not isinstance(want, bool):
                assert float(cell) == pytest.approx(want, rel=1e-12, abs=0), (phase, rec["rung"], key)
            else:
                assert cell == str(want), (phase, rec["rung"], key)


# ---------------------------------------------------------------- each retraining mode's effect on the weights

def pruned_phase(mode: str):
    prof = profile_mod.load(None, TINY + [f"prune.retrain='{mode}'"])
    torch.manual_seed(0)
    model = build_model("mlp", prof.model, (64,), 10)
    start = copy.deepcopy(model.state_dict())  # the rewind point (rewind_epoch = 0: the initial weights)
    with torch.no_grad():
        for p in model.parameters():  # "training": move every weight
            p.add_(torch.randn_like(p) * 0.5)
    trained = copy.deepcopy(model.state_dict())
    ph = PhaseRun("teacher", "mlp", model, Masks(model), torch.Generator(), start, ())
    Ladder(prof, None, lambda e: None).prune(ph, 1)
    return ph, start, trained


def kept_equal(ph, ref) -> bool:
    state = ph.model.state_dict()
    for name, mask in ph.masks.masks.items():
        if not torch.equal(state[name][mask.bool()], ref[name][mask.bool()]):
            return False
    return True


@pytest.mark.parametrize("mode", ["lr-rewind", "finetune"])
def test_lr_rewind_and_finetune_keep_the_trained_weights(mode):
    ph, start, trained = pruned_phase(mode)
    assert kept_equal(ph, trained) and not kept_equal(ph, start)
    assert ph.masks.pruned_are_zero() and 0.19 < ph.masks.sparsity() < 0.21


def test_weight_rewind_restarts_from_the_rewind_weights_under_the_new_mask():
    ph, start, trained = pruned_phase("weight-rewind")
    assert kept_equal(ph, start) and not kept_equal(ph, trained)
    assert ph.masks.pruned_are_zero()


def test_reinit_draws_fresh_weights_the_same_way_every_time():
    ph, start, trained = pruned_phase("reinit")
    again, _, _ = pruned_phase("reinit")
    assert not kept_equal(ph, start) and not kept_equal(ph, trained)
    assert kept_equal(again, ph.model.state_dict()) and ph.masks.pruned_are_zero()


def test_finetune_retrains_at_its_own_constant_lr(tmp_path):
    run = run_to_end(tmp_path, TINY + ["prune.retrain='finetune'", "prune.finetune_lr=0.0003",
                                       "train.milestones=[1]", "train.epochs=2", "distill.enabled=false"])
    lrs = {(e.rung, e.epoch): e.lr for e in read_events(run / "events.jsonl") if isinstance(e, ev.EpochFinished)}
    assert lrs[(0, 1)] == pytest.approx(1e-3) and lrs[(0, 2)] == pytest.approx(1e-4)  # dense: lr, milestone
    assert lrs[(1, 1)] == lrs[(1, 2)] == pytest.approx(3e-4)  # pruned: finetune_lr, no milestone


# ---------------------------------------------------------------- resume exactness beyond the quickstart

PAPER_LIKE = ["data.dataset='synthetic'", "data.synthetic_size=96", "data.val_size=32", "data.batch_size=32",
              "data.augment='crop-flip'", "model.hidden=[32, 32]", "train.optimizer='sgd'", "train.lr=0.05",
              "train.momentum=0.9", "train.weight_decay=0.0005", "train.milestones=[2]", "train.dense_epochs=3",
              "train.epochs=3", "prune.rungs=2", "prune.retrain='weight-rewind'", "prune.rewind_epoch=1"]


class EveryEpochSaver(StateSaver):
    """Every epoch end on disk, so that an interruption resumes from the very epoch it names."""

    def save(self, *args, **kwargs):
        kwargs["force"] = True
        super().save(*args, **kwargs)


def test_resume_is_exact_with_sgd_milestones_augmentation_and_weight_rewind(tmp_path, monkeypatch,
                                                                             keep_signal_handlers):
    monkeypatch.setattr(ladder_resume, "StateSaver", EveryEpochSaver)
    whole = json.loads((run_to_end(tmp_path / "whole", PAPER_LIKE) / "summary.json").read_text())
    session = RunSession.new(profile_mod.load(None, PAPER_LIKE), str(tmp_path / "cut"))
    path = session.path
    cuts = [("teacher", 1, 2), ("student", 2, 1)]  # past the milestone, momentum buffers, rewind weights

    for phase, rung, epoch in cuts:
        def stop_at(e, where=(phase, rung, epoch), s=session):
            if isinstance(e, ev.EpochFinished) and (e.phase, e.rung, e.epoch) == where:
                s.stop_now.set()
        session.sink.sinks.append(stop_at)
        assert session.run() == "interrupted"
        cursor = safe_torch_load(path / "state" / "latest.pt")["cursor"]
        assert (cursor["phase"], cursor["rung"], cursor["epoch"], cursor["rung_done"]) == (phase, rung, epoch, False)
        session = RunSession.resume_from(str(path))
    assert session.run() == "completed"
    resumed = json.loads((path / "summary.json").read_text())
    assert metrics(resumed)["phases"] == metrics(whole)["phases"]


# ---------------------------------------------------------------- smoothing that changes the outcome

def test_smoothing_changes_where_early_stop_fires():
    """One lucky rung (a validation spike at rung 2) stops the raw rule three rungs later; the trailing mean
    over 3 rungs absorbs it and keeps going while the curve still rises."""
    vals = [0.50, 0.52, 0.80, 0.56, 0.60, 0.64, 0.68, 0.72, 0.76, 0.70, 0.65, 0.60, 0.55]
    records = [RungRecord(i, val_acc=v) for i, v in enumerate(vals)]
    raw = criteria.first_firing(records, "early-stop", dataclasses.replace(StopSection(), smooth=1, patience=3))
    smooth = criteria.first_firing(records, "early-stop", dataclasses.replace(StopSection(), smooth=3, patience=3))
    assert (raw.rung, raw.selected_rung) == (5, 2)
    assert (smooth.rung, smooth.selected_rung) == (12, 9)
