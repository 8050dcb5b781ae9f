"""The architecture and data set registries (core/archs/, core/datasets/): the bundled names, the
profile checks driven by the entries' declarations, and networks and data sets plugged in from Python
and from an installed package's entry points, run through a real ladder or refused in one line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from fake_files import write_dist

import dsd_tui
from dsd_tui import profile as P
from dsd_tui.cli import main
from dsd_tui.core.archs import ARCHITECTURES, Architecture
from dsd_tui.core.data import load_data
from dsd_tui.core.datasets import DATASETS, Dataset
from dsd_tui.core.models import build_model
from dsd_tui.registry import BUNDLED, PYTHON, PluginError
from dsd_tui.runner import preflight

TINY = ["prune.rungs=2", "train.dense_epochs=1", "train.epochs=1", "data.val_size=40", "data.train_size=200"]


def sets(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


# ---------------------------------------------------------------- plugin-contract objects used below

class TinyConv(torch.nn.Module):
    """A conv net for the digits as 1×8×8 images, every ReLU its own module (the entropy hooks' rule)."""

    def __init__(self, num_classes: int, input_shape: tuple):
        super().__init__()
        c, h, w = input_shape
        self.conv = torch.nn.Conv2d(c, 4, 3, padding=1)
        self.act = torch.nn.ReLU()
        self.hidden = torch.nn.Linear(4 * h * w, 16)
        self.act2 = torch.nn.ReLU()
        self.out = torch.nn.Linear(16, num_classes)

    def forward(self, x):
        return self.out(self.act2(self.hidden(self.act(self.conv(x)).flatten(1))))


def digits_images(path, seed):
    """The digits as 1×8×8 float images, the last 297 the test set."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target, dtype=torch.int64)
    return {"train": (x[:1500], y[:1500]), "test": (x[1500:], y[1500:]), "num_classes": 10}


@pytest.fixture
def registered():
    """Register from Python, as `dsd_tui.register_model` does; unregister afterwards."""
    names = []

    def add(registry, name, value):
        registry.register(name, value, origin=PYTHON)
        names.append((registry, name))

    yield add
    for registry, name in names:
        registry.unregister(name)


# ---------------------------------------------------------------- bundled entries

def test_bundled_names_come_from_one_module_each():
    assert ARCHITECTURES.bundled_names() == ["lenet300", "mlp", "resnet18", "vgg"]
    assert DATASETS.bundled_names() == ["cifar10", "cifar100", "cifar100n", "digits", "fashion-mnist", "mnist",
                                        "synthetic"]
    for name in ARCHITECTURES.bundled_names():
        assert isinstance(ARCHITECTURES.get(name), Architecture) and ARCHITECTURES.origin(name) == BUNDLED
    for name in DATASETS.bundled_names():
        assert isinstance(DATASETS.get(name), Dataset)
    # the image-only networks say so themselves; the profile refuses them on 28×28 grey data from that
    assert [n for n in ARCHITECTURES.bundled_names() if ARCHITECTURES.get(n).needs_images] == ["resnet18", "vgg"]


def test_reading_the_registries_and_checking_a_profile_does_not_import_torch():
    code = ("import sys; from dsd_tui import profile as P; p = P.load(None, ['model.arch=vgg', "
            "'data.dataset=synthetic']); print(p.model.arch, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["vgg", "False"], out.stderr


def test_unknown_names_list_every_registered_name(registered):
    registered(ARCHITECTURES, "tinyconv-py", lambda n, s: TinyConv(n, s))
    with pytest.raises(P.ProfileError) as err:
        P.load(None, ["model.arch=resnet50"])
    assert "must be one of lenet300, mlp, resnet18, vgg, tinyconv-py" in str(err.value)
    with pytest.raises(P.ProfileError, match="distill.arch = .*must be \"\" \\(same as model.arch\\) or one of"):
        P.load(None, ["distill.arch=nope"])
    with pytest.raises(P.ProfileError, match="must be one of cifar10, .*, synthetic"):
        P.load(None, ["data.dataset=imagenet"])


def test_cross_checks_follow_the_entries_declarations():
    """A bundled-level entry with needs_images / path_help / asymmetric_map drives the same checks as the
    bundled ones: no list of names in profile.py."""
    ARCHITECTURES.register("test-imagenet", Architecture("test-imagenet", lambda c, s, n: None, needs_images=True))
    DATASETS.register("test-grey", Dataset("test-grey", lambda c, s: None, image_note="5×5 grey",
                                           path_help="the folder holding GREY/", asymmetric_map={0: 1}))
    try:
        with pytest.raises(P.ProfileError, match="data.path is empty: dataset test-grey needs the folder holding "
                                                 "GREY/"):
            P.load(None, ["data.dataset=test-grey"])
        with pytest.raises(P.ProfileError, match="model.arch = 'test-imagenet' needs 3×32×32 images; test-grey is "
                                                 "5×5 grey: use lenet300 or mlp"):
            P.load(None, ["data.dataset=test-grey", "data.path=/x", "model.arch=test-imagenet"])
        p = P.load(None, ["data.dataset=test-grey", "data.path=/x", "data.noise_type=asymmetric"])
        assert p.data.noise_type == "asymmetric"
        assert "test-grey" in P.asymmetric_datasets()
    finally:
        ARCHITECTURES._entries.pop("test-imagenet")
        DATASETS._entries.pop("test-grey")
    with pytest.raises(P.ProfileError, match="no class mapping for cifar100; use it with cifar10, digits, mnist, "
                                             "synthetic,"):
        P.load(None, ["data.dataset=cifar100", "data.path=/x", "data.noise_type=asymmetric"])


def test_build_model_goes_through_the_registry():
    from dsd_tui.core.models import MLP

    model = build_model("lenet300", P.Profile().model, (64,), 10)
    assert isinstance(model, MLP) and [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)] \
        == [300, 100, 10]


# ---------------------------------------------------------------- plugged in from Python, through a real ladder

def test_a_python_registered_network_and_data_set_run_a_real_ladder(tmp_path, registered):
    dsd_tui.register_model("tinyconv-py", lambda num_classes, input_shape: TinyConv(num_classes, input_shape))
    dsd_tui.register_dataset("digits-images-py", digits_images)
    try:
        summary = dsd_tui.run(None, [*TINY, "model.arch=tinyconv-py", "data.dataset=digits-images-py",
                                     "data.noise=0.2"], out=tmp_path)
    finally:
        ARCHITECTURES.unregister("tinyconv-py")
        DATASETS.unregister("digits-images-py")
    assert summary["status"] == "completed"
    data = summary["data"]
    # dsd_tui carved the validation split out of the loader's 1,500 training images, kept 200 of the rest,
    # added the label noise and kept the loader's 297 test images clean
    assert (data["dataset"], data["train"], data["val"], data["test"]) == ("digits-images-py", 200, 40, 297)
    assert data["noise"]["requested"] == 0.2 and data["noise"]["train_rate"] == pytest.approx(0.2, abs=0.01)
    assert data["augment"] == "none" and data["normalization"] is None
    run_dir = Path(summary["run_dir"])
    ck = torch.load(run_dir / "checkpoints" / "teacher-rung02.pt", weights_only=False)
    # prunable = its Conv2d and Linear weights; entropy hooks on its two nn.ReLU modules
    assert sorted(ck["masks"]) == ["conv.weight", "hidden.weight", "out.weight"]
    kept = sum(int(m.sum()) for m in ck["masks"].values())
    total = sum(m.numel() for m in ck["masks"].values())
    assert kept / total == pytest.approx(0.8 ** 2, abs=0.01)
    rung = summary["phases"][0]["rungs"][-1]
    assert sorted(rung["entropy"]) == ["act", "act2"]
    # its MACs (issue 23): the conv's kept weights at each of its 8×8 output positions (3×3, padding 1), the
    # Linears' once per sample
    m = ck["masks"]
    assert rung["macs"] == int(m["conv.weight"].sum()) * 64 + int(m["hidden.weight"].sum()) + int(m["out.weight"].sum())
    assert rung["dense_macs"] == 4 * 9 * 64 + 4 * 64 * 16 + 16 * 10
    # its checkpoint as the teacher of a process where that network is not registered: one line
    out = tmp_path / "again"
    teacher = run_dir / "checkpoints" / "teacher-rung02.pt"
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(out),
                                       *sets(*TINY, f"distill.teacher={teacher}")])
    _one_line_exit_2(result, "distill.teacher = ", "its architecture: no architecture named 'tinyconv-py' is "
                                                   "registered")
    assert not out.exists()


def test_the_preflight_check_of_a_plugin_network_leaves_the_global_rng_alone(registered):
    registered(ARCHITECTURES, "tinyconv-rng", lambda n, s: TinyConv(n, s))
    registered(DATASETS, "digits-images-rng", digits_images)
    prof = P.load(None, ["model.arch=tinyconv-rng", "data.dataset=digits-images-rng"])
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    preflight(prof)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_asymmetric_noise_is_refused_for_a_plugin_data_set_at_profile_time(registered):
    registered(DATASETS, "digits-images-asym", digits_images)
    with pytest.raises(P.ProfileError, match="'asymmetric' has no class mapping for digits-images-asym"):
        P.load(None, ["data.dataset=digits-images-asym", "data.noise_type=asymmetric"])


# ---------------------------------------------------------------- broken plugins: one line, exit 2, nothing written

class NoLayers(torch.nn.Module):
    def forward(self, x):
        return torch.zeros(x.shape[0], 10)


def _raises(n, s):
    raise KeyError("no such width")


BROKEN_MODELS = {
    "raises": (_raises, "factory(10, (1, 8, 8)) raised KeyError"),
    "not-module": (lambda n, s: "a string", "returned str, not a torch.nn.Module"),
    "no-layers": (lambda n, s: NoLayers(), "returned a model with no Linear or Conv2d layer to prune"),
    "wrong-logits": (lambda n, s: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, n + 1)),
                     "gives outputs (2, 11) for a batch of 2 inputs of shape (1, 8, 8); expected logits of shape "
                     "(2, 10)"),
    "bad-forward": (lambda n, s: torch.nn.Linear(3, n), "its forward pass on a zero batch of shape (2, 1, 8, 8) "
                                                        "raised RuntimeError"),
}


def _data(x_train=None, y_train=None, x_test=None, classes=10):
    x = torch.zeros(30, 1, 8, 8)
    y = torch.arange(30, dtype=torch.int64) % 10
    return {"train": (x if x_train is None else x_train, y if y_train is None else y_train),
            "test": (x[:10] if x_test is None else x_test, y[:10]), "num_classes": classes}


BROKEN_DATA = {
    "raises": (lambda path, seed: 1 / 0, "loader(None, 0) raised ZeroDivisionError"),
    "not-dict": (lambda path, seed: [1, 2], "returned list; expected a dict"),
    "no-test": (lambda path, seed: {"train": _data()["train"], "num_classes": 10}, "without 'test'"),
    "int-x": (lambda path, seed: _data(x_train=torch.zeros(30, 64, dtype=torch.uint8)),
              "train x is a torch.uint8 tensor of shape (30, 64); expected float samples"),
    "float-y": (lambda path, seed: _data(y_train=torch.zeros(30)), "train y is a torch.float32 tensor"),
    "short-y": (lambda path, seed: _data(y_train=torch.zeros(29, dtype=torch.int64)),
                "of shape (29,) for 30 samples"),
    "labels": (lambda path, seed: _data(y_train=torch.full((30,), 10, dtype=torch.int64)),
               "train labels span 10..10; expected 0..9"),
    "shapes": (lambda path, seed: _data(x_test=torch.zeros(10, 64)),
               "train samples have shape (1, 8, 8) but test samples (64,)"),
    "classes": (lambda path, seed: _data(classes=1), "num_classes = 1; expected an int ≥ 2"),
}


def _one_line_exit_2(result, *words):
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("case", sorted(BROKEN_MODELS))
def test_a_broken_network_is_one_line_before_the_run_dir(tmp_path, registered, case):
    factory, problem = BROKEN_MODELS[case]
    registered(ARCHITECTURES, f"broken-{case}", factory)
    registered(DATASETS, "digits-images-ok", digits_images)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(out),
                                       *sets(*TINY, f"model.arch=broken-{case}", "data.dataset=digits-images-ok")])
    line = _one_line_exit_2(result, f"model.arch = 'broken-{case}': architecture plugin 'broken-{case}' (python): ",
                            problem)
    assert not out.exists(), line


@pytest.mark.parametrize("case", sorted(BROKEN_DATA))
def test_a_broken_data_set_is_one_line_before_the_run_dir(tmp_path, registered, case):
    loader, problem = BROKEN_DATA[case]
    registered(DATASETS, f"broken-{case}", loader)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(out),
                                       *sets(*TINY, f"data.dataset=broken-{case}", "data.val_size=5",
                                             "data.train_size=0")])
    _one_line_exit_2(result, f"data.dataset = 'broken-{case}': dataset plugin 'broken-{case}' (python): ", problem)
    assert not out.exists()


def test_a_student_network_is_checked_too(tmp_path, registered):
    registered(ARCHITECTURES, "broken-student", lambda n, s: NoLayers())
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path / "out"),
                                       *sets(*TINY, "distill.arch=broken-student")])
    _one_line_exit_2(result, "distill.arch = 'broken-student': architecture plugin", "no Linear or Conv2d layer")
    assert not (tmp_path / "out").exists()


def test_a_registered_value_that_is_not_callable_is_refused_at_registration():
    with pytest.raises(PluginError, match="is a int, not a factory"):
        ARCHITECTURES.register("not-callable", 3, origin=PYTHON)
    assert "not-callable" not in ARCHITECTURES


# ---------------------------------------------------------------- plugins from a package's entry points

PLUGIN_MODULE = '''
import torch


class NoLayers(torch.nn.Module):
    def forward(self, x):
        return torch.zeros(x.shape[0], 10)


def no_layers(num_classes, input_shape):
    return NoLayers()


def small_conv(num_classes, input_shape):
    c, h, w = input_shape
    return torch.nn.Sequential(torch.nn.Conv2d(c, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * h * w, num_classes))


def images(path, seed):
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target, dtype=torch.int64)
    return {"train": (x[:1500], y[:1500]), "test": (x[1500:], y[1500:]), "num_classes": 10}


def bad_labels(path, seed):
    out = images(path, seed)
    out["train"] = (out["train"][0], out["train"][1] + 1)
    return out
'''


@pytest.fixture
def plugin_site(tmp_path):
    """A package seen only through its dist-info entry points, and one whose module fails to import."""
    site = tmp_path / "site"
    (site / "archdata_demo").mkdir(parents=True)
    (site / "archdata_demo" / "__init__.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    (site / "archdata_broken.py").write_text("raise ImportError('a missing dependency')\n")
    write_dist(site, "archdata-demo", "0.3", "dsd_tui.models",
               {"noconv": "archdata_demo:no_layers", "smallconv": "archdata_demo:small_conv"})
    info = site / "archdata_demo-0.3.dist-info" / "entry_points.txt"
    info.write_text(info.read_text() + "\n[dsd_tui.datasets]\ndigits-img = archdata_demo:images\n"
                                       "badlabels = archdata_demo:bad_labels\n")
    write_dist(site, "archdata-broken", "1.0", "dsd_tui.models", {"brokenimport": "archdata_broken:factory"})
    return site


def _cli(site: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "dsd_tui", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600)


@pytest.fixture
def installed(plugin_site, monkeypatch):
    """`plugin_site` on this process's sys.path, the registries listing its entry points again."""
    monkeypatch.syspath_prepend(str(plugin_site))
    ARCHITECTURES.rescan()
    DATASETS.rescan()
    yield plugin_site
    monkeypatch.undo()
    ARCHITECTURES.rescan()
    DATASETS.rescan()
    sys.modules.pop("archdata_demo", None)


def test_broken_entry_point_plugins_are_refused_in_one_line(tmp_path, installed):
    """The refusals in this process (`run` as the command line runs it, through Click's runner); the test
    below runs the good plugins in a fresh interpreter, which finds the entry points on its own."""
    out = tmp_path / "out"

    def refused(*overrides: str) -> str:
        r = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(out), *sets(*TINY, *overrides)])
        assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1, r.output
        return r.stderr

    # a network with nothing to prune: one line naming the plugin and its package, no run directory
    assert ("model.arch = 'noconv': architecture plugin 'noconv' from package archdata-demo 0.3 "
            "(archdata_demo:no_layers): returned a model with no Linear or Conv2d layer to prune") \
        in refused("model.arch=noconv")
    # a data set whose labels run past num_classes
    assert ("data.dataset = 'badlabels': dataset plugin 'badlabels' from package archdata-demo 0.3 "
            "(archdata_demo:bad_labels): train labels span 1..10; expected 0..9") in refused("data.dataset=badlabels")
    # a plugin that cannot be imported: refused when named (harmless otherwise: the test below)
    err = refused("model.arch=brokenimport")
    assert "model.arch = 'brokenimport': architecture plugin 'brokenimport' from package archdata-broken 1.0" \
           in err and "cannot be imported (ImportError: a missing dependency)" in err
    assert not out.exists()


