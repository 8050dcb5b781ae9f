"""Studies as files: `dsd-tui studies`, a --dry-run of every bundled study, a real (tiny) study sweep (its ladders
run in this process, the driver on a fake Ray) and its figure and best-accuracy table, and bad study files."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_ray import FakeRay

from dsd_tui.cli import main
from dsd_tui.runner import RunSession
from dsd_tui.study import study_figure, study_file
from dsd_tui.study import sweep as sweep_mod
from dsd_tui.study.estimate import estimate

DATA = ["--set", "data.path=/data/somewhere", "--set", "data.noisy_labels=/data/CIFAR-100_human.pt"]


def test_studies_lists_every_bundled_study_on_one_line_each():
    result = CliRunner().invoke(main, ["studies"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    names = study_file.bundled_names()
    assert [line.split()[0] for line in lines] == names
    for expected in ("paper-noise", "paper-retrain-modes", "paper-vgg-width-depth", "paper-cifar100n", "he-mnist",
                     "cpu-noise", "cpu-retrain-modes", "cpu-mlp-width", "cpu-criteria"):
        assert expected in names
    assert all(len(line.split(None, 1)) == 2 for line in lines)  # a description on every line


@pytest.mark.parametrize("name", study_file.bundled_names())
def test_dry_run_of_each_bundled_study_prints_the_plan_and_writes_nothing(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["sweep", name, "--dry-run", *DATA])
    assert result.exit_code == 0, result.output
    study = study_file.load(name)
    sets = study.overrides + [s for s in DATA if s != "--set"]
    _, _, grid, _, plans = sweep_mod.plan_sweep(study.profile, sets, study.grid, ",".join(map(str, study.seeds)), None)
    ladders = math.prod(len(values) for values in grid.values()) * len(study.seeds)
    assert len(plans) == ladders
    assert f"= {ladders} ladders" in result.output
    assert f"study {name}:" in result.output and "cost:" in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("  ")]) == ladders
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_dry_run_cost_counts_epochs_and_steps_exactly():
    study = study_file.load("cpu-retrain-modes")
    plan = sweep_mod.plan_sweep(study.profile, study.overrides, study.grid, "0,1,2", None)
    cost = estimate([p.profile for p in plan[4]])
    p = plan[4][0].profile
    per_phase = p.train.dense_epochs + p.prune.rungs * p.train.epochs
    assert cost.ladders == 12 and cost.phases == 2
    assert cost.epochs == 12 * 2 * per_phase
    assert cost.steps == cost.epochs * 8  # 1,000 digits in batches of 128
    # the paper's one run: 2 phases × 35 × 160 epochs × 352 steps (docs/scaling.md)
    paper = sweep_mod.plan_sweep("cifar10-resnet18-noise20", ["data.path=/x"], [], "0", None)[4]
    assert estimate([q.profile for q in paper]).steps == 2 * 35 * 160 * 352


def test_a_study_plans_exactly_what_the_equivalent_sweep_command_plans():
    study = study_file.load("cpu-criteria")
    by_study = sweep_mod.plan_sweep(study.profile, study.overrides, study.grid, "0,1,2", None)
    by_hand = sweep_mod.plan_sweep("quickstart", ["prune.rungs=22", "train.dense_epochs=40", "train.epochs=10"],
                                   ["prune.criterion=magnitude,gradient,random"], "0,1,2", None)
    assert by_study[3] == by_hand[3]  # the sweep identity
    assert [p.name for p in by_study[4]] == [p.name for p in by_hand[4]]
    assert [p.profile for p in by_study[4]] == [p.profile for p in by_hand[4]]


STUDY = """
description = "tiny test study"
profile = "quickstart"
seeds = [0, 1]
[set.prune]
rungs = 2
[set.train]
dense_epochs = 2
epochs = 1
[set.model]
hidden = [32, 32]
[set.entropy]
enabled = false
[grid.prune]
criterion = ["magnitude", "random"]
[plot]
metric = "val_acc"
title = "tiny"
"""


def test_sweep_study_records_it_and_plot_draws_its_figure_and_table(tmp_path, monkeypatch):
    """The ladders run in this process (Ray's dispatch has its own tests, test_sweep_driver.py and
    test_sweep_ray.py); then `dsd-tui sweep STUDY` finds them finished (a fake Ray, never started), records the
    study in sweep.json, and `dsd-tui plot` draws the study's figure."""
    pytest.importorskip("matplotlib")
    fake = FakeRay()
    monkeypatch.setattr(sweep_mod, "import_ray", lambda: fake)
    path = tmp_path / "tiny.toml"
    path.write_text(STUDY)
    out = tmp_path / "sweep"
    study = study_file.load(str(path))
    plan = sweep_mod.plan_sweep(study.profile, study.overrides, study.grid, "0,1", str(out))
    sweep_mod.prepare(*plan)  # a sweep directory without the study entry: the command must add it
    for ladder in plan[4]:
        assert RunSession.at(out / ladder.name, ladder.profile).run() == "completed"
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", str(out), "--table-every", "0"])
    assert result.exit_code == 0, result.output
    assert "4 already finished" in result.output
    assert fake.inits == [] and fake.tasks == [], "nothing to run, yet Ray was started"
    index = json.loads((out / "sweep.json").read_text())
    assert index["study"] == {"name": "tiny", "description": "tiny test study",
                              "plot": {"metric": "val_acc", "title": "tiny"}}
    assert sorted(lad["name"] for lad in index["ladders"]) == sorted(
        f"prune.criterion-{c}__seed-{s}" for c in ("magnitude", "random") for s in (0, 1))
    assert all(lad["status"] == "completed" for lad in index["ladders"])

    fig = tmp_path / "tiny.png"
    drawn = CliRunner().invoke(main, ["plot", str(out), "-o", str(fig)])
    assert drawn.exit_code == 0, drawn.output
    assert fig.read_bytes()[:4] == b"\x89PNG" and (tmp_path / "tiny.table.md").is_file()
    mark, table = (tmp_path / "tiny.table.md").read_text().split("\n", 1)
    assert mark == study_figure.TABLE_MARK and table in drawn.output
    # the table's numbers are the runs' own: best-validation rung's test accuracy and the max test accuracy
    for crit in ("magnitude", "random"):
        summaries = [json.loads((out / f"prune.criterion-{crit}__seed-{s}" / "summary.json").read_text())
                     for s in (0, 1)]
        for phase_i, phase in enumerate(("teacher", "student")):
            ph = [s["phases"][phase_i] for s in summaries]
            best_val = [next(r["test_acc"] for r in p["rungs"] if r["rung"] == p["best_rung"]) for p in ph]
            best_test = [max(r["test_acc"] for r in p["rungs"]) for p in ph]
            row = next(line for line in table.splitlines() if line.startswith(f"| criterion={crit} | {phase} |"))
            cells = [c.strip() for c in row.split("|")]
            assert cells[5].startswith(f"{sum(best_val) / 2:.3f} ±"), row
            assert cells[7].startswith(f"{sum(best_test) / 2:.3f} ±"), row


@pytest.mark.parametrize("text, message", [
    ("profile = 'quickstart'\nseed = [0]\n", "unknown key 'seed'"),
    ("profile = 'quickstart'\n[grid.prune]\ncriterion = 'random'\n", "must be a non-empty list"),
    ("profile = 'quickstart'\n[grid.pruning]\nrate = [0.1]\n", "not a profile section"),
    ("profile = 'quickstart'\n[grid.prune]\ncriterion = ['snip']\n", "prune.criterion"),
    ("profile = 'quickstart'\nseeds = []\n", "seeds must be a non-empty list"),
])
def test_bad_study_file_is_one_line_exit_2_nothing_written(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    path = Path("bad.toml")
    path.write_text(text)
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", "sweep"])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_grid_on_the_command_line_is_refused_with_a_study(tmp_path):
    result = CliRunner().invoke(main, ["sweep", "cpu-criteria", "--grid", "data.noise=0.1,0.2", "--dry-run"])
    assert result.exit_code == 2 and "brings its own grid" in result.output
