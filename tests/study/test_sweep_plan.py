"""Planning a sweep: --grid/--seeds parsing, ladder names, the sweep's identity, bad input (no Ray needed)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.errors import UsageError
from dsd_tui.runner import RunSession
from dsd_tui.study import grid as grid_mod
from dsd_tui.study import sweep as sweep_mod

TINY = ["prune.rungs=1", "train.dense_epochs=1", "train.epochs=1"]


def test_grid_values_split_on_top_level_commas_and_read_as_toml():
    grid = grid_mod.parse_grid(["data.noise=0.1,0.2", "model.hidden=[64,64],[32]", "prune.retrain=reinit,finetune"])
    assert grid == {"data.noise": [0.1, 0.2], "model.hidden": [[64, 64], [32]],
                    "prune.retrain": ["reinit", "finetune"]}


@pytest.mark.parametrize("items, words", [
    (["data.noise"], "expected section.key=v1,v2"),
    (["data.noise=0.1,,0.2"], "empty value"),
    (["data.noise=0.1,0.1"], "repeated"),
    (["data.noise=0.1", "data.noise=0.2"], "given twice"),
    (["run.seed=1,2"], "--seeds"),
])
def test_bad_grid_items_are_one_clear_error(items, words):
    with pytest.raises(UsageError, match=words):
        grid_mod.parse_grid(items)


def test_seeds_default_to_the_profile_seed_and_must_be_distinct_integers():
    assert grid_mod.parse_seeds(None, 7) == [7]
    assert grid_mod.parse_seeds("0,1,2", 7) == [0, 1, 2]
    for bad in ("0,0", "a,1", "-1"):
        with pytest.raises(UsageError, match="--seeds"):
            grid_mod.parse_seeds(bad, 0)


def test_expand_is_the_cartesian_product_with_one_folder_per_ladder():
    base = profile_mod.load(None, TINY)
    grid = grid_mod.parse_grid(["data.noise=0.1,0.2", "distill.teacher=best,/no/such/file.pt"])
    plans = grid_mod.expand(base.to_dict(), "quickstart", grid, [0, 1, 2])
    assert len(plans) == 2 * 2 * 3
    assert len({p.name for p in plans}) == 12, "every ladder needs its own run directory"
    assert all("/" not in p.name for p in plans)
    p = next(p for p in plans if p.settings == {"data.noise": 0.2, "distill.teacher": "best"} and p.seed == 2)
    assert (p.profile.data.noise, p.profile.distill.teacher, p.profile.run.seed) == (0.2, "best", 2)
    assert p.name == "data.noise-0.2__distill.teacher-best__seed-2"


def test_identity_ignores_order_and_seed_but_not_settings():
    base = profile_mod.load(None, TINY)
    a = grid_mod.identity(base, grid_mod.parse_grid(["data.noise=0.1,0.2", "prune.rate=0.2,0.3"]))
    b = grid_mod.identity(base.replace("run", seed=5),
                          grid_mod.parse_grid(["prune.rate=0.3,0.2", "data.noise=0.2,0.1"]))
    c = grid_mod.identity(base, grid_mod.parse_grid(["data.noise=0.1,0.3", "prune.rate=0.2,0.3"]))
    assert a == b != c


def test_an_invalid_combination_is_caught_before_anything_is_written(tmp_path):
    with pytest.raises(UsageError, match=r"--grid data.noise=1.5: .*data.noise"):
        sweep_mod.plan_sweep(None, TINY, ["data.noise=0.1,1.5"], "0", str(tmp_path / "s"))
    assert not (tmp_path / "s").exists()


def test_prepare_refuses_a_folder_holding_another_sweep(tmp_path):
    plan = sweep_mod.plan_sweep(None, TINY, ["data.noise=0.1,0.2"], "0", str(tmp_path / "s"))
    sweep_mod.prepare(*plan)
    sweep_mod.prepare(*plan)  # the same sweep again: fine
    other = sweep_mod.plan_sweep(None, TINY, ["data.noise=0.3"], "0", str(tmp_path / "s"))
    with pytest.raises(UsageError, match="holds another sweep"):
        sweep_mod.prepare(*other)
    index = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert [lad["status"] for lad in index["ladders"]] == ["pending", "pending"]


def test_run_session_at_creates_exactly_that_folder_and_never_reuses_a_run(tmp_path):
    prof = profile_mod.load(None, TINY)
    session = RunSession.at(tmp_path / "a" / "b", prof)
    assert session.path == tmp_path / "a" / "b" and (session.path / "profile.toml").is_file()
    assert session.run() == "completed"
    with pytest.raises(UsageError, match="already holds a run"):
        RunSession.at(tmp_path / "a" / "b", prof)


@pytest.mark.parametrize("args, words", [
    (["sweep", "--grid", "data.noise=0.1,oops"], "data.noise"),
    (["sweep", "--grid", "nosuch.key=1"], "unknown section"),
    (["sweep", "--seeds", "x"], "--seeds"),
    (["sweep", "--gpus-per-task", "-1"], "--gpus-per-task"),
    (["sweep", "--address", "127.0.0.1:1"], "nothing answers there"),
    (["aggregate", "/no/such/sweep"], "not a sweep directory"),
    (["compare", "/no/such/run"], "neither a run directory"),
    (["plot", "/no/such/run", "-o", "x.png"], "neither a run directory"),
])
def test_bad_input_is_one_line_and_exit_2(args, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args + (["--out", str(tmp_path / "o")] if args[0] == "sweep" else []))
    assert result.exit_code == 2, result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and words in err[0], result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists(), "nothing may be written on bad input"
