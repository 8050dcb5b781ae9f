"""Conventions scripts and shells rely on: DSD_TUI_* environment variables, shell completion of bundled
profile names, `profiles --json`, `compare --json`, and a CSV export holding every rung record field."""
from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner
from tui_support import recorded_run

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.record.rundir import rebuild_summary


def test_options_come_from_dsd_tui_environment_variables(tmp_path):
    run = recorded_run(tmp_path)
    plain = CliRunner().invoke(main, ["export", str(run)])
    as_csv = CliRunner().invoke(main, ["export", str(run)], env={"DSD_TUI_EXPORT_FORMAT": "csv"})
    assert plain.exit_code == as_csv.exit_code == 0
    assert plain.stdout.startswith("{") and as_csv.stdout.startswith("phase,rung,")
    bad = CliRunner().invoke(main, ["export", str(run)], env={"DSD_TUI_EXPORT_FORMAT": "xml"})
    assert bad.exit_code == 2 and "xml" in bad.output
    sets = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path / "runs")],
                              env={"DSD_TUI_RUN_SET": "train.epochs=-1 prune.rungs=2"})
    assert sets.exit_code == 2 and "train.epochs" in sets.stderr  # --set from the environment, validated
    assert not (tmp_path / "runs").exists()


def complete(words: str) -> list[str]:
    env = {"_DSD_TUI_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
    result = CliRunner().invoke(main, [], env=env, prog_name="dsd-tui")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_shell_completion_offers_bundled_profile_names():
    assert complete("dsd-tui run cifar100-") == ["plain,cifar100-resnet18-noise10", "plain,cifar100-resnet18-noise20",
                                                 "plain,cifar100-resnet18-noise50", "plain,cifar100-vgg-noise10"]
    assert complete("dsd-tui sweep quick") == ["plain,quickstart"]
    assert complete("dsd-tui run ./my") == ["file,./my"]  # not a bundled name: the shell completes a path


def test_profiles_json_lists_every_bundled_profile():
    result = CliRunner().invoke(main, ["profiles", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [p["name"] for p in items] == profile_mod.bundled_names()
    quick = next(p for p in items if p["name"] == "quickstart")
    assert quick["profile"] == profile_mod.load("quickstart").to_dict()
    assert (quick["dataset"], quick["arch"], quick["rungs"]) == ("digits", "mlp", 34)
    c10 = next(p for p in items if p["name"] == "cifar10-resnet18-noise20")
    assert (c10["dataset"], c10["arch"], c10["noise"], c10["optimizer"]) == ("cifar10", "resnet18", 0.2, "sgd")


def test_compare_json_holds_the_runs_numbers(tmp_path):
    run = recorded_run(tmp_path)
    result = CliRunner().invoke(main, ["compare", "--json", str(run)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    summary = rebuild_summary(run).summary()
    assert data["metric"] == "test_acc" and len(data["groups"]) == 1
    for phase in summary["phases"]:
        got = data["groups"][0]["phases"][phase["name"]]
        assert [(e["rung"], e["mean"], e["n"]) for e in got] == [(r["rung"], r["test_acc"], 1) for r in phase["rungs"]]
        assert [e["sparsity"] for e in got] == [r["sparsity"] for r in phase["rungs"]]


def test_csv_export_carries_every_record_field(tmp_path):
    run = recorded_run(tmp_path)
    result = CliRunner().invoke(main, ["export", "--format", "csv", str(run)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    summary = rebuild_summary(run).summary()
    records = [(p["name"], r) for p in summary["phases"] for r in p["rungs"]]
    assert len(rows) == len(records)
    for row, (phase, rec) in zip(rows, records):
        assert row["phase"] == phase
        for key, value in rec.items():
            if isinstance(value, dict):
                for sub, v in value.items():
                    assert float(row[f"{key}:{sub}"]) == v, (key, sub)
            else:
                assert row[key] == str(value), key
    assert "val_acc_clean" in rows[0]
    header = result.stdout.splitlines()[0].split(",")
    assert header[:4] == ["phase", "rung", "sparsity", "remaining_weights"]  # the old columns keep their places


def test_output_only_keys_leave_a_sweeps_identity_alone():
    """keep_checkpoints / tensorboard / wandb choose what is written beside the results: re-running a sweep
    command with them changed (or after they were added) must find the same sweep to resume."""
    from dsd_tui.study import grid as grid_mod
    base = profile_mod.load(None, ["prune.rungs=4"])
    grid = grid_mod.parse_grid(["data.noise=0.2,0.4"])
    other = base.replace("run", keep_checkpoints="best-last", tensorboard=True, wandb=True)
    assert grid_mod.identity(base, grid) == grid_mod.identity(other, grid)
    assert grid_mod.identity(base, grid) != grid_mod.identity(base.replace("train", epochs=7), grid)
