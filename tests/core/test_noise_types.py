"""data.noise_type: each scheme's defining property, on the labels load_data really hands the ladder."""
import pytest
import torch
from click.testing import CliRunner

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.core.data import load_data, symmetric_noise
from dsd_tui.core.label_noise import DIGIT_FLIPS


def bundle(noise_type: str, noise: float = 0.4, seed: int = 3):
    prof = profile_mod.load(None, [f"data.noise_type={noise_type}", f"data.noise={noise}", f"run.seed={seed}"])
    return load_data(prof.data, prof.run.seed)


def test_symmetric_default_is_unchanged():
    data = bundle("symmetric")
    gen = torch.Generator().manual_seed(3 + 1)
    noisy, idx = symmetric_noise(data.train.y_clean, 0.4, 10, gen)
    assert torch.equal(data.train.y, noisy)
    assert data.noise["train_rate"] == pytest.approx(0.4) and data.noise["noise_type"] == "symmetric"
    assert bool((data.train.y[idx] != data.train.y_clean[idx]).all())


def test_random_labels_draw_from_all_classes_so_some_keep_their_label():
    data = bundle("random-labels", 0.5)
    changed = data.train.y != data.train.y_clean
    n = len(data.train)
    # round(0.5·n) labels redrawn, about 1/10 of them landing on the true class again
    assert 0.5 * 0.9 * n * 0.85 < int(changed.sum()) < 0.5 * n
    assert data.noise["train_rate"] == pytest.approx(float(changed.float().mean()))
    assert data.noise["train_rate"] < 0.5 and data.noise["noise_type"] == "random-labels"
    # symmetric at the same ε changes exactly round(ε·n)
    assert bundle("symmetric", 0.5).noise["train_rate"] == pytest.approx(0.5)


def test_pairflip_moves_each_noisy_label_to_the_next_class():
    data = bundle("pairflip", 0.3)
    y, clean = data.train.y, data.train.y_clean
    changed = y != clean
    assert int(changed.sum()) == round(0.3 * len(y))
    assert torch.equal(y[changed], (clean[changed] + 1) % 10)
    assert data.noise["val_rate"] == pytest.approx(round(0.3 * len(data.val)) / len(data.val))


def test_asymmetric_flips_only_the_mapped_classes_to_their_targets():
    data = bundle("asymmetric", 0.4)
    y, clean = data.train.y, data.train.y_clean
    for c in range(10):
        members = clean == c
        flipped = members & (y != clean)
        if c in DIGIT_FLIPS:
            assert int(flipped.sum()) == round(0.4 * int(members.sum()))
            assert bool((y[flipped] == DIGIT_FLIPS[c]).all())
        else:
            assert not bool(flipped.any())
    share = sum(int((clean == c).sum()) for c in DIGIT_FLIPS) / len(y)
    assert data.noise["train_rate"] == pytest.approx(0.4 * share, abs=0.01)


def test_asymmetric_without_a_mapping_is_one_line_exit_2(tmp_path):
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path), "--set", "data.dataset=cifar100",
                                       "--set", "data.path=/nowhere", "--set", "data.noise_type=asymmetric"])
    assert result.exit_code == 2
    assert "data.noise_type = 'asymmetric' has no class mapping for cifar100" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not any(tmp_path.iterdir())
