"""The pruning-criterion registry wired into the ladder: criteria registered from Python and from a package's
dist-info drive real short ladders, and the masks in the checkpoints follow their scores.

Checked here: the rung-1 mask of a registered criterion is the cut computed independently from its scores
(weights in scope only, output layer left out when asked); a criterion taking `context` gets the phase's
own loss (the student's KD loss, compared with the KD loss computed by hand from the teacher checkpoint)
and a seeded generator; the global RNG is seeded for the call and restored after it; a broken plugin is
one line naming it and its package, exit 2, and no run directory.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from fake_files import write_dist
from relhelp import SRC, headless_run

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.core import ladder as ladder_mod
from dsd_tui.core.criteria import CRITERIA
from dsd_tui.core.models import MLP
from dsd_tui.core.training import kd_loss
from dsd_tui.registry import PYTHON

BASE = ("prune.rungs=1", "train.dense_epochs=2", "train.epochs=1", "distill.enabled=false", "entropy.enabled=false",
        "model.hidden=[64,64]", "stop.criteria=[]", "stop.active=''", "stop.active_student=''")
LAYERS = ["features.0.weight", "features.2.weight", "classifier.weight"]


@pytest.fixture
def register():
    """Register criteria from Python for one test (removed afterwards)."""
    names = []

    def add(name, fn):
        CRITERIA.register(name, fn, origin=PYTHON)
        names.append(name)
    yield add
    for name in names:
        CRITERIA.unregister(name)


def checkpoint(run: Path, phase: str, rung: int) -> dict:
    return torch.load(run / "checkpoints" / f"{phase}-rung{rung:02d}.pt", weights_only=True)


def model_of(ck: dict) -> MLP:
    model = MLP(64, [64, 64], 10)
    model.load_state_dict(ck["state_dict"])
    return model


def cut_by_hand(scores: dict[str, torch.Tensor], names: list[str], rate: float = 0.2) -> dict[str, torch.Tensor]:
    """The global cut of a dense network, written out: the round(rate · n) smallest scores of `names` go."""
    flat = torch.cat([scores[n].flatten() for n in names])
    gone = torch.zeros(flat.numel(), dtype=torch.bool)
    gone[torch.topk(flat, int(round(rate * flat.numel())), largest=False).indices] = True
    out, at = {}, 0
    for n in names:
        size = scores[n].numel()
        out[n] = ~gone[at:at + size].view_as(scores[n])
        at += size
    return out


def test_a_python_criterion_drives_the_cut_of_a_real_ladder(tmp_path, register):
    seen = {}

    def largest_first(model, weights, batch):  # prunes the largest weights: nothing like magnitude's cut
        params = dict(model.named_parameters())
        seen.update(names=list(weights), training=model.training, copies=all(weights[n] is params[n] for n in weights),
                    batch=tuple(t.shape for t in batch))
        return {n: -w.detach().abs() for n, w in weights.items()}

    register("largest-first", largest_first)
    run = headless_run(tmp_path, *BASE, "prune.criterion=largest-first", "prune.output_layer=false")
    assert seen == {"names": LAYERS[:2], "training": True, "copies": True, "batch": ((128, 64), (128,))}
    masks = {n: m.bool() for n, m in checkpoint(run, "teacher", 1)["masks"].items()}
    dense = model_of(checkpoint(run, "teacher", 0))  # lr-rewind: the weights the cut saw
    scores = {n: -p.detach().abs() for n, p in dense.named_parameters() if n in LAYERS}
    expected = cut_by_hand(scores, LAYERS[:2])
    assert all(torch.equal(masks[n], expected[n]) for n in LAYERS[:2])
    assert bool(masks["classifier.weight"].all())  # out of scope: dense
    magnitude = cut_by_hand({n: -s for n, s in scores.items()}, LAYERS[:2])
    assert not torch.equal(masks["features.0.weight"], magnitude["features.0.weight"])


def test_a_criterion_taking_context_gets_the_students_kd_loss_and_a_seeded_generator(tmp_path, register):
    calls = []

    def with_context(model, weights, batch, context):
        x, y = batch
        logits = model(x)
        calls.append({"phase": context.phase, "rung": context.rung, "x": x.clone(), "y": y.clone(),
                      "logits": logits.detach().clone(), "loss": float(context.loss(logits, x, y).detach()),
                      "generator": isinstance(context.generator, torch.Generator),
                      "draw": torch.rand(3, generator=context.generator)})
        return {n: w.detach().abs() for n, w in weights.items()}

    register("with-context", with_context)
    run = headless_run(tmp_path, *[s for s in BASE if not s.startswith("distill")], "distill.enabled=true",
                       "prune.criterion=with-context")
    # rung 0: the preflight check on a fresh network, before the run directory existed
    assert [(c["phase"], c["rung"]) for c in calls] == [("teacher", 0), ("teacher", 1), ("student", 1)]
    assert all(c["generator"] for c in calls)
    assert not torch.equal(calls[1]["draw"], calls[2]["draw"])  # seeded per phase
    _check, teacher_call, student_call = calls
    # the teacher's loss is cross-entropy on the noisy labels
    assert teacher_call["loss"] == pytest.approx(float(F.cross_entropy(teacher_call["logits"], teacher_call["y"])),
                                                 rel=1e-6)
    # the student's is the KD loss against the teacher the student phase used
    summary = json.loads((run / "summary.json").read_text())
    student = next(p for p in summary["phases"] if p["name"] == "student")
    teacher = model_of(torch.load(student["teacher"]["path"], weights_only=True)).eval()
    prof = summary["profile"]["distill"]
    with torch.no_grad():
        t_logits = teacher(student_call["x"])
    kd = float(kd_loss(student_call["logits"], t_logits, student_call["y"], prof["temperature"], prof["alpha"]))
    ce = float(F.cross_entropy(student_call["logits"], student_call["y"]))
    assert student_call["loss"] == pytest.approx(kd, rel=1e-5)
    assert abs(kd - ce) > 1e-3  # so the comparison tells the KD loss from plain cross-entropy


def test_the_global_rng_is_seeded_for_the_call_and_restored_after_it(tmp_path, register, monkeypatch):
    drawn, around = [], []

    def scores(weights):
        return {n: w.detach().abs() for n, w in weights.items()}

    def drawing(model, weights, batch):
        drawn.append(torch.rand(4))  # the global RNG, as a careless plugin would use it
        return scores(weights)

    register("drawing", drawing)
    register("quiet", lambda model, weights, batch: scores(weights))
    real_cut = ladder_mod.Ladder.cut

    def watched_cut(self, ph, rung):
        before = torch.get_rng_state()
        real_cut(self, ph, rung)
        around.append(torch.equal(before, torch.get_rng_state()))
    monkeypatch.setattr(ladder_mod.Ladder, "cut", watched_cut)
    two = ("prune.rungs=2",)
    run_a = headless_run(tmp_path / "a", *BASE, *two, "prune.criterion=drawing")
    run_b = headless_run(tmp_path / "b", *BASE, *two, "prune.criterion=drawing")
    run_quiet = headless_run(tmp_path / "q", *BASE, *two, "prune.criterion=quiet")
    assert around == [True] * 6  # every cut left the global RNG as it found it
    drawn = [d for i, d in enumerate(drawn) if i % 3]  # each run: the preflight check, then rungs 1 and 2
    assert torch.equal(drawn[0], drawn[2]) and torch.equal(drawn[1], drawn[3])  # seeded: the same in both runs
    assert not torch.equal(drawn[0], drawn[1])  # per rung

    def metrics(run):
        rungs = json.loads((run / "summary.json").read_text())["phases"][0]["rungs"]
        return [{k: r[k] for k in ("test_acc", "val_acc", "train_loss", "sparsity")} for r in rungs]
    assert metrics(run_a) == metrics(run_b) == metrics(run_quiet)  # drawing did not move the run's other numbers


BROKEN = textwrap.dedent("""
    import torch

    def raises(model, weights, batch):
        raise ValueError("no saliency today")

    def wrong_names(model, weights, batch):
        return {"nope.weight": torch.zeros(3)}

    def wrong_shape(model, weights, batch):
        return {n: torch.zeros(w.numel()) for n, w in weights.items()}

    def nan(model, weights, batch):
        return {n: torch.full_like(w, float("nan")) for n, w in weights.items()}

    def not_a_dict(model, weights, batch):
        return [w.abs() for w in weights.values()]

    not_callable = 42
