"""Profiles: defaults, validation with one-line errors, --set overrides and the resolved round trip."""
import pytest

from dsd_tui import profile as P


def test_quickstart_is_the_default_and_matches_the_embedded_recipe():
    p = P.load(None)
    assert (p.data.dataset, p.data.noise, p.data.train_size, p.data.val_size) == ("digits", 0.4, 1000, 200)
    assert (p.model.arch, p.model.hidden, p.train.optimizer, p.train.lr) == ("mlp", [512, 512], "adam", 1e-3)
    assert (p.train.dense_epochs, p.train.epochs, p.prune.rungs, p.prune.rate) == (100, 30, 34, 0.2)
    assert (p.distill.temperature, p.distill.alpha, p.distill.teacher) == (10.0, 0.8, "best")


@pytest.mark.parametrize("name", P.bundled_names())
def test_every_bundled_profile_loads_with_a_data_path(name):
    p = P.load(name, ["data.path=/data", "data.noisy_labels=/data/CIFAR-100_human.pt"])
    assert p.description
    if p.data.dataset.startswith("cifar"):  # the DSD² paper's recipe (mnist: He et al.'s, tests/core/test_mnist.py)
        assert (p.train.optimizer, p.train.lr, p.train.epochs, p.train.milestones) == ("sgd", 0.1, 160, [80, 120])
        assert (p.train.momentum, p.train.weight_decay, p.data.batch_size) == (0.9, 1e-4, 128)


def test_profile_is_immutable():
    p = P.load(None)
    with pytest.raises(Exception):
        p.train.lr = 1.0


@pytest.mark.parametrize("override, fragment", [
    ("data.noise=1.0", "data.noise = 1.0: must be in [0.0, 1.0)"),
    ("prune.rate=0", "prune.rate = 0.0: must be in (0.0, 1.0)"),
    ("train.epochs=-1", "train.epochs = -1: must be in [0"),
    ("train.epochs=abc", "train.epochs: expected an integer, got str"),
    ("train.milestones=[10,50]", "milestone 50 is beyond the 30 epochs"),
    ("train.bogus=1", "train.bogus: unknown key; [train] takes optimizer"),
    ("nosuch.key=1", "unknown section 'nosuch'"),
    ("model.arch=resnet50", "must be one of lenet300, mlp, resnet18, vgg"),
    ("trainepochs=3", "the key must be section.key"),
    ("train.epochs", "expected section.key=value"),
])
def test_bad_overrides_give_one_line_naming_the_key(override, fragment):
    with pytest.raises(P.ProfileError) as err:
        P.load(None, [override])
    msg = str(err.value)
    assert fragment in msg and "\n" not in msg


def test_set_values_are_read_as_toml_or_bare_strings():
    p = P.load(None, ["train.milestones=[5, 10]", "data.dataset=synthetic", "distill.enabled=false",
                      "train.lr=0.05"])
    assert p.train.milestones == [5, 10] and p.data.dataset == "synthetic"
    assert p.distill.enabled is False and p.train.lr == 0.05


def test_bad_file_errors_name_the_file(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("[train]\nepochs = 'ten'\n")
    with pytest.raises(P.ProfileError, match=r"p.toml: train.epochs: expected an integer"):
        P.load(str(f))
    f.write_text("[train\n")
    with pytest.raises(P.ProfileError, match=r"p.toml: not valid TOML"):
        P.load(str(f))
    with pytest.raises(P.ProfileError, match="no bundled profile of that name"):
        P.load("no-such-profile")


def test_resolved_profile_round_trips(tmp_path):
    p = P.load(None, ["train.epochs=7", "stop.action=stop"])
    f = tmp_path / "resolved.toml"
    f.write_text(p.to_toml())
    assert P.load(str(f)) == p
    text = f.read_text()
    assert "[entropy]" in text and "state_every" in text  # every default filled in


def test_every_key_has_help():
    rows = P.describe_keys()
    assert len(rows) > 40 and all(help_ for _k, _d, help_ in rows)


def test_profile_docs_are_generated_from_the_declarations():
    import subprocess
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parents[2] / "scripts" / "gen_profile_docs.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_profile_docs_table_rows_are_one_line_each():
    """A list default once rendered over several lines and broke the markdown table."""
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "profiles.md").read_text()
    table = [line for line in doc.splitlines() if line.startswith("| `")]
    assert len(table) == len(P.describe_keys())
    assert all(line.endswith(" |") and line.count(" | ") >= 2 for line in table)
    assert "| `stop.criteria` | `[\"early-stop\"," in doc
