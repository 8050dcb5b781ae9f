"""What a rung's sparsity buys at inference: file sizes, and CPU time with dense against sparse kernels.

`dsd-tui export --format model --time` prints it; bench/export_inference.py tabulates it over a ladder's
rungs (docs/benchmarks.md). The sparse network is the same one with every Linear layer's weight held as a
torch CSR matrix (`CsrLinear`: y = (W·xᵀ)ᵀ + b, one `torch.sparse.mm`); Conv layers have no CSR kernel in
torch and stay dense. Times are the median of several measurements, each a loop long enough (≥ 20 ms) to
swamp the timer's resolution, at one torch thread (the figure per core; restored afterwards), after a
warm-up, under `torch.inference_mode`.
"""
from __future__ import annotations

import copy
import statistics
import time
import warnings
from dataclasses import dataclass

import torch
from torch import nn

BATCHES = (1, 256)  # samples per forward pass
REPEATS = 7  # measurements per figure; the median is reported
MIN_LOOP_S = 0.02  # seconds one measurement lasts at least


class CsrLinear(nn.Module):
    """A Linear layer whose weight is a CSR matrix (pruned entries not stored): the sparse kernel."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        with warnings.catch_warnings():  # "sparse CSR support is in beta": said once per layer, not news here
            warnings.simplefilter("ignore", UserWarning)
            self.weight = linear.weight.detach().to_sparse_csr()
        self.bias = None if linear.bias is None else linear.bias.detach().clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        y = torch.sparse.mm(self.weight, flat.t()).t()
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], y.shape[-1])


def with_csr_linears(model: nn.Module) -> tuple[nn.Module, int]:
    """A copy of `model` with every Linear on CSR kernels, and how many layers that is."""
    sparse = copy.deepcopy(model).eval()
    names = [n for n, m in sparse.named_modules() if isinstance(m, nn.Linear)]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = sparse.get_submodule(parent_name) if parent_name else sparse
        setattr(parent, child, CsrLinear(getattr(parent, child)))
    return sparse, len(names)


def median_seconds(model: nn.Module, x: torch.Tensor, repeats: int = REPEATS) -> float:
    """The median time of one forward pass of `x`, in seconds."""
    with torch.inference_mode():
        model(x)  # warm-up: allocations, lazy kernel setup
        loops, took = 1, 0.0
        while took < MIN_LOOP_S:  # calibrate: enough passes per measurement
            start = time.perf_counter()
            for _ in range(loops):
                model(x)
            took = time.perf_counter() - start
            loops = loops * 2 if took < MIN_LOOP_S else loops
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(loops):
                model(x)
            runs.append((time.perf_counter() - start) / loops)
    return statistics.median(runs)


@dataclass(frozen=True)
class Timing:
    batch: int
    dense_s: float
    sparse_s: float
    max_abs_diff: float  # largest |dense − sparse| logit: the two networks compute the same function

    @property
    def speedup(self) -> float:
        return self.dense_s / self.sparse_s


def time_network(model: nn.Module, input_shape: tuple, batches=BATCHES, repeats: int = REPEATS) -> tuple[list, int]:
    """Dense vs CSR timings at each batch size, and the number of layers on CSR kernels."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        dense = model.eval()
        sparse, n_csr = with_csr_linears(dense)
        gen = torch.Generator().manual_seed(0)
        out = []
        for batch in batches:
            x = torch.randn((batch, *input_shape), generator=gen)
            with torch.inference_mode():
                diff = float((dense(x) - sparse(x)).abs().max())
            out.append(Timing(batch, median_seconds(dense, x, repeats), median_seconds(sparse, x, repeats), diff))
        return out, n_csr
    finally:
        torch.set_num_threads(threads)


def report(run_dir, summary, choice) -> list[str]:
    """The lines `--time` prints for a rung: both files' sizes, then dense vs CSR time per batch size."""
    from dsd_tui.export import model_file
    from dsd_tui.export.rung_network import arch_facts, build_network, load_weights
    from dsd_tui.record.rundir import torch_bytes
    dense_data = model_file.payload(run_dir, summary, choice, sparse=False)
    sizes = {s: len(torch_bytes(model_file.payload(run_dir, summary, choice, sparse=s == "sparse")))
             for s in ("dense", "sparse")}
    facts = arch_facts(dense_data)
    model = load_weights(build_network(facts), dense_data["state_dict"], str(run_dir))
    timings, n_csr = time_network(model, facts.input_shape)
    lines = [f"file size: dense {sizes['dense'] / 1e6:.3f} MB, sparse {sizes['sparse'] / 1e6:.3f} MB "
             f"({sizes['dense'] / sizes['sparse']:.1f}× smaller) at sparsity {choice.record.sparsity:.1%}",
             f"CPU inference, 1 thread, median of {REPEATS}; sparse = {n_csr} Linear layer(s) on torch CSR kernels "
             f"(Conv layers stay dense):"]
    for t in timings:
        lines.append(f"  batch {t.batch:>4}: dense {t.dense_s * 1e3:9.3f} ms, sparse {t.sparse_s * 1e3:9.3f} ms "
                     f"(speedup {t.speedup:.2f}×; max |Δ| {t.max_abs_diff:.1e})")
    return lines
