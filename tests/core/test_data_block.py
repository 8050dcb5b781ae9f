"""The run records its data facts: the `data` block of summary.json (and of `export`, the same fold)."""
import json
from pathlib import Path

from click.testing import CliRunner
from conftest import write_cifar

from dsd_tui.cli import main
from dsd_tui.core.data import CIFAR_MEAN, CIFAR_STD

TINY = ("prune.rungs=0", "train.dense_epochs=1", "model.hidden=[32]", "distill.enabled=false")


def _run(tmp_path, *extra):
    sets = [a for o in TINY + extra for a in ("--set", o)]
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path / "runs"), *sets])
    assert result.exit_code == 0, result.output
    run = Path(result.output.splitlines()[0])
    return run, json.loads((run / "summary.json").read_text())


def test_quickstart_summary_records_splits_and_realised_noise(finished_run):
    run = finished_run  # the shared run of the quickstart profile, its data settings untouched (conftest.py)
    summary = json.loads((run / "summary.json").read_text())
    data = summary["data"]
    fingerprint = data.pop("fingerprint")  # the loaded data's hash (record/run_identity.py), checked on resume
    assert fingerprint.startswith("blake2b:") and len(fingerprint) == len("blake2b:") + 32
    assert data == {"dataset": "digits", "train": 1000, "val": 200, "test": 597, "noise_type": "symmetric",
                    "noise": {"requested": 0.4, "train_rate": 0.4, "val_rate": 0.4}, "normalization": None,
                    "augment": "none", "checksums_verified": None, "selection": "validation"}
    exported = json.loads(CliRunner().invoke(main, ["export", str(run)]).output)
    assert exported["data"] == {**data, "fingerprint": fingerprint}


def test_cifar_summary_records_normalisation_and_checksums(tmp_path, keep_signal_handlers):
    root = write_cifar(tmp_path / "cifar", "cifar10", n_train=60, n_test=20)
    _, summary = _run(tmp_path, "data.dataset=cifar10", f"data.path={root}", "data.val_size=10", "data.train_size=0",
                      "data.noise=0.2", "model.arch=vgg", "model.depth=1", "model.width_exp=2", "entropy.enabled=false")
    data = summary["data"]
    assert (data["dataset"], data["train"], data["val"], data["test"]) == ("cifar10", 50, 10, 20)
    assert data["noise"]["train_rate"] == 0.2 and data["noise"]["val_rate"] == 0.2
    assert data["normalization"] == {"mean": list(CIFAR_MEAN), "std": list(CIFAR_STD)}
    assert data["checksums_verified"] is False and data["augment"] == "crop-flip"
