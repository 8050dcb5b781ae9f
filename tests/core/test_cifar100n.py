"""CIFAR-100N as it ships: the human-labels file pickled under numpy 1.x loads (and still runs no code),
its clean labels must be the CIFAR-100 training labels on disk, and its images are normalised with
CIFAR-100's own statistics, as the authors do."""
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import cifar100_train_labels, write_cifar, write_cifar100n_labels

from dsd_tui.cli import main
from dsd_tui.core.data import CIFAR100_MEAN, CIFAR100_STD, CIFAR_MEAN, Batcher, DataError, load_data
from dsd_tui.profile import DataSection


@pytest.fixture(scope="module")
def cifar100(tmp_path_factory):
    return write_cifar(tmp_path_factory.mktemp("data"), "cifar100", n_train=1000, n_test=10)


def _cfg(root, labels, **kw):
    return DataSection(dataset="cifar100n", path=str(root), noisy_labels=str(labels), val_size=100, train_size=0,
                       noise=0.0, **kw)


@pytest.mark.parametrize("numpy1", [True, False], ids=["numpy1-pickle", "numpy2-pickle"])
def test_the_labels_file_loads_as_pickled_by_numpy_1_and_2(cifar100, tmp_path, numpy1):
    labels = tmp_path / "CIFAR-100_human.pt"
    noisy = write_cifar100n_labels(labels, cifar100_train_labels(cifar100), noise=0.4, numpy1=numpy1)
    data = load_data(_cfg(cifar100, labels), 0)
    assert (len(data.train), len(data.val)) == (900, 100)
    clean = cifar100_train_labels(cifar100)
    assert data.noise["train_rate"] == pytest.approx(float((noisy != clean).mean()), abs=0.05)
    assert 0.35 < data.noise["train_rate"] < 0.45 and 0.3 < data.noise["val_rate"] < 0.5  # CIFAR-100N: 40.2%
    # the training labels are the file's noisy ones, the clean ones kept for the clean metrics
    both = torch.cat([data.train.y, data.val.y]).sort().values
    assert torch.equal(both, torch.from_numpy(noisy).sort().values)


def test_a_labels_file_carrying_code_is_refused_without_running_it(cifar100, tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    labels = tmp_path / "CIFAR-100_human.pt"
    torch.save({"clean_label": cifar100_train_labels(cifar100), "noisy_label": Payload()}, labels,
               pickle_module=pickle)
    with pytest.raises(DataError, match="cannot be read safely"):
        load_data(_cfg(cifar100, labels), 0)
    assert not marker.exists()


def test_clean_labels_that_are_not_the_cifar100_on_disk_exit_2_naming_both_files(cifar100, tmp_path):
    clean = cifar100_train_labels(cifar100)
    wrong = clean.copy()
    wrong[:7] = (wrong[:7] + 1) % 100
    labels = tmp_path / "CIFAR-100_human.pt"
    write_cifar100n_labels(labels, wrong)
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["run", "cifar100n-resnet18", "--no-tui", "--out", str(out),
                                       "--set", f"data.path={cifar100}", "--set", f"data.noisy_labels={labels}"])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert str(labels) in lines[0] and str(Path(cifar100) / "cifar-100-python" / "train") in lines[0]
    assert "clean_label differs" in lines[0] and "7 of 1000" in lines[0]
    assert not out.exists() or not any(out.iterdir())


def test_cifar100n_is_normalised_with_cifar100_statistics(cifar100, tmp_path):
    labels = tmp_path / "CIFAR-100_human.pt"
    write_cifar100n_labels(labels, cifar100_train_labels(cifar100))
    n = load_data(_cfg(cifar100, labels), 0)
    c = load_data(DataSection(dataset="cifar100", path=str(cifar100), val_size=100, train_size=0), 0)
    assert (n.mean, n.std) == (CIFAR100_MEAN, CIFAR100_STD) and c.mean == CIFAR_MEAN
    x = n.train.x[:4]
    got = Batcher(n, "cpu").prepare(x)
    mean, std = torch.tensor(CIFAR100_MEAN).view(1, 3, 1, 1), torch.tensor(CIFAR100_STD).view(1, 3, 1, 1)
    want = (x.float() / 255 - mean) / std
    assert torch.allclose(got, want, atol=1e-4)
    assert not torch.allclose(Batcher(c, "cpu").prepare(x), want, atol=1e-2)
    assert json.dumps(list(n.mean))  # plain floats: they go into summary.json
    assert np.isfinite(got.numpy()).all()
