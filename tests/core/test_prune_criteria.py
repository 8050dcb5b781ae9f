"""prune.criterion / prune.scope / prune.output_layer: each checked on the masks a real short ladder wrote.

Every test reruns the rung-1 cut by hand from the rung-0 checkpoint (the weights the cut saw, since
lr-rewind keeps them) and compares it with the rung-1 checkpoint's masks, so a criterion, scope or
output-layer setting that the ladder ignored makes the test fail.
"""
import copy
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from relhelp import headless_run

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.core.criteria._base import score_batch
from dsd_tui.core.criteria.gradient import gradient_scores
from dsd_tui.core.criteria.random import random_scores
from dsd_tui.core.data import load_data
from dsd_tui.core.models import MLP
from dsd_tui.core.pruning import Masks, output_layer_name

BASE = ("prune.rungs=1", "train.dense_epochs=2", "train.epochs=1", "distill.enabled=false", "entropy.enabled=false",
        "model.hidden=[64,64]", "stop.criteria=[]", "stop.active=''", "stop.active_student=''")


def ladder(tmp_path: Path, *extra: str) -> Path:
    return headless_run(tmp_path, *BASE, *extra)


def checkpoints(run: Path):
    rung0 = torch.load(run / "checkpoints" / "teacher-rung00.pt", weights_only=True)
    rung1 = torch.load(run / "checkpoints" / "teacher-rung01.pt", weights_only=True)
    model = MLP(64, [64, 64], 10)
    model.load_state_dict(rung0["state_dict"])
    return model, {k: v.bool() for k, v in rung1["masks"].items()}


def magnitude_cut(model, rate=0.2, **kw) -> dict:
    masks = Masks(copy.deepcopy(model))  # the cut zeroes the pruned weights: keep the caller's model intact
    masks.prune_by_scores({n: p.detach().abs() for n, p in masks.params.items()}, rate, **kw)
    return masks.masks


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("criteria")
    return {name: ladder(root / name, *extra) for name, extra in {
        "magnitude": (), "random": ("prune.criterion=random",), "gradient": ("prune.criterion=gradient",),
        "layerwise": ("prune.scope=layerwise",), "dense-head": ("prune.output_layer=false",)}.items()}


def test_default_cut_is_the_smallest_magnitudes(runs):
    model, masks = checkpoints(runs["magnitude"])
    expected = magnitude_cut(model)
    assert all(torch.equal(masks[n], expected[n]) for n in masks)


def test_random_masks_are_not_the_smallest_weights(runs):
    model, masks = checkpoints(runs["random"])
    pruned = torch.cat([p.detach().abs()[~masks[n]] for n, p in Masks(model).params.items()])
    kept = torch.cat([p.detach().abs()[masks[n]] for n, p in Masks(model).params.items()])
    assert abs((~torch.cat([m.flatten() for m in masks.values()])).float().mean() - 0.2) < 1e-3
    # a magnitude cut prunes only weights below every kept one; a random cut prunes large ones too
    assert pruned.max() > kept.median()
    assert abs(pruned.mean() - kept.mean()) < 0.25 * kept.mean()


def test_layerwise_sparsity_is_the_same_in_every_layer(runs):
    model, masks = checkpoints(runs["layerwise"])
    fractions = {n: 1 - m.float().mean().item() for n, m in masks.items()}
    for n, frac in fractions.items():
        assert abs(frac - 0.2) <= 0.5 / masks[n].numel() + 1e-9, (n, frac)
    expected = magnitude_cut(model, scope="layerwise")
    assert all(torch.equal(masks[n], expected[n]) for n in masks)
    # the global cut of the same weights is not layer-uniform: the test can tell them apart
    glob = magnitude_cut(model)
    assert max(abs(1 - m.float().mean().item() - 0.2) for m in glob.values()) > 0.01
    assert not all(torch.equal(masks[n], glob[n]) for n in masks)


def test_output_layer_false_keeps_the_classifier_dense(runs):
    model, masks = checkpoints(runs["dense-head"])
    head = output_layer_name(model)
    assert head == "classifier.weight" and bool(masks[head].all())
    expected = magnitude_cut(model, names=[n for n in masks if n != head])
    assert all(torch.equal(masks[n], expected[n]) for n in masks)


def test_gradient_score_equals_a_direct_computation(runs):
    model, masks = checkpoints(runs["gradient"])
    prof = profile_mod.load(None, [f for f in BASE if not f.startswith("stop.")])
    data = load_data(prof.data, prof.run.seed)
    gen = torch.Generator().manual_seed(prof.run.seed * 100_003 + 1 * 1_009 + 1)  # (seed, teacher, rung 1)
    idx = score_batch(len(data.train), prof.data.batch_size, gen)
    x, y = data.train.x[idx], data.train.y[idx]
    # by hand: d(mean CE)/dW for every Linear weight, times W
    params = [model.features[0].weight, model.features[2].weight, model.classifier.weight]
    loss = torch.nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params)
    direct = {n: (p.detach() * g).abs() for n, p, g in
              zip(["features.0.weight", "features.2.weight", "classifier.weight"], params, grads)}
    scores = gradient_scores(model, list(direct), x, y, idx, lambda logits, _x, _i, yy:
                             torch.nn.functional.cross_entropy(logits, yy))
    for n in direct:
        torch.testing.assert_close(scores[n], direct[n], rtol=1e-5, atol=1e-9)
    cut = Masks(copy.deepcopy(model))
    cut.prune_by_scores(direct, 0.2)
    assert all(torch.equal(masks[n], cut.masks[n]) for n in masks)  # the ladder cut by exactly this score
    assert not all(torch.equal(masks[n], m) for n, m in magnitude_cut(model).items())


def test_random_scores_are_seeded():
    model = MLP(8, [16], 3)
    a = random_scores(Masks(model).params, torch.Generator().manual_seed(5))
    b = random_scores(Masks(model).params, torch.Generator().manual_seed(5))
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_bad_criterion_is_one_line_exit_2(tmp_path):
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path), "--set", "prune.criterion=snip"])
    assert result.exit_code == 2
    assert "prune.criterion" in result.output and all(n in result.output for n in ("magnitude", "gradient", "random"))
    assert not any(tmp_path.iterdir())
