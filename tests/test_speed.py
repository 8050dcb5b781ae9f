"""The fast path keeps the science: same weights as the plain loop, masks checked every epoch, the speed
modes recorded, the raw entropy counts kept, and a compiled forward that leaves names and masks alone."""
import copy
import json

import pytest
import torch
from click.testing import CliRunner

from dsd_tui.cli import main
from dsd_tui.engine.data import Batcher, load_data
from dsd_tui.engine.entropy import entropy_from_counts
from dsd_tui.engine.models import MLP, VGGLike
from dsd_tui.engine.pruning import Masks
from dsd_tui.engine.speed import Speed
from dsd_tui.engine.training import MasksBroken, make_optimizer, train_epoch
from dsd_tui.profile import DataSection, TrainSection

from conftest import short_overrides


def digits():
    bundle = load_data(DataSection(train_size=256, val_size=50), seed=0)
    return bundle, Batcher(bundle, "cpu")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_engine_optimizers_give_bitwise_the_weights_of_torchs_single_tensor_loop(optimizer):
    torch.manual_seed(0)
    base = VGGLike(2, 2, 10)
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    trained = []
    for engine in (True, False):
        model = copy.deepcopy(base)
        masks = Masks(model)
        masks.prune_global(0.5)
        if engine:
            opt = make_optimizer(model.parameters(), optimizer, 0.05, 0.9, 1e-3)
        elif optimizer == "sgd":
            opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3, foreach=False)
        else:
            opt = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=1e-3, foreach=False)
        for _ in range(4):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            masks.apply_to_grads()
            opt.step()
            masks.apply_to_weights()
        trained.append(model.state_dict())
    assert all(torch.equal(trained[0][k], trained[1][k]) for k in trained[0])


class ForgetfulMasks(Masks):
    """A deliberately broken masking (weights never re-zeroed) that the epoch check must catch."""

    def apply_to_weights(self) -> None:
        pass

    def apply_to_grads(self) -> None:
        pass


def test_an_epoch_that_revives_pruned_weights_fails_with_a_clear_message():
    bundle, batcher = digits()
    torch.manual_seed(0)
    model = MLP(64, [32], 10)
    masks = ForgetfulMasks(model)
    masks.prune_global(0.5)
    Masks.apply_to_weights(masks)  # zeroed once, for real; then training never re-zeroes them
    assert masks.pruned_are_zero()
    opt = make_optimizer(model.parameters(), "adam", 1e-2, 0.9, 0.0)
    with pytest.raises(MasksBroken, match="pruned weights are not zero after an epoch"):
        train_epoch(model, masks, batcher, bundle.train, 64, torch.Generator().manual_seed(0), opt)


def test_compiled_forward_trains_the_same_weights_under_the_original_names():
    bundle, batcher = digits()
    torch.manual_seed(0)
    base = MLP(64, [32], 10)
    results = []
    for compiled in (False, True):
        model = copy.deepcopy(base)
        masks = Masks(model)
        masks.prune_global(0.5)
        forward = Speed(compile=compiled, compile_backend="eager").forward_of(model)
        assert (forward is not model) == compiled
        opt = make_optimizer(model.parameters(), "adam", 1e-2, 0.9, 0.0)
        train_epoch(forward, masks, batcher, bundle.train, 64, torch.Generator().manual_seed(0), opt)
        results.append((model.state_dict(), masks))
    (eager_sd, _), (compiled_sd, masks) = results
    assert list(compiled_sd) == list(eager_sd) and not any("_orig_mod" in k for k in compiled_sd)
    assert all(torch.equal(eager_sd[k], compiled_sd[k]) for k in eager_sd)
    assert masks.pruned_are_zero()


def test_speed_modes_follow_the_profile():
    cpu = torch.device("cpu")
    assert Speed.from_profile(TrainSection(), cpu, images=True).describe() == {
        "precision": "fp32", "channels_last": False, "compile": False}
    fast = Speed.from_profile(TrainSection(precision="bf16", compile=True), cpu, images=True)
    assert fast.describe() == {"precision": "bf16", "channels_last": True, "compile": True}
    assert not Speed.from_profile(TrainSection(precision="bf16"), cpu, images=False).channels_last  # digits rows
    with fast.autocast()():
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_enabled("cpu")


def test_run_records_speed_modes_and_keeps_raw_entropy_counts(tmp_path):
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path),
                                       *short_overrides("distill.enabled=false")])
    assert result.exit_code == 0, result.output
    run = next(tmp_path.iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["environment"]["speed"] == {"precision": "fp32", "channels_last": False, "compile": False}
    record = summary["phases"][0]["rungs"][2]
    ck = torch.load(run / "checkpoints" / "teacher-rung02.pt", weights_only=True)
    counts = ck["entropy_counts"]
    assert counts["samples"] == 1000  # the quickstart's whole training split
    assert all(c.dtype == torch.int64 and int(c.max()) <= 1000 for c in counts["on"].values())
    assert entropy_from_counts(**counts) == pytest.approx(record["entropy"], abs=1e-12)
