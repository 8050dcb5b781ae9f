"""MNIST and Fashion-MNIST from small files in the real idx format, read through torchvision's own classes; the
lenet300 model; the bundled He et al. profile run (shortened) on those files; missing files as one line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision
from click.testing import CliRunner
from fake_files import write_mnist

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.core.data import load_data
from dsd_tui.core.mnist_files import FILES
from dsd_tui.core.models import build_model
from dsd_tui.core.pruning import prunable_parameters


@pytest.fixture
def mnist_dir(tmp_path):
    return write_mnist(tmp_path / "data")


def profile(path: Path, *extra: str):
    return profile_mod.load("mnist-lenet300-noise20", [f"data.path={path}", "data.val_size=50", *extra])


@pytest.mark.parametrize("dataset, folder, cls, mean, std", [
    ("mnist", "MNIST", torchvision.datasets.MNIST, 0.1307, 0.3081),
    ("fashion-mnist", "FashionMNIST", torchvision.datasets.FashionMNIST, 0.2860, 0.3530),
])
def test_load_data_gives_torchvisions_images_normalised(tmp_path, dataset, folder, cls, mean, std):
    root = write_mnist(tmp_path / "data", folder)
    data = load_data(profile(root, f"data.dataset={dataset}", "data.noise=0.0").data, 0)
    ref_train = cls(str(root), train=True, download=False)
    ref_test = cls(str(root), train=False, download=False)
    assert data.input_shape == (784,) and not data.images and not data.augment
    assert len(data.train) + len(data.val) == 400 and len(data.test) == 100
    expected = ((ref_test.data.reshape(100, -1).float() / 255) - mean) / std
    assert torch.equal(data.test.x, expected) and torch.equal(data.test.y, ref_test.targets)
    # every training sample is one of torchvision's, with its label (the split only reorders)
    flat = ((ref_train.data.reshape(400, -1).float() / 255) - mean) / std
    both = torch.cat([data.train.x, data.val.x])
    order = [int((flat == row).all(1).nonzero()[0]) for row in both[:20]]
    assert torch.equal(torch.cat([data.train.y_clean, data.val.y_clean])[:20], ref_train.targets[order])


def test_lenet300_is_784_300_100_10_with_kaiming_init():
    torch.manual_seed(0)
    model = build_model("lenet300", None, (784,), 10)
    shapes = [tuple(p.shape) for p in prunable_parameters(model).values()]
    assert shapes == [(300, 784), (100, 300), (10, 100)]
    std = model.features[0].weight.std().item()
    assert abs(std - (2 / 784) ** 0.5) < 0.002  # kaiming_normal_ (fan_in, ReLU gain), not torch's uniform default


def test_bundled_profile_is_he_et_al_recipe():
    p = profile_mod.load("mnist-lenet300-noise20", ["data.path=/x"])
    assert (p.data.dataset, p.model.arch, p.data.noise, p.data.batch_size) == ("mnist", "lenet300", 0.2, 128)
    assert (p.train.optimizer, p.train.lr, p.train.momentum, p.train.weight_decay) == ("sgd", 0.1, 0.0, 0.0)
    assert (p.train.epochs, p.train.dense_epochs, p.train.milestones) == (160, 160, [])
    assert p.prune.output_layer is False and p.prune.criterion == "magnitude"


def test_mnist_profile_runs_on_real_format_files(mnist_dir, tmp_path):
    args = ["run", "mnist-lenet300-noise20", "--no-tui", "--out", str(tmp_path / "runs")]
    for item in (f"data.path={mnist_dir}", "data.val_size=50", "prune.rungs=2", "train.dense_epochs=2",
                 "train.epochs=1", "distill.enabled=false"):
        args += ["--set", item]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    run = Path(result.output.splitlines()[0])
    summary = json.loads((run / "summary.json").read_text())
    rungs = summary["phases"][0]["rungs"]
    assert [r["rung"] for r in rungs] == [0, 1, 2]
    assert rungs[0]["test_acc"] > 0.3  # it learns the strokes
    ck = torch.load(run / "checkpoints" / "teacher-rung02.pt", weights_only=True)
    assert bool(ck["masks"]["classifier.weight"].all())  # the output layer stays dense
    hidden = torch.cat([m.flatten() for n, m in ck["masks"].items() if n != "classifier.weight"]).float()
    assert abs(1 - hidden.mean().item() - 0.36) < 1e-4  # two global 20% cuts of the other layers
    log = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert any(e["type"] == "log" and "random-labels" in e["message"] for e in log)


@pytest.mark.parametrize("dataset, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_missing_idx_file_is_one_line_naming_the_expected_files(tmp_path, dataset, folder):
    root = write_mnist(tmp_path / "data", folder)
    (root / folder / "raw" / "t10k-labels-idx1-ubyte").unlink()
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["run", "mnist-lenet300-noise20", "--no-tui", "--out", str(out),
                                       "--set", f"data.path={root}", "--set", f"data.dataset={dataset}"])
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert f"{folder}/raw/{{t10k-labels-idx1-ubyte}}" in line
    assert f"get them with `dsd-tui data fetch {dataset} --path {root}`" in line
    assert not out.exists() or not any(out.iterdir())


def test_empty_folder_names_all_four_files(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["run", "mnist-lenet300-noise20", "--no-tui", "--out", str(tmp_path / "r"),
                                       "--set", f"data.path={tmp_path / 'empty'}"])
    assert result.exit_code == 2 and "MNIST/raw/{" + ",".join(FILES) + "}" in result.output


def test_truncated_file_is_one_line(mnist_dir, tmp_path):
    f = mnist_dir / "MNIST" / "raw" / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:1000])
    result = CliRunner().invoke(main, ["run", "mnist-lenet300-noise20", "--no-tui", "--out", str(tmp_path / "r"),
                                       "--set", f"data.path={mnist_dir}"])
    assert result.exit_code == 2 and "cannot be read" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_resnet_on_mnist_is_refused(tmp_path):
    result = CliRunner().invoke(main, ["run", "mnist-lenet300-noise20", "--no-tui", "--out", str(tmp_path),
                                       "--set", "data.path=/x", "--set", "model.arch=resnet18"])
    assert result.exit_code == 2 and "needs 3×32×32 images" in result.output
