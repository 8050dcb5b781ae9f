"""The fast path keeps the science: same weights as the plain loop, masks checked every epoch, the speed
modes recorded, the raw entropy counts kept, and a compiled forward that leaves names and masks alone."""
import copy
import json

import pytest
import torch
from click.testing import CliRunner
from conftest import short_overrides

from dsd_tui.cli import main
from dsd_tui.core.data import Batcher, load_data
from dsd_tui.core.entropy import entropy_from_counts
from dsd_tui.core.kept_weights import KeptWeightsOptimizer
from dsd_tui.core.models import MLP, VGGLike
from dsd_tui.core.pruning import Masks
from dsd_tui.core.training import MasksBroken, make_optimizer, make_scheduler, masked_step, train_epoch
from dsd_tui.profile import DataSection, TrainSection
from dsd_tui.speed.modes import Speed


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
    assert Speed.from_profile(TrainSection(), cpu, images=True).describe() == {  # "auto": CSR where it wins
        "precision": "fp32", "channels_last": False, "compile": False, "sparse_kernels": True,
        "sparse_kernels_setting": "auto"}
    fast = Speed.from_profile(TrainSection(precision="bf16", compile=True), cpu, images=True)
    assert fast.describe() == {"precision": "bf16", "channels_last": True, "compile": True, "sparse_kernels": False,
                               "sparse_kernels_setting": "auto", "fp32_head": True}
    assert Speed.from_profile(TrainSection(sparse_kernels=True), cpu, images=False).describe()["sparse_kernels"]
    assert not Speed.from_profile(TrainSection(precision="bf16"), cpu, images=False).channels_last  # digits rows
    with fast.autocast()():
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_enabled("cpu")


def test_run_records_speed_modes_and_keeps_raw_entropy_counts(finished_run):
    run = finished_run  # the shared short quickstart run (conftest.py): both phases, the same 512-wide MLP
    summary = json.loads((run / "summary.json").read_text())
    layers = {p["name"]: ["features.0", "features.2"] for p in summary["phases"]}
    assert list(layers) == ["teacher", "student"]
    assert summary["environment"]["speed"] == {"precision": "fp32", "channels_last": False, "compile": False,
                                               "sparse_kernels": True, "sparse_kernels_setting": "auto",
                                               "sparse_kernels_layers": layers}
    record = summary["phases"][0]["rungs"][2]
    ck = torch.load(run / "checkpoints" / "teacher-rung02.pt", weights_only=True)
    counts = ck["entropy_counts"]
    assert counts["samples"] == 1000  # the quickstart's whole training split
    assert all(c.dtype == torch.int64 and int(c.max()) <= 1000 for c in counts["on"].values())
    assert entropy_from_counts(**counts) == pytest.approx(record["entropy"], abs=1e-12)


# -- the compact optimizer step (core/kept_weights.py): bitwise the weights of the plain masked path

def bits(t: torch.Tensor) -> torch.Tensor:
    """The raw bits (so -0.0 and +0.0 differ, as do NaN payloads): equality here is bitwise."""
    t = t.detach().contiguous()
    if not t.dtype.is_floating_point:
        return t  # e.g. BatchNorm's step counter
    return t.view({2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()])


