"""A rung's network out of the lab: `dsd-tui export --format model|onnx` and `dsd_tui.load_model`.

On a real shortened quickstart (the MLP on digits, 12 rungs at rate 0.2: 93.1% sparse at rung 12, one epoch
per rung): the exported weights are exactly zero where the checkpoint's masks are, the dense file, the sparse
file and the run directory all give the outputs of an independent forward pass over the checkpoint's masked
weights, the sparse file shrinks with the sparsity, and onnxruntime runs the ONNX file to the same logits.
"""
from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from relhelp import headless_run
from shared_runs import shared_headless_run

import dsd_tui
from dsd_tui.cli import main
from dsd_tui.errors import UsageError
from dsd_tui.profile import load as load_profile

LADDER = ("prune.rungs=12", "train.dense_epochs=2", "train.epochs=1", "distill.enabled=false",
          "entropy.enabled=false", "stop.active=tolerance-drop")
LAST = 12  # 1 - 0.8^12 = 93.1% of the prunable weights pruned


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Built once per test run (shared_runs.py), not once per xdist worker; read-only (tests copy it)."""
    return shared_headless_run(tmp_path_factory, "model-export-ladder", *LADDER)


def export(run_dir, *args):
    return CliRunner().invoke(main, ["export", str(run_dir), *args])


def exported(run_dir, path, *args) -> dict:
    result = export(run_dir, "--format", "model", "-o", str(path), *args)
    assert result.exit_code == 0, result.output
    return torch.load(path, weights_only=True)


def checkpoint(run_dir, rung: int, phase: str = "teacher") -> dict:
    return torch.load(run_dir / "checkpoints" / f"{phase}-rung{rung:02d}.pt", weights_only=True)


def independent_forward(ck: dict, x: torch.Tensor) -> torch.Tensor:
    """The MLP's forward written out over the checkpoint's weights times its masks (no dsd_tui code)."""
    sd, masks = ck["state_dict"], ck["masks"]
    w = {n: sd[n] * masks[n].to(sd[n].dtype) for n in masks}
    h = F.relu(F.linear(x, w["features.0.weight"], sd["features.0.bias"]))
    h = F.relu(F.linear(h, w["features.2.weight"], sd["features.2.bias"]))
    return F.linear(h, w["classifier.weight"], sd["classifier.bias"])


def test_checkpoints_record_what_rebuilds_their_network(run):
    ck = checkpoint(run, LAST)
    prof = load_profile(str(run / "profile.toml"))
    assert ck["arch"] == "mlp" and ck["arch_args"] == dataclasses.asdict(prof.model)
    assert ck["input_shape"] == [64] and ck["num_classes"] == 10


def test_pruned_weights_are_exactly_zero_where_the_masks_are(run, tmp_path):
    data = exported(run, tmp_path / "m.pt", "--rung", str(LAST))
    ck = checkpoint(run, LAST)
    assert set(data["state_dict"]) == set(ck["state_dict"])  # no mask buffers, nothing renamed
    assert not any("mask" in k or "orig" in k for k in data["state_dict"])
    for name, mask in ck["masks"].items():
        w = data["state_dict"][name]
        assert (w[mask == 0] == 0).all() and not torch.signbit(w[mask == 0]).any()  # +0.0
        assert torch.equal(w[mask == 1], ck["state_dict"][name][mask == 1])
    summary = json.loads((run / "summary.json").read_text())
    record = next(r for r in summary["phases"][0]["rungs"] if r["rung"] == LAST)
    assert data["format"] == "dsd_tui.model/1" and data["storage"] == "dense"
    assert (data["phase"], data["rung"], data["arch"], data["input_shape"], data["num_classes"]) == (
        "teacher", LAST, "mlp", [64], 10)
    assert data["sparsity"] == record["sparsity"] > 0.93 and data["metrics"] == record
    assert data["profile"] == summary["profile"] and data["dsd_tui_version"] == summary["environment"]["dsd_tui"]


def test_the_masks_are_folded_in_even_where_the_checkpoint_holds_pruned_values(run, tmp_path):
    """A checkpoint whose pruned entries are not zero (written by other code): the export still zeroes them."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    path = copy / "checkpoints" / f"teacher-rung{LAST:02d}.pt"
    ck = torch.load(path, weights_only=True)
    for name, mask in ck["masks"].items():
        ck["state_dict"][name] = ck["state_dict"][name] + (mask == 0) * 0.5
    torch.save(ck, path)
    data = exported(copy, tmp_path / "m.pt", "--rung", str(LAST))
    for name, mask in ck["masks"].items():
        assert (data["state_dict"][name][mask == 0] == 0).all(), name


