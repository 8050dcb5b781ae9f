"""A paper rehearsal: every bundled paper profile through the real CLI, on tiny files in the real
on-disk formats (CIFAR-10 and CIFAR-100 python pickles, a CIFAR-100N labels file pickled the numpy 1.x
way), shortened with --set only (sizes, epochs, rungs; the recipe itself untouched).

What runs, to stay near a minute and a half of CPU on a 2-core machine (ResNet-18 costs seconds per
rung even on 32 images: its checkpoints and resume states are 45-90 MB):
- end to end, both phases (teacher ladder, KD student with crop+flip, entropy over the conv layers'
  ReLUs) through the real CLI, in process (Click's runner): one profile per family that has its own data
  path or network, cifar100n-resnet18 (ResNet-18, CIFAR-100 files, the human labels) and
  cifar10-vgg-noise10 (VGG-like, CIFAR-10 files); the VGG one a second time through `python -m dsd_tui`,
  killed with SIGKILL mid-rung and resumed, ending with the same metrics as the uninterrupted run;
- one ResNet-18 profile per data set (noise 20%) and cifar100-vgg-noise10 up to the end of the first
  (dense) epoch and that rung's measurement, in process, through Click's runner;
- the other noise levels of the ResNet-18 profiles (they differ from their noise-20 sibling only in
  data.noise) resolved and loaded as a run would (profile, files, label noise, data block), not trained.
"""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import cifar100_train_labels, write_cifar, write_cifar100n_labels
from relhelp import cli, load_summary, metrics, run_dirs, sets, wait_for
from shared_runs import build_once

from dsd_tui.cli import main
from dsd_tui.core.data import CIFAR100_MEAN, CIFAR100_STD, CIFAR_MEAN
from dsd_tui.core.data_facts import data_facts
from dsd_tui.profile import bundled_names, bundled_text, parse_toml
from dsd_tui.profile import load as load_profile
from dsd_tui.runner import preflight

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

# The DSD² paper's setups (CIFAR); mnist-lenet300-noise20 is He et al.'s, rehearsed by tests/core/test_mnist.py.
PAPER = [n for n in bundled_names() if n.startswith("cifar")]
END_TO_END = ["cifar100n-resnet18", "cifar10-vgg-noise10"]
FIRST_EPOCH = ["cifar10-resnet18-noise20", "cifar100-resnet18-noise20", "cifar100-vgg-noise10"]
LOAD_ONLY = [n for n in PAPER if n not in END_TO_END + FIRST_EPOCH]
# Sizes and lengths only: 32 training / 8 validation / 16 test images, batch 16, one pruning rung.
SHORT = ("run.device=cpu", "run.threads=1", "data.val_size=8", "data.batch_size=16", "train.milestones=[1]",
         "train.epochs=1", "prune.rungs=1")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper-data")
    write_cifar(root, "cifar10", n_train=40, n_test=16, seed=1)
    write_cifar(root, "cifar100", n_train=40, n_test=16, seed=2)
    labels = root / "CIFAR-100_human.pt"
    write_cifar100n_labels(labels, cifar100_train_labels(root), noise=0.4, numpy1=True)
    return root, labels


def _overrides(name: str, files, *extra: str) -> list[str]:
    root, labels = files
    data = [f"data.path={root}"] + ([f"data.noisy_labels={labels}"] if "cifar100n" in name else [])
    return sets(*SHORT, *data, *extra)


def _recipe(name: str) -> dict:
    """The bundled profile as written (what the shortened run must not have changed)."""
    return parse_toml(bundled_text(name), name)


def _check_data_block(name: str, summary: dict) -> None:
    data, noise = summary["data"], _recipe(name)["data"]["noise"]
    assert (data["train"], data["val"], data["test"]) == (32, 8, 16)
    assert data["augment"] == "crop-flip" and data["checksums_verified"] is False and data["selection"] == "validation"
    if name.startswith("cifar100n"):
        assert data["noise_type"] == "human" and data["clean_labels_match"] is True
        assert data["normalization"] == {"mean": list(CIFAR100_MEAN), "std": list(CIFAR100_STD)}
        assert 0.1 < data["noise"]["train_rate"] < 0.7  # the file moved about 40% of the labels
    else:
        assert data["noise_type"] == "symmetric" and data["normalization"]["mean"] == list(CIFAR_MEAN)
        assert data["noise"]["train_rate"] == round(noise * 32) / 32
        assert data["noise"]["val_rate"] == round(noise * 8) / 8


def test_every_paper_profile_is_rehearsed():
    assert sorted(END_TO_END + FIRST_EPOCH + LOAD_ONLY) == sorted(PAPER) and len(PAPER) == 9
    assert all(_recipe(n)["model"]["arch"] == "resnet18" and "noise20" not in n for n in LOAD_ONLY)


