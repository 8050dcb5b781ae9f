"""CSR kernels for highly pruned Linear layers (`train.sparse_kernels`): the ladder's tail, faster.

Why it exists: from rung 10 of the quickstart on, ≥ 89% of the MLP's weights are zero, yet a dense
step still multiplies all of them, forward and backward. With the compact optimizer
(`kept_weights.py`) already holding each pruned weight's kept entries as one 1-D tensor in row-major
order, that tensor *is* the value array of a CSR matrix whose pattern is the rung's mask (fixed for
the whole rung). So, for every large Linear layer with at most `MAX_DENSITY` of its weights kept, a rung
can train through three sparse products whose cost is proportional to the kept weights:

- forward        y = x·Wᵀ + b        as  yᵀ = W·xᵀ + b        (CSR × dense)
- input grad     ∂x = ∂y·W           as  ∂xᵀ = Wᵀ·∂yᵀ          (CSR of Wᵀ × dense; same values, permuted)
- weight grad    ∂W = ∂yᵀ·x on the kept entries only           (`torch.sparse.sampled_addmm`)

The weight gradient goes straight to the compact tensor, which the inner optimizer steps as before;
the dense parameter is refreshed from it after every step (a scatter of the kept entries), so
evaluation, the entropy pass, checkpoints and the mask check see the usual dense weights.

Which layers: those where bench/sparse_kernels.py measured a win (table in docs/benchmarks.md): at
least `MIN_WEIGHTS` weights and `MIN_OUT` output features, at most `MAX_DENSITY` kept. The same rule
serves `true` and the default `"auto"`; `"auto"` also keeps the whole run dense off the CPU, at more
than one thread and under bf16/compile (`modes.sparse_kernels_on`).

It is the same arithmetic in exact arithmetic, but not bit for bit: the sparse kernels add the
products in another order than dense BLAS (≈ 1 ulp per output), so a ladder's curves drift apart
from the dense path's as training amplifies rounding, as any change of BLAS or thread count would.
Hence recorded in the summary (`environment.speed.sparse_kernels`), checked against the dense path
over seeds in docs/benchmarks.md, and one `--set train.sparse_kernels=false` away from the exact dense
path. fp32 only, and not with `train.compile` (the profile rejects `true` with those). Conv layers
always run dense.
"""
from __future__ import annotations

import contextlib
import functools
import warnings
from dataclasses import dataclass

import torch
from torch import nn

# When a Linear layer takes the CSR kernels. The thresholds come from bench/sparse_kernels.py (the table and
# its command are in docs/benchmarks.md): a large layer wins only well below its break-even density, and MKL's
# sparse products carry a fixed cost per call and per output row that makes a layer with few outputs (every
# built-in classifier, however many inputs it has) lose at any density.
MAX_DENSITY = 0.2  # at most this fraction of the layer's weights kept
MIN_WEIGHTS = 32_768  # and at least this many weights in the layer (512×64, the MLP's first layer)
MIN_OUT = 512  # and at least this many output features (the smallest measured winner; 100×512 loses)


@dataclass
class CsrPattern:
    """The rung's fixed sparsity pattern of one Linear weight (out × in), in both orientations."""

    shape: tuple[int, int]
    crow: torch.Tensor  # CSR of W: row pointers (out + 1)
    col: torch.Tensor  # column of each kept entry, in row-major order (= the compact tensor's order)
    crow_t: torch.Tensor  # CSR of Wᵀ: row pointers (in + 1)
    col_t: torch.Tensor  # row of W of each entry of Wᵀ
    perm: torch.Tensor  # Wᵀ's values = W's values[perm]

    @classmethod
    def from_mask(cls, mask: torch.Tensor) -> "CsrPattern":
        return cls.from_kept(mask.flatten().nonzero().flatten(), tuple(mask.shape))

    @classmethod
    def from_kept(cls, kept: torch.Tensor, shape: tuple[int, int]) -> "CsrPattern":
        """From the row-major flat indices of the kept entries (the compact optimizer's `kept`)."""
        _quiet_beta_warning()
        out_f, in_f = shape
        rows, cols = kept // in_f, kept % in_f
        crow = _row_pointers(rows, out_f)
        perm = torch.argsort(cols * out_f + rows)
        crow_t = _row_pointers(cols[perm], in_f)
        return cls((out_f, in_f), crow, cols, crow_t, rows[perm], perm)

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        return _csr(self.crow, self.col, values, self.shape)

    def transposed(self, values: torch.Tensor) -> torch.Tensor:
        return _csr(self.crow_t, self.col_t, values[self.perm], self.shape[::-1])


