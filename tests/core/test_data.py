"""Datasets, label noise, splits and on-device augmentation, on real (small) data."""
import pickle

import pytest
import torch
from conftest import write_cifar

from dsd_tui.core.data import DataError, load_data, random_crop_flip, symmetric_noise
from dsd_tui.profile import DataSection


def test_symmetric_noise_always_moves_to_another_class_at_the_requested_rate():
    y = torch.arange(1000) % 10
    noisy, idx = symmetric_noise(y, 0.4, 10, torch.Generator().manual_seed(0))
    assert len(idx) == 400
    assert bool((noisy[idx] != y[idx]).all())
    untouched = torch.ones(1000, dtype=torch.bool)
    untouched[idx] = False
    assert torch.equal(noisy[untouched], y[untouched])
    assert set(noisy[idx].tolist()) == set(range(10))  # every class is a possible target


def test_digits_split_sizes_noise_and_seeding():
    cfg = DataSection()
    a, b, c = load_data(cfg, 0), load_data(cfg, 0), load_data(cfg, 1)
    assert (len(a.train), len(a.val), len(a.test)) == (1000, 200, 597)
    assert a.noise["train_rate"] == 0.4 and a.noise["val_rate"] == 0.4
    assert bool((a.test.y == a.test.y_clean).all())  # the test set stays clean
    assert torch.equal(a.train.y, b.train.y) and not torch.equal(a.train.y, c.train.y)
    noisy = torch.tensor(a.noise["train_noisy_indices"])
    assert bool((a.train.y[noisy] != a.train.y_clean[noisy]).all())


def test_cifar10_real_layout_loads_with_held_out_validation(tmp_path):
    root = write_cifar(tmp_path, "cifar10", n_train=100, n_test=30)
    cfg = DataSection(dataset="cifar10", path=str(root), val_size=20, train_size=0, noise=0.2)
    data = load_data(cfg, 0)
    assert (len(data.train), len(data.val), len(data.test)) == (80, 20, 30)
    assert data.train.x.dtype == torch.uint8 and data.train.x.shape[1:] == (3, 32, 32)
    assert data.augment and data.num_classes == 10
    assert data.noise["checksums_verified"] is False  # test files are not the official ones
    with open(root / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        first = pickle.load(f)
    # the stored pixels are the file's (HWC → CHW), not a re-encoding
    all_x = torch.cat([data.train.x, data.val.x])
    img = torch.from_numpy(first["data"][0].reshape(3, 32, 32))
    assert any(torch.equal(img, row) for row in all_x)


def test_cifar100_other_dataset_is_a_clear_error(tmp_path):
    root = write_cifar(tmp_path, "cifar10")
    with pytest.raises(DataError, match="cifar-100-python.*other CIFAR"):
        load_data(DataSection(dataset="cifar100", path=str(root), val_size=10, train_size=0), 0)


def test_truncated_cifar_file_is_a_clear_error(tmp_path):
    root = write_cifar(tmp_path, "cifar100", n_train=50, n_test=10)
    f = root / "cifar-100-python" / "train"
    f.write_bytes(f.read_bytes()[:200])
    with pytest.raises(DataError, match="truncated"):
        load_data(DataSection(dataset="cifar100", path=str(root), val_size=10, train_size=0), 0)


def test_cifar100n_labels_replace_the_training_labels(tmp_path):
    import numpy as np
    root = write_cifar(tmp_path, "cifar100", n_train=50, n_test=10)
    with open(root / "cifar-100-python" / "train", "rb") as f:
        clean = np.array(pickle.load(f)["fine_labels"])
    human = clean.copy()
    human[:10] = (human[:10] + 1) % 100
    torch.save({"noisy_label": human, "clean_label": clean}, tmp_path / "CIFAR-100_human.pt")
    cfg = DataSection(dataset="cifar100n", path=str(root), noisy_labels=str(tmp_path / "CIFAR-100_human.pt"),
                      val_size=10, train_size=0, noise=0.0)
    data = load_data(cfg, 0)
    changed = len(data.noise["train_noisy_indices"]) + len(data.noise["val_noisy_indices"])
    assert changed == 10 and data.noise["human_noisy_labels"]


def test_random_crop_flip_shapes_padding_and_flip():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32) + 1
    gen = torch.Generator().manual_seed(0)
    outs = [random_crop_flip(x, gen) for _ in range(200)]
    assert all(o.shape == x.shape for o in outs)
    assert any(bool((o == 0).any()) for o in outs)  # zero padding shows at the borders
    assert any(torch.equal(o[0], x[0].flip(-1)) for o in outs)  # centred crop, flipped
    assert any(torch.equal(o[0], x[0]) for o in outs)  # centred crop, not flipped
    centre = outs[0][0]
    assert set(torch.unique(centre).tolist()) <= set(torch.unique(x[0]).tolist()) | {0.0}


def test_synthetic_dataset_is_cifar_shaped():
    data = load_data(DataSection(dataset="synthetic", synthetic_size=64, val_size=16), 0)
    assert data.train.x.shape == (64, 3, 32, 32) and data.images


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_cifar_reader_gives_what_torchvision_loader_gives(tmp_path, dataset):
    """Our restricted unpickler must read the files exactly as torchvision's CIFAR dataset does."""
    import torchvision

    from dsd_tui.core.cifar_files import CIFAR10_LAYOUT, CIFAR100_LAYOUT, CifarFiles

    root = write_cifar(tmp_path, dataset, n_train=50, n_test=10)
    base = torchvision.datasets.CIFAR10 if dataset == "cifar10" else torchvision.datasets.CIFAR100

    class Unchecked(base):  # the test files are not the official ones, so skip only the md5 check
        def _check_integrity(self):
            return True

        def _load_meta(self):
            self.classes = []

    for train in (True, False):
        layout = CIFAR10_LAYOUT if dataset == "cifar10" else CIFAR100_LAYOUT
        ours_x, ours_y, verified = CifarFiles(dataset, str(root), layout).load(train=train)
        tv = Unchecked(str(root), train=train, download=False)
        assert torch.equal(ours_x, torch.from_numpy(tv.data).permute(0, 3, 1, 2))
        assert ours_y.tolist() == list(tv.targets)
        assert verified is False