@pytest.mark.parametrize("name", LOAD_ONLY)
def test_paper_profile_resolves_and_loads_its_data(name, files):
    prof = load_profile(name, _overrides(name, files)[1::2])
    data = preflight(prof)
    assert prof.train.lr == 0.1 and prof.model.arch == "resnet18" and prof.prune.retrain == "lr-rewind"
    _check_data_block(name, {"data": data_facts(data, prof.data, prof.distill.teacher)})


@pytest.mark.parametrize("name", FIRST_EPOCH)
def test_paper_profile_runs_its_first_epoch(name, files, tmp_path, keep_signal_handlers):
    result = CliRunner().invoke(main, ["run", name, "--no-tui", "--out", str(tmp_path),
                                       *_overrides(name, files, "train.dense_epochs=1", "prune.rungs=0",
                                                   "distill.enabled=false")])
    assert result.exit_code == 0, result.output
    summary = load_summary(Path(result.output.splitlines()[0]))
    assert summary["status"] == "completed"
    prof = summary["profile"]
    assert (prof["train"]["optimizer"], prof["train"]["lr"], prof["train"]["weight_decay"]) == ("sgd", 0.1, 1e-4)
    assert prof["model"]["arch"] == _recipe(name)["model"]["arch"]
    rung = summary["phases"][0]["rungs"][0]
    assert rung["epochs"] == 1 and rung["train_loss"] > 0 and len(rung["entropy"]) >= 10  # every conv ReLU
    _check_data_block(name, summary)


def _check_both_phases(name: str, summary: dict) -> None:
    assert summary["status"] == "completed"
    teacher, student = summary["phases"]
    assert [r["rung"] for r in teacher["rungs"]] == [0, 1] == [r["rung"] for r in student["rungs"]]
    assert student["teacher"]["source"] == "best" and student["teacher"]["student_init"] == "teacher"
    assert abs(student["rungs"][1]["sparsity"] - 0.2) < 1e-3
    conv_relus = {"cifar100n-resnet18": 17, "cifar10-vgg-noise10": 10}[name]
    for r in teacher["rungs"] + student["rungs"]:
        assert len(r["entropy"]) == conv_relus and all(0.0 <= h <= 1.0 for h in r["entropy"].values())
    _check_data_block(name, summary)


@pytest.fixture(scope="module")
def end_to_end(files, tmp_path_factory):
    """The END_TO_END runs, built once per test run (shared_runs.py), not once in each xdist worker that runs
    one of the tests below (half a minute of ResNet-18); read-only. In process: a fresh interpreter for each
    would add seconds of imports and guard nothing more (the killed run below is one)."""
    def build(out: Path) -> None:
        for name in END_TO_END:
            dense = "train.dense_epochs=2" if name == "cifar10-vgg-noise10" else "train.dense_epochs=1"  # 2: killed
            result = CliRunner().invoke(main, ["run", name, "--no-tui", "--out", str(out / name),
                                               *_overrides(name, files, dense)])
            assert result.exit_code == 0, result.output[-3000:]
    out = build_once(tmp_path_factory, "paper-end-to-end", build)
    return {name: run_dirs(out / name)[0] for name in END_TO_END}


@pytest.mark.parametrize("name", END_TO_END)
def test_paper_profile_end_to_end_both_phases(name, end_to_end):
    _check_both_phases(name, load_summary(end_to_end[name]))


def test_killed_mid_rung_and_resumed_gives_the_uninterrupted_metrics(files, end_to_end, tmp_path):
    name = "cifar10-vgg-noise10"
    out = tmp_path / "killed"
    proc = cli("run", name, "--no-tui", "--out", str(out), *_overrides(name, files, "train.dense_epochs=2"))
    run = wait_for(lambda: run_dirs(out) and run_dirs(out)[0], timeout=120)

    def first_epoch_done():
        try:
            lines = (run / "events.jsonl").read_text().splitlines()
        except FileNotFoundError:
            return False
        return any('"epoch_finished"' in ln and json.loads(ln)["epoch"] == 1 for ln in lines[:-1])

    wait_for(lambda: first_epoch_done() or proc.poll() is not None, timeout=180)
    assert proc.poll() is None, "the run ended before it could be killed mid-rung"
    proc.send_signal(signal.SIGKILL)  # in the teacher's 2-epoch dense rung, after its first epoch
    proc.wait()
    assert load_summary(run)["status"] == "running"
    resumed = CliRunner().invoke(main, ["resume", str(run), "--no-tui"])  # the state on disk is all it has
    assert resumed.exit_code == 0, resumed.output[-3000:]
    got = load_summary(run)
    _check_both_phases(name, got)
    assert metrics(got) == metrics(load_summary(end_to_end[name]))