def test_entry_point_plugins_through_the_cli(tmp_path, plugin_site):
    out = tmp_path / "out"
    # the good plugins together run a ladder, while the broken one stays installed
    r = _cli(plugin_site, tmp_path, "run", "--no-tui", "--out", str(out),
             *sets(*TINY, "model.arch=smallconv", "data.dataset=digits-img", "distill.enabled=false"))
    assert r.returncode == 0, r.stderr
    (run_dir,) = out.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["data"]["dataset"] == "digits-img"
    assert summary["data"]["test"] == 297


def test_a_plugin_name_passes_the_profile_check_without_being_imported(plugin_site, monkeypatch):
    monkeypatch.syspath_prepend(str(plugin_site))
    ARCHITECTURES.rescan()
    DATASETS.rescan()
    try:
        p = P.load(None, ["model.arch=brokenimport", "data.dataset=digits-img"])
        assert (p.model.arch, p.data.dataset) == ("brokenimport", "digits-img")
        assert "archdata_broken" not in sys.modules and "archdata_demo" not in sys.modules
        assert ARCHITECTURES.origin("smallconv").describe() == "archdata-demo 0.3"
        bundle = load_data(p.data, 0)  # now it is imported, and checked
        assert bundle.input_shape == (1, 8, 8) and len(bundle.test) == 297
    finally:
        monkeypatch.undo()
        ARCHITECTURES.rescan()
        DATASETS.rescan()
        sys.modules.pop("archdata_demo", None)
