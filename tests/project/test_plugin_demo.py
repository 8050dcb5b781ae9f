"""The worked plugin package (examples/dsd-plugin-demo), seen only through its dist-info entry points, plugs
a conv net, a dataset and a criterion into an ordinary `dsd-tui run`; a broken plugin is refused in one line
with no run directory; a model registered from Python runs through `dsd_tui.run` and resumes through
`dsd_tui.resume` (the command line says what to register)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import dsd_tui
from dsd_tui.registry import PYTHON

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "dsd-plugin-demo"
SHORT = ["--set", "prune.rungs=2", "--set", "train.epochs=1", "--set", "train.dense_epochs=2",
         "--set", "data.train_size=400", "--set", "data.val_size=100"]


def dist_info(site: Path, name: str, version: str, groups: dict[str, dict[str, str]]) -> None:
    """An installed distribution as importlib.metadata sees it: NAME-VERSION.dist-info with entry_points.txt."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    text = "".join(f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n" for g, eps in groups.items())
    (info / "entry_points.txt").write_text(text)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The demo's metadata, its entry points read from the example's own pyproject.toml, plus a broken plugin."""
    site = tmp_path_factory.mktemp("site")
    project = tomllib.loads((DEMO / "pyproject.toml").read_text())["project"]
    dist_info(site, project["name"], project["version"], project["entry-points"])
    dist_info(site, "dsd-broken-plugin", "0.2", {"dsd_tui.models": {"broken": "dsd_broken_missing.models:net"},
                                                  "dsd_tui.criteria": {"nan-score": "dsd_broken_nan:score"}})
    (site / "dsd_broken_nan.py").write_text(
        "import torch\ndef score(model, weights, batch):\n"
        "    return {n: torch.full_like(w, float('nan')) for n, w in weights.items()}\n")
    return site


def cli(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(DEMO / "src"), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "dsd_tui", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture
def installed_here(site, monkeypatch):
    """`site` on this process's sys.path, the registries listing its entry points again (for what needs no
    fresh interpreter)."""
    from dsd_tui.core.archs import ARCHITECTURES
    from dsd_tui.core.criteria import CRITERIA
    from dsd_tui.core.datasets import DATASETS
    monkeypatch.syspath_prepend(str(site))
    for registry in (ARCHITECTURES, DATASETS, CRITERIA):
        registry.rescan()
    yield
    monkeypatch.undo()
    for registry in (ARCHITECTURES, DATASETS, CRITERIA):
        registry.rescan()
    sys.modules.pop("dsd_broken_nan", None)


def test_plugins_lists_bundled_and_installed_entries(site, tmp_path, installed_here):
    from click.testing import CliRunner

    from dsd_tui.cli import main
    res = cli(site, "plugins", "--json", cwd=tmp_path)  # a fresh interpreter finds the entry points
    assert res.returncode == 0, res.stderr
    rows = {(r["kind"], r["name"]): r for r in json.loads(res.stdout)}
    for kind, name in (("model", "tinyconv"), ("dataset", "digits-images"), ("criterion", "lamp")):
        assert rows[(kind, name)]["origin"] == "plugin"
        assert (rows[(kind, name)]["distribution"], rows[(kind, name)]["version"]) == ("dsd-plugin-demo", "0.1.0")
    assert rows[("model", "mlp")]["origin"] == "bundled" and rows[("criterion", "magnitude")]["origin"] == "bundled"
    assert rows[("model", "broken")]["distribution"] == "dsd-broken-plugin"  # listed without importing it
    table = CliRunner().invoke(main, ["plugins"])  # the same rows as a table: in this process
    assert table.exit_code == 0 and "lamp" in table.stdout and "dsd-plugin-demo 0.1.0" in table.stdout


def lamp_cut(weights: dict[str, torch.Tensor], kept: dict[str, torch.Tensor], rate: float) -> dict[str, torch.Tensor]:
    """The rung's expected masks, computed here: LAMP scores of the masked weights, one global cut of
    round(rate · kept) among the kept weights."""
    sys.path.insert(0, str(DEMO / "src"))
    try:
        from dsd_plugin_demo.criteria import lamp
    finally:
        sys.path.remove(str(DEMO / "src"))
    names = list(weights)
    scores = lamp(None, {n: weights[n] * kept[n] for n in names}, None)
    flat_scores = torch.cat([scores[n].flatten() for n in names])
    flat_kept = torch.cat([kept[n].flatten().bool() for n in names])
    idx = flat_kept.nonzero().flatten()
    drop = torch.topk(flat_scores[idx], k=int(round(rate * idx.numel())), largest=False).indices
    flat_kept[idx[drop]] = False
    out, offset = {}, 0
    for n in names:
        out[n] = flat_kept[offset:offset + weights[n].numel()].view_as(weights[n])
        offset += weights[n].numel()
    return out


def test_a_run_uses_the_plugins_model_data_and_scores(site, tmp_path):
    res = cli(site, "run", "--no-tui", "--out", str(tmp_path / "runs"), *SHORT, "--set", "model.arch=tinyconv",
              "--set", "data.dataset=digits-images", "--set", "prune.criterion=lamp", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    run_dir = next((tmp_path / "runs").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] in ("completed", "stopped")
    assert summary["data"]["dataset"] == "digits-images" and summary["data"]["test"] == 297
    plugins = summary["environment"]["plugins"]
    assert {plugins[k]["name"] for k in ("model.arch", "data.dataset", "prune.criterion")} == \
        {"tinyconv", "digits-images", "lamp"}
    assert plugins["prune.criterion"]["distribution"] == "dsd-plugin-demo"
    teacher = summary["phases"][0]
    assert teacher["arch"] == "tinyconv" and set(teacher["rungs"][0]["entropy"]) == {"1", "3"}
    for phase in ("teacher", "student"):
        for rung in (1, 2):
            before = torch.load(run_dir / "checkpoints" / f"{phase}-rung{rung - 1:02d}.pt", weights_only=True)
            after = torch.load(run_dir / "checkpoints" / f"{phase}-rung{rung:02d}.pt", weights_only=True)
            weights = {n: before["state_dict"][n] for n in before["masks"]}
            expected = lamp_cut(weights, {n: m.bool() for n, m in before["masks"].items()}, 0.2)
            for n, mask in after["masks"].items():
                assert torch.equal(mask.bool(), expected[n]), f"{phase} rung {rung} {n}: not LAMP's cut"


@pytest.mark.parametrize("key,value,named", [("model.arch", "broken", "dsd-broken-plugin 0.2"),
                                             ("prune.criterion", "nan-score", "dsd-broken-plugin 0.2")])
def test_a_broken_plugin_is_one_line_and_no_run_directory(tmp_path, installed_here, key, value, named):
    """In this process, through Click's runner (the demo's run above and the listing show what a fresh
    interpreter finds)."""
    from click.testing import CliRunner

    from dsd_tui.cli import main
    out = tmp_path / "runs"
    res = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(out), *SHORT, "--set", f"{key}={value}"])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and value in lines[0] and named in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists() or not any(out.iterdir())


def test_a_broken_plugin_breaks_nothing_else(site, tmp_path):
    assert cli(site, "profiles", cwd=tmp_path).returncode == 0  # once, not with each broken plugin above


def tiny_mlp(num_classes: int, input_shape: tuple) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(input_shape[0], 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, num_classes))


@pytest.fixture
def python_model():
    from dsd_tui.core.archs import ARCHITECTURES
    dsd_tui.register_model("py-tiny", tiny_mlp)
    yield
    ARCHITECTURES.unregister("py-tiny")


def test_a_model_registered_from_python_runs_and_resumes_from_python(python_model, tmp_path):
    def interrupt_after_dense(event):
        if event.type == "rung_finished" and event.phase == "teacher" and event.rung == 0:
            os.kill(os.getpid(), signal.SIGINT)  # the API's handler: stop resumably at the next batch

    overrides = ["model.arch=py-tiny", "prune.rungs=2", "train.epochs=1", "train.dense_epochs=1",
                 "data.train_size=300", "data.val_size=100"]
    first = dsd_tui.run(None, overrides, out=tmp_path, on_event=interrupt_after_dense)
    assert first["status"] == "interrupted"
    assert first["environment"]["plugins"]["model.arch"] == {"name": "py-tiny", "origin": "python"}
    run_dir = Path(first["run_dir"])
    log = (run_dir / "events.jsonl").read_bytes()

    res = subprocess.run([sys.executable, "-m", "dsd_tui", "resume", "--no-tui", str(run_dir)], cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "py-tiny" in res.stderr and "register_model" in res.stderr
    assert (run_dir / "events.jsonl").read_bytes() == log  # nothing changed

    done = dsd_tui.resume(run_dir)
    assert done["status"] in ("completed", "stopped")
    assert [r["rung"] for r in done["phases"][0]["rungs"]] == [0, 1, 2]
    assert done["phases"][0]["arch"] == "py-tiny"


def test_python_registration_cannot_take_a_bundled_name():
    with pytest.raises(ValueError, match="bundled"):
        dsd_tui.register_model("mlp", tiny_mlp)
    from dsd_tui.core.archs import ARCHITECTURES
    assert ARCHITECTURES.origin("mlp") == ARCHITECTURES.origin("resnet18") and PYTHON.kind == "python"
