"""`dsd-tui doctor`: the machine, the data, the disk and a measured time estimate; its estimate against
the real wall time of the same shortened quickstart run back to back on this machine (so the other load
on it weighs on both alike); a profile that cannot start (no data, too little disk) is exit 2 naming the fix."""
from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from dsd_tui.cli import main

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

SHORT = ["prune.rungs=4", "train.epochs=20", "train.dense_epochs=40"]


def sets(*items):
    return sum((["--set", s] for s in items), [])


def doctor(*args):
    return CliRunner().invoke(main, ["doctor", *args])


def test_the_estimate_is_within_a_factor_of_two_of_the_real_run(tmp_path):
    out = tmp_path / "runs"
    t0 = time.perf_counter()
    result = doctor(*sets(*SHORT, f"run.out={out}"), "--json")
    doctor_s = time.perf_counter() - t0
    assert result.exit_code == 0, (result.output, result.exception)
    report = json.loads(result.stdout)
    estimated = report["estimated_seconds"]
    t0 = time.perf_counter()
    run = CliRunner().invoke(main, ["run", "--no-tui", *sets(*SHORT, f"run.out={out}")])
    real = time.perf_counter() - t0
    assert run.exit_code == 0, (run.output, run.exception)
    print(f"doctor estimate {estimated:.1f} s, real run {real:.1f} s, doctor itself {doctor_s:.1f} s")
    assert real / 2 <= estimated <= real * 2, (estimated, real)
    assert doctor_s < real  # the probe is a small part of the run
    # the disk it said the checkpoints need: the checkpoints the run wrote (all kept), within 10%
    (run_dir,) = out.iterdir()
    written = sum(f.stat().st_size for f in (run_dir / "checkpoints").glob("*.pt"))
    assert report["disk"]["checkpoints"] == len(list((run_dir / "checkpoints").glob("*.pt"))) == 10
    assert written * 0.9 <= report["disk"]["need_bytes"] <= written * 1.6  # plus the resume state
    assert report["estimate"]["epochs"] == 2 * (40 + 4 * 20)  # both phases, every rung
    assert report["ok"] and report["problems"] == [] and report["machine"]["device"] == "cpu"
    assert report["data"] == {"dataset": "digits", "path": "", "present": True, "checksums_verified": None,
                              "train": 1000, "val": 200, "test": 597}


def test_the_text_report_names_device_disk_and_time(tmp_path):
    result = doctor(*sets("prune.rungs=2", "train.epochs=2", "train.dense_epochs=2", f"run.out={tmp_path}"))
    assert result.exit_code == 0, (result.output, result.exception)
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["device", "torch", "data", "disk", "estimate"]
    assert "GB free in" in lines[3] and "keep_checkpoints = all" in lines[3]
    assert "measured by a" in lines[4]
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing in run.out


