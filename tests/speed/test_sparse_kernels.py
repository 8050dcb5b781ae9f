"""The CSR kernels (`train.sparse_kernels`, true or the default "auto"): right gradients, the same training
as the dense path up to rounding, pruned weights still exactly zero, exact resume, recorded in the summary, and refused
with the modes it does not combine with."""
import copy

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from csr_support import csr_spy
from relhelp import QUICK, load_summary, metrics
from shared_runs import printed, shared_headless_run

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.core.data import Batcher, load_data
from dsd_tui.core.models import MLP
from dsd_tui.core.pruning import Masks
from dsd_tui.core.training import make_optimizer, train_epoch
from dsd_tui.profile import DataSection
from dsd_tui.record import events as ev
from dsd_tui.runner import RunSession
from dsd_tui.speed.sparse_kernels import MAX_DENSITY, MIN_OUT, MIN_WEIGHTS, CsrPattern, csr_linear, sparse_linears

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

# A quick ladder whose rungs 1 and 2 (80% and 96% pruned) put the 512×512 hidden layer on CSR (a layer needs
# 512 outputs to qualify: MIN_OUT).
SPARSE_QUICK = [*QUICK, "model.hidden=[512, 512]", "prune.rate=0.8", "prune.rungs=2", "train.sparse_kernels=true"]


@pytest.fixture(scope="module")
def sparse_quick(tmp_path_factory):
    """The run folder of `run --no-tui --set SPARSE_QUICK...`, built once per test run (shared_runs.py) for the
    tests that only read it; read-only."""
    return shared_headless_run(tmp_path_factory, "sparse-kernels-quick", *SPARSE_QUICK)


def pruned(shape, keep: float, seed: int = 0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=g, dtype=dtype)
    mask = torch.rand(shape, generator=g) < keep
    return w, mask


def test_csr_linear_gives_the_dense_layers_output_and_gradients():
    w, mask = pruned((48, 40), 0.15, dtype=torch.float64)
    pattern = CsrPattern.from_mask(mask)
    values = w[mask].clone().requires_grad_(True)  # row-major kept entries: the compact tensor's order
    bias = torch.randn(48, dtype=torch.float64, requires_grad=True)
    x = torch.randn(16, 40, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x_, v, b: csr_linear(x_, v, b, pattern), (x, values, bias))

    dense_w = (w * mask).requires_grad_(True)
    x2, b2 = x.detach().clone().requires_grad_(True), bias.detach().clone().requires_grad_(True)
    gy = torch.randn(16, 48, dtype=torch.float64)
    out = csr_linear(x, values, bias, pattern)
    ref = F.linear(x2, dense_w, b2)
    torch.testing.assert_close(out, ref)
    out.backward(gy)
    ref.backward(gy)
    torch.testing.assert_close(x.grad, x2.grad)
    torch.testing.assert_close(bias.grad, b2.grad)
    torch.testing.assert_close(values.grad, dense_w.grad[mask])  # the kept entries' gradient only


def digits():
    bundle = load_data(DataSection(train_size=512, val_size=50), seed=0)
    return bundle, Batcher(bundle, "cpu")


def test_a_sparse_rung_trains_the_dense_paths_weights_up_to_rounding_and_keeps_pruned_at_zero():
    bundle, batcher = digits()
    torch.manual_seed(0)
    base = MLP(64, [512, 512], 10)
    masks = Masks(base)
    for _ in range(9):  # 87% pruned: the hidden and output layers fall under MAX_DENSITY
        masks.prune_global(0.2)
    trained, used = [], None
    for sparse in (False, True):
        model = copy.deepcopy(base)
        mk = Masks(model, masks.masks)
        opt = make_optimizer(model.parameters(), "adam", 1e-3, 0.9, 0.0, masks=mk)
        gen = torch.Generator().manual_seed(1)
        if sparse:
            with sparse_linears(model, opt) as used:
                assert "forward" in vars(model.features[2])
                for _ in range(3):
                    train_epoch(model, mk, batcher, bundle.train, 64, gen, opt)
            assert all("forward" not in vars(m) for m in model.modules())  # dense forwards restored
            assert all(not s.direct and not s.compact.requires_grad for s in opt.slots)
        else:
            for _ in range(3):
                train_epoch(model, mk, batcher, bundle.train, 64, gen, opt)
        assert mk.pruned_are_zero()
        trained.append(model.state_dict())
    eligible = [n.removesuffix(".weight") for n, m in masks.masks.items()
                if m.numel() >= MIN_WEIGHTS and m.shape[0] >= MIN_OUT and float(m.float().mean()) <= MAX_DENSITY]
    assert used == eligible == ["features.2"]  # the classifier has too few outputs, the input layer too many kept
    moved = max(float((trained[0][k] - base.state_dict()[k]).abs().max()) for k in trained[0])
    for k in trained[0]:
        torch.testing.assert_close(trained[1][k], trained[0][k], rtol=0, atol=1e-5)
    assert moved > 1e-3  # the weights did train, so the closeness above means something
    assert any(not torch.equal(trained[0][k], trained[1][k]) for k in trained[0])  # another summation order