def _csr(crow, col, values, shape) -> torch.Tensor:
    # The pattern is built from a mask here, so it is valid by construction: no invariant checks per step.
    return torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)


@functools.cache
def _quiet_beta_warning() -> None:
    """torch warns once per process that CSR support is in beta; a run's output is not the place for it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _csr(torch.zeros(2, dtype=torch.int64), torch.zeros(1, dtype=torch.int64), torch.ones(1), (1, 1))


def _row_pointers(rows: torch.Tensor, n: int) -> torch.Tensor:
    counts = torch.bincount(rows, minlength=n)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


class _CsrLinear(torch.autograd.Function):
    """y = x·Wᵀ + b with W given by (pattern, values); gradients for x, the values and b."""

    @staticmethod
    def forward(ctx, x, values, bias, pattern: CsrPattern):
        w = pattern.matrix(values)
        x_t = x.t()
        y_t = torch.addmm(bias.unsqueeze(1), w, x_t) if bias is not None else torch.mm(w, x_t)
        ctx.save_for_backward(x, values)
        ctx.pattern = pattern
        ctx.has_bias = bias is not None
        return y_t.t()  # a transposed view: the next CSR layer's xᵀ is then contiguous

    @staticmethod
    def backward(ctx, grad_y):
        x, values = ctx.saved_tensors
        pattern: CsrPattern = ctx.pattern
        grad_x = grad_values = grad_bias = None
        grad_y_t = grad_y.t()
        if ctx.needs_input_grad[0]:
            grad_x = torch.mm(pattern.transposed(values), grad_y_t).t()
        if ctx.needs_input_grad[1]:
            grad_values = torch.sparse.sampled_addmm(pattern.matrix(values), grad_y_t, x, beta=0.0).values()
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_y.sum(0)
        return grad_x, grad_values, grad_bias, None


def csr_linear(x: torch.Tensor, values: torch.Tensor, bias: torch.Tensor | None, pattern: CsrPattern):
    return _CsrLinear.apply(x.flatten(1) if x.dim() > 2 else x, values, bias, pattern)


def large_enough(module: nn.Module, min_weights: int = MIN_WEIGHTS, min_out: int = MIN_OUT) -> bool:
    """The size half of the rule: a Linear layer this large takes the CSR kernels in every rung where at most
    `MAX_DENSITY` of it is kept (the density half, which changes rung by rung)."""
    return isinstance(module, nn.Linear) and module.weight.numel() >= min_weights and module.out_features >= min_out


def candidate_layers(model: nn.Module) -> list[str]:
    """The names of the model's layers large enough for the CSR kernels: the only ones that can ever take them."""
    return [name for name, module in model.named_modules() if large_enough(module)]


@contextlib.contextmanager
def sparse_linears(model: nn.Module, opt, max_density: float = MAX_DENSITY, min_weights: int = MIN_WEIGHTS,
                   min_out: int = MIN_OUT):
    """For one rung: the Linear layers of `model` with at least `min_weights` weights and `min_out`
    outputs, at most `max_density` of them kept, run their forward (and so their backward) through the
    CSR kernels on the compact optimizer's kept values. Yields the names of those layers; restores the
    dense forwards on leaving."""
    slots = {id(s.param): s for s in getattr(opt, "slots", [])}
    patched: list[nn.Linear] = []
    names: list[str] = []
    try:
        for name, module in model.named_modules():
            if not large_enough(module, min_weights, min_out):
                continue
            slot = slots.get(id(module.weight))
            if slot is None or slot.compact.numel() > max_density * module.weight.numel():
                continue
            pattern = CsrPattern.from_kept(slot.kept, tuple(module.weight.shape))
            opt.take_grad_directly(slot)
            module.forward = _forward_of(slot.compact, module.bias, pattern)
            patched.append(module)
            names.append(name)
        yield names
    finally:
        for module in patched:
            del module.forward  # back to the class's dense forward
        for slot in slots.values():
            opt.take_grad_from_param(slot)


def _forward_of(values: torch.Tensor, bias, pattern: CsrPattern):
    def forward(x):
        return csr_linear(x, values, bias, pattern)
    return forward