def test_a_paper_profile_without_data_is_exit_2_naming_the_fetch_command(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = doctor("cifar10-resnet18-noise10", *sets(f"data.path={empty}"), "--json")
    assert result.exit_code == 2, (result.output, result.exception)
    report = json.loads(result.stdout)
    assert report["estimated_seconds"] is None and not report["ok"]
    assert f"dsd-tui data fetch cifar10 --path {empty}" in report["problems"][0]
    assert result.stderr.count("\n") == 1 and "data fetch cifar10" in result.stderr
    result = doctor("mnist-lenet300-noise20")  # data.path empty: the profile itself does not load
    assert result.exit_code == 2 and "dsd-tui data fetch mnist --path DIR" in result.stderr
    assert result.stdout.startswith("device:")


def test_too_little_disk_is_exit_2_naming_the_fix(tmp_path, monkeypatch):
    """200 rungs of the quickstart MLP keep 402 checkpoints (about 0.6 GB) against a disk that reports 100 MB
    free (shutil.disk_usage answers for a small disk, as a nearly full one would); best-last keeps 6, which fit."""
    import collections
    import shutil

    free = 100 * 10**6
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - free, free))
    many = ["prune.rungs=200", "train.epochs=1", "train.dense_epochs=1", "data.train_size=128", "data.val_size=64",
            f"run.out={tmp_path / 'runs'}"]
    result = doctor(*sets(*many), "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 2, (result.output, result.exception)
    assert report["disk"]["free_bytes"] == free and report["disk"]["checkpoints"] == 402
    assert report["disk"]["need_bytes"] > free  # measured: a checkpoint of the probe's own model, times 402
    assert "keep_checkpoints=best-last" in report["problems"][0] and "0.10 GB free" in report["problems"][0]
    assert result.stderr.count("\n") == 1 and "keep_checkpoints=best-last" in result.stderr
    best_last = json.loads(doctor(*sets(*many, "run.keep_checkpoints=best-last"), "--json").stdout)
    assert best_last["disk"]["checkpoints"] == 6 and best_last["disk"]["need_bytes"] < free and best_last["ok"]
    assert not (tmp_path / "runs").exists()  # doctor writes nothing in run.out


def test_sweep_dry_run_prices_the_grid_with_the_probe_and_keeps_a_cheap_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    short = sets("prune.rungs=2", "train.epochs=3", "train.dense_epochs=5")
    result = CliRunner().invoke(main, ["sweep", "--dry-run", "--grid", "data.noise=0.2,0.4", "--seeds", "0,1", *short])
    assert result.exit_code == 0, (result.output, result.exception)
    (line,) = [x for x in result.output.splitlines() if x.startswith("measured:")]
    assert "probe of 1 setting(s)" in line and "s) of ladder time on cpu" in line
    seconds = float(line.split("(")[1].split(" s)")[0].replace(",", ""))
    one = json.loads(doctor(*short, "--json").stdout)["estimated_seconds"]
    assert 4 * one / 2 <= seconds <= 4 * one * 2  # four ladders of one setting, one after another
    wide = CliRunner().invoke(main, ["sweep", "--dry-run", "--grid", "model.hidden=[8],[16],[32],[64]", *short])
    assert wide.exit_code == 0, (wide.output, wide.exception)
    assert "measured: not probed (4 distinct model/data/batch settings > 3)" in wide.output
    assert list(tmp_path.iterdir()) == []


def test_a_run_prices_itself_from_its_first_epochs(finished_run, finished_run_output):
    """Headless: one `estimate:` line after the first two epochs, before any rung has finished; the
    monitor's header ETA from the same events at that point (it was empty until a rung ended)."""
    from dsd_tui.record.events import from_dict
    from dsd_tui.record.summary import SummaryBuilder
    from dsd_tui.tui import view

    # the shared short quickstart run (conftest.py), printed by `run --no-tui`
    prof = json.loads((finished_run / "summary.json").read_text())["profile"]
    dense, rungs, epochs = prof["train"]["dense_epochs"], prof["prune"]["rungs"], prof["train"]["epochs"]
    assert dense > 2 and prof["distill"]["enabled"]  # the first two epochs are the dense rung's; two phases
    lines = finished_run_output.splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.startswith("estimate: ")]
    assert "left (from this run's first epochs at" in lines[at]
    assert not any(line.startswith("teacher ") for line in lines[:at])  # no rung row yet
    b = SummaryBuilder()
    seen = 0
    for raw in (finished_run / "events.jsonl").read_text().splitlines():
        event = from_dict(json.loads(raw))
        b.consume(event)
        seen += event.type == "epoch_finished"
        if seen == 2:
            break
    eta = view.progress(b, now=b.started + 1.0).eta
    per_epoch = b.current.rung_seconds / 2
    left = (dense - 2) + rungs * epochs + dense + rungs * epochs  # the teacher's rest, then the whole student
    assert eta is not None and abs(eta - left * per_epoch) < 1e-9