""")


@pytest.fixture
def broken_dist(tmp_path, monkeypatch):
    """`brokencrit-pkg 0.1`: a module of broken criteria, seen only through its dist-info entry points."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "brokencrit.py").write_text(BROKEN)
    write_dist(site, "brokencrit-pkg", "0.1", "dsd_tui.criteria", {
        "b-raises": "brokencrit:raises", "b-names": "brokencrit:wrong_names", "b-shape": "brokencrit:wrong_shape",
        "b-nan": "brokencrit:nan", "b-list": "brokencrit:not_a_dict", "b-value": "brokencrit:not_callable",
        "b-import": "brokencrit_missing:score"})
    monkeypatch.syspath_prepend(str(site))
    CRITERIA.rescan()
    yield site
    monkeypatch.undo()
    sys.modules.pop("brokencrit", None)
    CRITERIA.rescan()


@pytest.mark.parametrize("name, says", [
    ("b-raises", "raised ValueError: no saliency today"), ("b-names", "no scores for"),
    ("b-shape", "of shape"), ("b-nan", "NaN"), ("b-list", "not a dict"), ("b-value", "not a function"),
    ("b-import", "cannot be imported")])
def test_a_broken_plugin_criterion_is_one_line_exit_2_and_no_run_directory(tmp_path, broken_dist, name, says):
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(out), "--set", f"prune.criterion={name}",
                                       *[a for s in BASE for a in ("--set", s)]])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert f"'{name}'" in lines[0] and "brokencrit-pkg 0.1" in lines[0] and says in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_a_broken_plugin_is_refused_through_the_real_command(tmp_path, broken_dist):
    out = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, str(broken_dist)]), "OMP_NUM_THREADS": "1"}
    sets = [a for s in (*BASE, "prune.criterion=b-shape") for a in ("--set", s)]
    proc = subprocess.run([sys.executable, "-m", "dsd_tui", "run", "--no-tui", "--out", str(out), *sets],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "'b-shape' from package brokencrit-pkg 0.1" in proc.stderr, proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_an_unknown_criterion_lists_the_plugins_too_without_importing_them(tmp_path, broken_dist):
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path), "--set", "prune.criterion=snip"])
    assert result.exit_code == 2
    assert "b-import" in result.output and "magnitude" in result.output
    assert "brokencrit" not in sys.modules  # listed from metadata only
    assert profile_mod.load(None, ["prune.criterion=b-shape"]).prune.criterion == "b-shape"
    assert "brokencrit" not in sys.modules  # the profile check does not import the plugin either
