"""Where a quickstart MLP step goes, and how close dsd_tui's epoch loop is to a bare tensor loop.

    PYTHONPATH=. python bench/mlp_step.py

Prints CPU milliseconds per step (medians, one thread, the 20% mask of rung 1), measured interleaved
in one process: (1) the engine's `train_epoch` with its optimizer as the ladder builds it (the compact
step over the kept weights) against a bare loop doing only index → forward → backward → mask grads →
Adam → mask weights; (2) the parts of one bare step; (3) the Adam step with torch's
per-parameter loop, `foreach=True` (the engine's) and `fused=True`, and whether each gives bitwise
the weights of the per-parameter loop.
"""
from __future__ import annotations

import copy
import statistics
import time

import torch
import torch.nn.functional as F

from dsd_tui.core.data import Batcher, load_data
from dsd_tui.core.models import MLP
from dsd_tui.core.pruning import Masks
from dsd_tui.core.training import make_optimizer, train_epoch
from dsd_tui.profile import DataSection


def cpu_ms(fn, steps: int = 1) -> float:
    t = time.process_time()
    fn()
    return 1e3 * (time.process_time() - t) / steps


def main() -> None:
    torch.set_num_threads(1)
    bundle = load_data(DataSection(), seed=0)
    batcher = Batcher(bundle, "cpu")
    split = bundle.train
    torch.manual_seed(0)
    base = MLP(64, [512, 512], 10)

    def setup(compact=False, **adam):
        model = copy.deepcopy(base)
        masks = Masks(model)
        masks.prune_global(0.2)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, **adam) if adam else make_optimizer(
            model.parameters(), "adam", 1e-3, 0.9, 0.0, masks=masks if compact else None)
        return model, masks, opt

    engine, bare = setup(compact=True), setup()
    gen = torch.Generator().manual_seed(0)
    steps = -(-len(split) // 128)

    def engine_epoch():
        model, masks, opt = engine
        train_epoch(model, masks, batcher, split, 128, gen, opt)

    def bare_epoch():
        model, masks, opt = bare
        order = torch.randperm(len(split), generator=gen)
        for s in range(0, len(split), 128):
            idx = order[s:s + 128]
            loss = F.cross_entropy(model(split.x[idx]), split.y[idx])
            opt.zero_grad()
            loss.backward()
            masks.apply_to_grads()
            opt.step()
            masks.apply_to_weights()

    times = {"engine train_epoch": [], "bare loop": []}
    for r in range(30):
        pair = [("engine train_epoch", engine_epoch), ("bare loop", bare_epoch)]
        for name, fn in (pair if r % 2 else pair[::-1]):
            times[name].append(cpu_ms(fn, steps))
    for name, v in times.items():
        print(f"{name:<20} {statistics.median(v):6.2f} CPU ms/step")

    model, masks, opt = bare
    x, y = split.x[:128], split.y[:128]
    parts = {"forward+loss": [], "backward": [], "mask grads": [], "Adam step": [], "mask weights": []}
    for _ in range(200):
        t = [time.process_time()]
        loss = F.cross_entropy(model(x), y)
        t.append(time.process_time())
        opt.zero_grad()
        loss.backward()
        t.append(time.process_time())
        masks.apply_to_grads()
        t.append(time.process_time())
        opt.step()
        t.append(time.process_time())
        masks.apply_to_weights()
        t.append(time.process_time())
        for i, k in enumerate(parts):
            parts[k].append(1e3 * (t[i + 1] - t[i]))
    print("one step: " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in parts.items()) + " (CPU ms)")

    variants = {"per-parameter": setup(foreach=False), "foreach": setup(foreach=True), "fused": setup(fused=True)}
    step_ms = {k: [] for k in variants}
    for _ in range(60):
        for name, (model, masks, opt) in variants.items():
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            masks.apply_to_grads()
            step_ms[name].append(cpu_ms(opt.step))
            masks.apply_to_weights()
    ref = list(variants["per-parameter"][0].parameters())
    for name, (model, _m, _o) in variants.items():
        same = all(torch.equal(a, b) for a, b in zip(ref, model.parameters()))
        print(f"Adam {name:<14} {statistics.median(step_ms[name]):5.2f} CPU ms/step, bitwise equal: {same}")


if __name__ == "__main__":
    main()