def test_load_model_dense_sparse_and_run_dir_match_an_independent_forward(run, tmp_path):
    exported(run, tmp_path / "dense.pt", "--rung", str(LAST))
    exported(run, tmp_path / "sparse.pt", "--rung", str(LAST), "--sparse")
    x = torch.randn(32, 64, generator=torch.Generator().manual_seed(0))
    want = independent_forward(checkpoint(run, LAST), x)
    for source in (dsd_tui.load_model(tmp_path / "dense.pt"), dsd_tui.load_model(tmp_path / "sparse.pt"),
                   dsd_tui.load_model(run, rung=LAST), dsd_tui.load_model(str(run), phase="teacher", rung=str(LAST))):
        assert isinstance(source, torch.nn.Module) and not source.training
        with torch.no_grad():
            torch.testing.assert_close(source(x), want, rtol=0, atol=1e-5)


def test_the_sparse_file_is_at_least_four_times_smaller_at_93_percent(run, tmp_path):
    dense = exported(run, tmp_path / "dense.pt", "--rung", str(LAST))
    sparse = exported(run, tmp_path / "sparse.pt", "--rung", str(LAST), "--sparse")
    assert dense["sparsity"] > 0.93
    ratio = (tmp_path / "dense.pt").stat().st_size / (tmp_path / "sparse.pt").stat().st_size
    assert ratio >= 4, ratio
    assert set(sparse["sparse"]) == set(checkpoint(run, LAST)["masks"])  # every pruned weight stored compactly
    assert not set(sparse["sparse"]) & set(sparse["state_dict"])


def test_best_and_kept_are_the_summarys_rungs(run, tmp_path):
    summary = json.loads((run / "summary.json").read_text())
    best = exported(run, tmp_path / "best.pt")  # the default: the best validation rung
    assert best["rung"] == summary["phases"][0]["best_rung"]
    active = [s for s in summary["stops"] if s["phase"] == "teacher" and s["active"]]
    assert active and active[-1]["criterion"] == "tolerance-drop"  # the ladder is long enough for it to fire
    assert exported(run, tmp_path / "kept.pt", "--rung", "kept")["rung"] == active[-1]["selected_rung"]