def test_ladder_with_sparse_kernels_records_the_mode_and_resumes_exactly(tmp_path):
    prof = profile_mod.load(None, SPARSE_QUICK)
    with csr_spy() as used:
        ref = RunSession.new(prof, str(tmp_path / "ref"))
        assert ref.run() == "completed"
    expected = load_summary(ref.path)
    assert expected["environment"]["speed"]["sparse_kernels"] is True
    assert used.count(("features.2",)) == 4  # rungs 1 and 2 of both phases; the dense rungs take none

    session = None

    def stop_mid_rung(event):  # stop the run inside the 80%-pruned teacher rung, after its first epoch
        if isinstance(event, ev.EpochFinished) and event.phase == "teacher" and (event.rung, event.epoch) == (1, 1):
            session.stop_now.set()

    session = RunSession.new(prof, str(tmp_path / "cut"), sinks=[stop_mid_rung])
    assert session.run() == "interrupted"
    resumed = RunSession.resume_from(str(session.path))
    assert resumed.run() == "completed"
    assert metrics(load_summary(session.path)) == metrics(expected)


def test_ladder_with_sparse_kernels_follows_the_dense_ladder_up_to_rounding(tmp_path, sparse_quick):
    session = RunSession.new(profile_mod.load(None, [*SPARSE_QUICK, "train.sparse_kernels=false"]), str(tmp_path))
    assert session.run() == "completed"
    runs = {"dense": load_summary(session.path), "sparse": load_summary(sparse_quick)}
    for i, phase in enumerate(("teacher", "student")):
        dense, sparse = (runs[k]["phases"][i]["rungs"] for k in ("dense", "sparse"))
        assert runs["dense"]["phases"][i]["name"] == phase
        assert [r["sparsity"] for r in dense] == [r["sparsity"] for r in sparse]
        for d, s in zip(dense, sparse):
            assert abs(d["test_acc"] - s["test_acc"]) <= 0.02, (phase, d["rung"])
            assert abs(d["train_loss"] - s["train_loss"]) <= 1e-3 * max(1.0, d["train_loss"]), (phase, d["rung"])


@pytest.mark.parametrize("other", ["train.precision=bf16", "train.compile=true"])
def test_sparse_kernels_with_a_mode_they_do_not_combine_with_is_one_clear_line(tmp_path, other):
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path), "--set", "train.sparse_kernels=true",
                                       "--set", other])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "train.sparse_kernels" in lines[0] and other.split("=")[0] in lines[0], result.output
    assert "Traceback" not in result.output
    assert not any(tmp_path.iterdir())  # no run directory was started


def test_throughput_bench_times_every_rung_of_a_real_ladder_with_the_sparse_mode(tmp_path, sparse_quick):
    """bench/throughput.py --sparsity ladder --masks-from RUN: one line per teacher rung and the
    ladder-weighted figure, with the sparse path's CSR layers taken from the run's own masks."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from relhelp import env

    bench = Path(__file__).resolve().parents[2] / "bench" / "throughput.py"
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, str(bench), "--model", "mlp", "--modes", "ref,fp32,sparse",
                             "--masks-from", str(sparse_quick), "--sparsity", "ladder", "--rounds", "1",
                             "--warmup", "0", "--json", str(out)], env=env(), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("rung ")]
    assert len(lines) == 3  # rungs 0, 1, 2 of the teacher ladder
    ladder = json.loads(out.read_text())["ladder"]
    assert set(ladder["ms_per_step"]) == {"ref", "fp32", "sparse"} and ladder["epochs"] == 6 + 3 + 3


def test_the_run_started_lines_say_when_an_opt_in_speed_mode_is_on(sparse_quick):
    from dsd_tui.tui.view import log_line

    started = next(line for line in printed(sparse_quick).splitlines() if " started on " in line)
    assert started.endswith("; opt-in speed modes: sparse_kernels (CSR for features.0, features.2 once ≤ 20% kept)")

    def started_event(**speed):
        return ev.RunStarted(name="r", run_dir="d", profile={}, environment={"speed": speed},
                             phases=["teacher"], rungs=1, resumed=False)
    assert log_line(started_event(precision="bf16", compile=True))[1].endswith(
        "; opt-in speed modes: precision=bf16, compile")
    assert "speed modes" not in log_line(started_event(precision="fp32", compile=False, sparse_kernels=False))[1]


def test_numerics_ab_bench_runs_both_paths_per_seed_and_reuses_finished_runs(tmp_path, capsys):
    """bench/numerics_ab.py: real ladders for every seed with and without the mode (here issue 16's A/B:
    the default, which puts the 512×512 layer on CSR, against the exact dense path), the comparison
    printed, and a second call (another mode, say) reusing the finished base runs."""
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    from relhelp import env

    bench = Path(__file__).resolve().parents[2] / "bench" / "numerics_ab.py"
    # SPARSE_QUICK's ladder (rungs 1 and 2 put the 512×512 layer on CSR) at one epoch a rung on 300 samples:
    # each ladder is a `python -m dsd_tui run` of the bench's own, four of them
    args = ["--mode", "train.sparse_kernels=false", "--seeds", "2", "--out", str(tmp_path),
            *(a for o in [*SPARSE_QUICK[:-1], "train.dense_epochs=1", "train.epochs=1", "data.train_size=300"]
              for a in ("--set", o))]
    first = subprocess.run([sys.executable, str(bench), *args], env=env(), capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "same seed, mode vs base" in first.stdout and first.stdout.count("| mode |") == 2
    assert len(list(tmp_path.glob("base-s*"))) == 2 and len(list(tmp_path.glob("sparse_kernels-false-s*"))) == 2
    # the second call in this process (it starts no ladder when it reuses them all)
    spec = importlib.util.spec_from_file_location("numerics_ab", bench)
    numerics_ab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(numerics_ab)
    capsys.readouterr()
    assert numerics_ab.main(args) == 0
    again = capsys.readouterr().out
    assert again.count("reusing") == 4 and "same seed, mode vs base" in again, again
    assert len(list(tmp_path.iterdir())) == 4  # nothing run twice
