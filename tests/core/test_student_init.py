"""The student's starting point: the teacher's dense init by default (the authors' code seeds both
alike), its own seed with `distill.student_init = "fresh"`, and fresh by nature for another architecture."""
import json
from pathlib import Path

import torch
from click.testing import CliRunner

from dsd_tui.cli import main

# No training at all: each phase's rung-0 checkpoint holds its dense initialisation.
UNTRAINED = ("prune.rungs=0", "train.dense_epochs=0", "model.hidden=[64, 32]", "entropy.enabled=false")


def _inits(tmp_path, *extra):
    sets = [a for o in UNTRAINED + extra for a in ("--set", o)]
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path), *sets])
    assert result.exit_code == 0, result.output
    run = Path(result.output.splitlines()[0])
    cks = {ph: torch.load(run / "checkpoints" / f"{ph}-rung00.pt", weights_only=True)["state_dict"]
           for ph in ("teacher", "student")}
    summary = json.loads((run / "summary.json").read_text())
    return cks, summary["phases"][1]["teacher"]["student_init"]


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_student_starts_from_the_teachers_dense_init_by_default(tmp_path, keep_signal_handlers):
    cks, recorded = _inits(tmp_path)
    assert recorded == "teacher"
    assert _same(cks["teacher"], cks["student"])


def test_fresh_student_starts_from_its_own_draw(tmp_path, keep_signal_handlers):
    cks, recorded = _inits(tmp_path, "distill.student_init=fresh")
    assert recorded == "fresh"
    assert cks["teacher"].keys() == cks["student"].keys()
    assert not any(torch.equal(cks["teacher"][k], cks["student"][k]) for k in cks["teacher"] if k.endswith("weight"))


def test_a_student_of_another_architecture_is_fresh_by_nature(tmp_path, keep_signal_handlers):
    cks, recorded = _inits(tmp_path, "data.dataset=synthetic", "data.synthetic_size=32", "data.val_size=16",
                           "distill.arch=vgg", "model.depth=1", "model.width_exp=2")
    assert recorded == "fresh"
    assert "features.0.weight" in cks["student"] and "classifier.weight" in cks["teacher"]