def assert_bitwise(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        diff = int((bits(x) != bits(y)).sum())
        assert diff == 0, f"{name}: {diff} of {x.numel()} entries differ in their bits"


def pruned_mlp(rungs: int, width: int = 512):
    """The quickstart MLP (64-512-512-10) after `rungs` ladder cuts of 20%: sparsity 1 − 0.8^rungs."""
    torch.manual_seed(0)
    model = MLP(64, [width, width], 10)
    masks = Masks(model)
    for _ in range(rungs):
        masks.prune_global(0.2)
    return model, masks


PROFILES = {"adam": ("adam", 1e-3, 0.9, 0.0), "adam-wd": ("adam", 1e-3, 0.9, 1e-3),
            "sgd-momentum-wd": ("sgd", 0.05, 0.9, 5e-4)}


def train_both(rungs: int, profile: str, epochs: int):
    bundle, batcher = digits()
    out = []
    for compact in (False, True):
        model, masks = pruned_mlp(rungs)
        opt = make_optimizer(model.parameters(), *PROFILES[profile], masks=masks if compact else None)
        assert isinstance(opt, KeptWeightsOptimizer) == compact
        gen = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            res = train_epoch(model, masks, batcher, bundle.train, 64, gen, opt)
        out.append((model, masks, opt, res, gen.get_state()))
    return out


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("rungs", [1, 10, 18])  # sparsity 20%, 89.3%, 98.2%
def test_compact_step_trains_bitwise_the_weights_of_the_plain_masked_step(profile, rungs):
    (plain, masks, _, res_plain, _), (compact, _, opt, res_compact, _) = train_both(rungs, profile, epochs=3)
    assert masks.sparsity() == pytest.approx(1 - 0.8 ** rungs, abs=1e-3)
    assert opt.kept() < sum(p.numel() for p in compact.parameters())  # it really stepped fewer entries
    assert_bitwise(plain, compact)
    assert (res_plain.loss, res_plain.acc) == (res_compact.loss, res_compact.acc)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_compact_step_is_bitwise_for_channels_last_conv_weights(optimizer):
    torch.manual_seed(0)
    base = VGGLike(2, 2, 10).to(memory_format=torch.channels_last)
    x = torch.randn(16, 3, 32, 32).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (16,))
    trained = []
    for compact in (False, True):
        model = copy.deepcopy(base)
        masks = Masks(model)
        for _ in range(3):
            masks.prune_global(0.3)
        assert all(0 < int(m.sum()) < m.numel() for m in masks.masks.values())  # every layer partly pruned
        opt = make_optimizer(model.parameters(), optimizer, 0.05, 0.9, 1e-3, masks=masks if compact else None)
        for _ in range(4):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            masked_step(opt, masks)
        assert masks.pruned_are_zero()
        trained.append(model)
    assert_bitwise(*trained)


def test_nothing_pruned_means_torchs_own_optimizer_on_the_parameters():
    model, masks = pruned_mlp(0)
    opt = make_optimizer(model.parameters(), "adam", 1e-3, 0.9, 0.0, masks=masks)
    assert opt.slots == [] and all(p is q for p, q in zip(opt.param_groups[0]["params"], model.parameters()))


@pytest.mark.parametrize("profile", ["adam", "sgd-momentum-wd"])
def test_compact_optimizer_state_is_the_plain_optimizers_state_and_resumes_exactly(profile):
    """The resume state keeps its format: the compact state_dict() is, bit for bit, what the plain
    optimizer saves; loading either one mid-rung continues to the weights of an uninterrupted run."""
    bundle, batcher = digits()
    (plain, _, plain_opt, _, gen_state), (compact, _, compact_opt, _, _) = train_both(10, profile, epochs=2)
    saved_plain, saved_compact = plain_opt.state_dict(), compact_opt.state_dict()
    assert saved_compact["param_groups"] == saved_plain["param_groups"]
    assert saved_compact["state"].keys() == saved_plain["state"].keys()
    for i, state in saved_plain["state"].items():
        assert state.keys() == saved_compact["state"][i].keys()
        for k, v in state.items():
            w = saved_compact["state"][i][k]
            assert v.shape == w.shape and torch.equal(v, w), (i, k)  # moments at pruned entries: zero in both

    def continue_from(saved_state, weights):
        model, masks = pruned_mlp(10)
        model.load_state_dict(weights)
        opt = make_optimizer(model.parameters(), *PROFILES[profile], masks=masks)
        opt.load_state_dict(copy.deepcopy(saved_state))
        gen = torch.Generator()
        gen.set_state(gen_state)
        train_epoch(model, masks, batcher, bundle.train, 64, gen, opt)
        return model

    from_compact = continue_from(saved_compact, compact.state_dict())
    from_plain = continue_from(saved_plain, plain.state_dict())
    (uninterrupted, *_), _ = train_both(10, profile, epochs=3)
    assert_bitwise(uninterrupted, from_compact)
    assert_bitwise(uninterrupted, from_plain)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_scheduler_drives_the_compact_optimizers_learning_rate():
    model, masks = pruned_mlp(2, width=32)
    opt = make_optimizer(model.parameters(), "sgd", 0.1, 0.9, 0.0, masks=masks)
    sched = make_scheduler(opt, [1], 0.1)
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)