def test_kept_without_a_firing_of_the_active_criterion_is_one_line(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    log = copy / "events.jsonl"
    log.write_text("".join(ln for ln in log.read_text().splitlines(keepends=True) if '"stop_fired"' not in ln))
    result = export(copy, "--format", "model", "--rung", "kept", "-o", str(tmp_path / "kept.pt"))
    assert result.exit_code == 2 and "has not fired" in result.output and not (tmp_path / "kept.pt").exists()


def test_an_old_checkpoint_without_the_arch_keys_exports_from_the_runs_profile(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    path = copy / "checkpoints" / f"teacher-rung{LAST:02d}.pt"
    ck = torch.load(path, weights_only=True)
    for key in ("arch_args", "input_shape"):
        del ck[key]
    torch.save(ck, path)
    data = exported(copy, tmp_path / "m.pt", "--rung", str(LAST))
    assert data["input_shape"] == [64] and data["arch_args"]["hidden"] == [512, 512]
    x = torch.randn(4, 64)
    with torch.no_grad():
        torch.testing.assert_close(dsd_tui.load_model(tmp_path / "m.pt")(x), independent_forward(ck, x),
                                   rtol=0, atol=1e-5)


@pytest.mark.parametrize("args, says", [
    (["--format", "model"], "name it with -o FILE"),
    (["--format", "model", "--rung", "99", "-o", "{tmp}/m.pt"], "no finished rung 99"),
    (["--format", "model", "--rung", "soon", "-o", "{tmp}/m.pt"], "not a rung"),
    (["--format", "model", "--phase", "student", "-o", "{tmp}/m.pt"], "no finished student rung"),
    (["--format", "json", "--sparse"], "--sparse: only for a rung's network"),
    (["--format", "model", "-o", "{run}/summary.json"], "must not be overwritten"),
    (["--format", "onnx", "--sparse", "-o", "{tmp}/m.pt"], "ONNX files hold dense weights"),
])
def test_bad_choices_are_one_line_and_write_nothing(run, tmp_path, args, says):
    before = sorted(p.name for p in run.rglob("*"))
    result = export(run, *[a.format(tmp=tmp_path, run=run) for a in args])
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "m.pt").exists() and sorted(p.name for p in run.rglob("*")) == before


def test_a_rung_whose_checkpoint_was_removed_is_one_line(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "checkpoints" / "teacher-rung03.pt").unlink()  # as run.keep_checkpoints = "best-last" does
    result = export(copy, "--format", "model", "--rung", "3", "-o", str(tmp_path / "m.pt"))
    assert result.exit_code == 2 and "no checkpoint for teacher rung 3" in result.output
    assert "best-last" in result.output and not (tmp_path / "m.pt").exists()


def test_load_model_refuses_another_version_a_damaged_file_and_an_unregistered_arch(run, tmp_path):
    data = exported(run, tmp_path / "m.pt", "--rung", str(LAST), "--sparse")
    torch.save({**data, "format": "dsd_tui.model/99"}, tmp_path / "v99.pt")
    with pytest.raises(UsageError, match="format 'dsd_tui.model/99'"):
        dsd_tui.load_model(tmp_path / "v99.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "m.pt").read_bytes()[:5000])
    with pytest.raises(UsageError, match="corrupt, truncated"):
        dsd_tui.load_model(tmp_path / "cut.pt")
    broken = dict(data, sparse={**data["sparse"]})
    entry = dict(broken["sparse"]["features.2.weight"])
    broken["sparse"]["features.2.weight"] = {**entry, "values": entry["values"][:-3]}
    torch.save(broken, tmp_path / "short.pt")
    with pytest.raises(UsageError, match="damaged model file"):
        dsd_tui.load_model(tmp_path / "short.pt")
    torch.save({**data, "arch": "my-pruned-net"}, tmp_path / "plugin.pt")
    with pytest.raises(UsageError, match=r"'my-pruned-net' is not registered.*dsd_tui.register_model"):
        dsd_tui.load_model(tmp_path / "plugin.pt")


def test_time_prints_both_sizes_and_dense_against_sparse_timings(run, tmp_path):
    result = export(run, "--format", "model", "--rung", str(LAST), "--time", "-o", str(tmp_path / "m.pt"))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "file size: dense" in out and "sparse" in out and "smaller" in out
    for batch in ("batch    1:", "batch  256:"):
        line = next(ln for ln in out.splitlines() if batch in ln)
        assert "dense" in line and "sparse" in line and "speedup" in line


def test_onnx_without_its_packages_says_how_to_install_them(run, tmp_path, monkeypatch):
    from dsd_tui.export import onnx_model
    monkeypatch.setattr(onnx_model, "PACKAGES", ("onnx", "no_such_onnx_helper_pkg"))
    result = export(run, "--format", "onnx", "-o", str(tmp_path / "m.onnx"))
    assert result.exit_code == 2 and "no_such_onnx_helper_pkg" in result.output
    assert "pip install 'dsd-tui[onnx]'" in result.output and not (tmp_path / "m.onnx").exists()


def test_onnxruntime_runs_the_onnx_file_to_torchs_outputs(run, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install 'dsd-tui[onnx]')")
    pytest.importorskip("onnxscript", reason="the onnx extra is not installed (pip install 'dsd-tui[onnx]')")
    result = export(run, "--format", "onnx", "--rung", str(LAST), "-o", str(tmp_path / "m.onnx"))
    assert result.exit_code == 0, result.output
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    model = dsd_tui.load_model(run, rung=LAST)
    for batch in (1, 7, 256):  # the batch dimension is dynamic
        x = torch.randn(batch, 64, generator=torch.Generator().manual_seed(batch))
        got = session.run(["logits"], {"input": x.numpy()})[0]
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(got), model(x), rtol=0, atol=1e-4)


@pytest.mark.parametrize("density", [0.0, 0.001, 0.05, 0.4, 0.97, 1.0])
def test_the_compact_store_round_trips_at_any_density_and_never_grows_a_weight(density):
    """Each encoding (index, bit mask, dense) gives back the exact weight, in fewer bytes than dense or equal."""
    from dsd_tui.export.sparse_store import compact, expand
    gen = torch.Generator().manual_seed(1)
    weight = torch.randn(300, 70, generator=gen)
    mask = torch.rand(300, 70, generator=gen) < density
    weight = torch.where(mask, weight, torch.zeros(()))
    entry = compact(weight, mask)
    assert torch.equal(expand(entry), weight)
    stored = entry["values"].numel() * 4 + entry["where"].numel() * entry["where"].element_size()
    assert stored <= weight.numel() * 4


def tiny_net(num_classes: int, input_shape: tuple) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(input_shape[0], 24), torch.nn.ReLU(),
                               torch.nn.Linear(24, num_classes))


def test_a_python_registered_architecture_loads_only_where_it_is_registered(tmp_path):
    from dsd_tui.core.archs import ARCHITECTURES
    dsd_tui.register_model("i25-tiny", tiny_net)
    try:
        run_dir = headless_run(tmp_path, "model.arch=i25-tiny", "prune.rungs=2", "train.dense_epochs=1",
                               "train.epochs=1", "distill.enabled=false", "entropy.enabled=false")
        data = exported(run_dir, tmp_path / "m.pt", "--rung", "2", "--sparse")
        assert data["arch"] == "i25-tiny"
        x = torch.randn(5, 64)
        with torch.no_grad():
            want = independent_forward_seq(checkpoint(run_dir, 2), x)
            torch.testing.assert_close(dsd_tui.load_model(tmp_path / "m.pt")(x), want, rtol=0, atol=1e-5)
    finally:
        ARCHITECTURES.unregister("i25-tiny")
    with pytest.raises(UsageError, match=r"'i25-tiny' is not registered here.*register_model\('i25-tiny'"):
        dsd_tui.load_model(tmp_path / "m.pt")


def independent_forward_seq(ck: dict, x: torch.Tensor) -> torch.Tensor:
    sd, masks = ck["state_dict"], ck["masks"]
    h = F.relu(F.linear(x, sd["1.weight"] * masks["1.weight"], sd["1.bias"]))
    return F.linear(h, sd["3.weight"] * masks["3.weight"], sd["3.bias"])