def test_a_revived_pruned_weight_under_the_compact_step_still_fails_the_epoch_check():
    bundle, batcher = digits()
    model, masks = pruned_mlp(3, width=32)
    opt = make_optimizer(model.parameters(), "adam", 1e-2, 0.9, 0.0, masks=masks)
    with torch.no_grad():
        w = model.features[0].weight
        # a bug elsewhere wrote pruned entries; the compact step never clears them
        w[~masks.masks["features.0.weight"]] = 1.0
    with pytest.raises(MasksBroken, match="pruned weights are not zero after an epoch"):
        train_epoch(model, masks, batcher, bundle.train, 64, torch.Generator().manual_seed(0), opt)


@pytest.mark.parametrize("mode", ["compile", "bf16"])
def test_compact_step_under_the_speed_modes_matches_the_plain_step_in_the_same_mode(mode):
    """torch.compile (eager backend here) and bf16 autocast change the forward, not the step: the compact
    step under either gives bitwise the weights of the plain masked step under the same mode."""
    bundle, batcher = digits()
    speed = Speed(compile=mode == "compile", compile_backend="eager", precision="bf16" if mode == "bf16" else "fp32")
    trained = []
    for compact in (False, True):
        model, masks = pruned_mlp(10, width=64)
        forward = speed.forward_of(model)
        opt = make_optimizer(model.parameters(), "adam", 1e-3, 0.9, 0.0, masks=masks if compact else None)
        gen = torch.Generator().manual_seed(0)
        for _ in range(2):
            train_epoch(forward, masks, batcher, bundle.train, 64, gen, opt, autocast=speed.autocast())
        assert masks.pruned_are_zero()
        trained.append(model)
    assert_bitwise(*trained)


@pytest.mark.parametrize("extra", [(), ("train.optimizer=sgd", "train.lr=0.05", "train.momentum=0.9",
                                        "train.weight_decay=5e-4", "prune.retrain=weight-rewind")])
def test_ladder_with_the_compact_step_gives_the_summary_of_the_plain_step(tmp_path, monkeypatch, extra):
    """End to end (teacher + KD student): the ladder builds the compact optimizer; forcing the plain
    masked step instead changes no number in the summary."""
    from relhelp import load_summary, metrics

    from dsd_tui.core import ladder as ladder_mod

    built = []
    real = ladder_mod.make_optimizer

    def spy(*args, **kwargs):
        built.append(kwargs.get("masks") is not None)
        return real(*args, **kwargs)

    summaries = []
    for compact in (True, False):
        monkeypatch.setattr(ladder_mod, "make_optimizer", spy if compact else
                            lambda *a, masks=None, **k: real(*a, **k))
        out = tmp_path / ("compact" if compact else "plain")
        result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(out), *short_overrides(*extra)])
        assert result.exit_code == 0, result.output
        summaries.append(metrics(load_summary(next(out.iterdir()))))
    assert built and all(built)  # every rung of both phases used the compact step
    assert summaries[0] == summaries[1]


def test_bf16_mode_keeps_the_output_layer_in_fp32():
    """Under bf16 the logits come from an fp32 output layer (the KD term at T = 10 needs them: see
    speed.py); the rest of the forward is bf16, and names, state dict and deep copies are unaffected."""
    torch.manual_seed(0)
    speed = Speed(precision="bf16")
    model = speed.place(MLP(64, [32, 32], 10), "cpu")
    plain = MLP(64, [32, 32], 10)
    plain.load_state_dict(model.state_dict())
    assert list(model.state_dict()) == list(plain.state_dict())
    x = torch.randn(8, 64)
    with speed.autocast()():
        logits = model(x)
        features = plain.features(x)
        bf16_logits = plain(x)
    assert features.dtype == torch.bfloat16 and bf16_logits.dtype == torch.bfloat16  # autocast is on
    assert logits.dtype == torch.float32
    assert torch.equal(logits, torch.nn.functional.linear(features.float(), plain.classifier.weight,
                                                          plain.classifier.bias))
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.classifier.weight.zero_()
        twin.classifier.bias.zero_()
    with speed.autocast()():
        assert torch.equal(model(x), logits) and not twin(x).any()  # the copy's head is its own
    assert speed.describe()["fp32_head"] is True and "fp32_head" not in Speed().describe()
