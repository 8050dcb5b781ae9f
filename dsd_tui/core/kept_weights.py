"""The optimizer step over the kept weights only: the exact fast path of a pruned rung.

Why it exists: within a rung a pruned weight is zero, its gradient is masked to zero, and its
momentum / Adam moments are zero for the whole rung because the optimizer is rebuilt at every rung
(docs/design.md, "Rungs"); its weight-decay term is zero too, since the weight is. So its update is
exactly zero, and the plain path (mask the gradients, step the whole tensor, mask the weights) spends
a full optimizer step to compute nothing for it. From rung 10 of the quickstart on, ≥ 89% of the
weights are pruned: most of the optimizer's work was on zeros.

`KeptWeightsOptimizer` runs the same torch optimizer (same class, same hyper-parameters, same foreach
kernels) over, for each partly pruned weight, a 1-D tensor of its kept entries, gathered once when
the optimizer is built at the rung start. A step gathers the kept entries of the gradient, steps, and
scatters the kept weights back into the model's parameter; the pruned entries are never written, so
they stay exactly zero without the two mask multiplications. Parameters with nothing pruned (biases,
BatchNorm, every weight at rung 0) are stepped in place, as plain torch would. The arithmetic on every
kept entry is the same elementwise arithmetic as in the plain path, so the weights are bitwise the
same (tests/speed/test_speed.py checks it for Adam and for SGD with momentum and weight decay).

Its `state_dict()` is expanded to the plain optimizer's format (full-shape moments, zero at pruned
entries, which is what the plain path holds there), and `load_state_dict()` accepts that format, so
resume state files are unchanged and interchangeable with the plain path's.

The invariant it relies on: during a rung, only this optimizer writes the prunable weights (the
ladder sets them, prunes and rewinds before building it), and the masks do not change.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dsd_tui.core.pruning import Masks


def flat_view(t: torch.Tensor) -> torch.Tensor:
    """A 1-D view of `t` in memory order (contiguous and channels_last tensors alike)."""
    order = sorted(range(t.dim()), key=lambda d: -t.stride(d))
    p = t.permute(order)
    if not p.is_contiguous():
        raise ValueError(f"a parameter with strides {t.stride()} is not dense; it cannot be compacted")
    return p.view(-1)


@dataclass
class _Slot:
    """One partly pruned parameter: its kept entries (memory-order indices) and their compact copy."""

    index: int  # position in the optimizer's parameter list (= in the plain optimizer's state dict)
    param: nn.Parameter
    kept: torch.Tensor  # int64 indices into flat_view(param)
    compact: torch.Tensor  # the kept weights, what the inner optimizer steps
    grad: torch.Tensor  # buffer for the kept entries of the gradient
    direct: bool = False  # the compact tensor gets its gradient from autograd (sparse_linear.py)


class KeptWeightsOptimizer:
    """A torch optimizer stepping only the kept entries of the pruned parameters (see the module doc).

    Built from the model's parameters, the rung's masks and a factory making the torch optimizer from
    a parameter list. `step()` replaces the plain path's mask-grads / step / mask-weights."""

    keeps_pruned_at_zero = True  # train_epoch: no mask multiplications around this optimizer's step

    def __init__(self, params, masks: Masks, make):
        params = list(params)
        mask_of = {id(p): masks.masks[n] for n, p in masks.params.items()}
        self.params = params
        self.slots: list[_Slot] = []
        inner_params = []
        with torch.no_grad():
            for i, p in enumerate(params):
                mask = mask_of.get(id(p))
                if mask is None or bool(mask.all()):
                    inner_params.append(p)  # nothing pruned: stepped in place, as plain torch does
                    continue
                kept = _memory_order_copy(mask.to(p.device), p).nonzero().flatten()
                compact = flat_view(p).index_select(0, kept)
                self.slots.append(_Slot(i, p, kept, compact, torch.empty_like(compact)))
                inner_params.append(compact)
        self.inner: torch.optim.Optimizer = make(inner_params)

    # -- what the ladder and the scheduler use
    @property
    def param_groups(self):
        return self.inner.param_groups

    def kept(self) -> int:
        """Entries the inner optimizer steps (kept entries of the pruned weights + every other parameter)."""
        return sum(p.numel() for g in self.inner.param_groups for p in g["params"])

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)
        for s in self.slots:
            if set_to_none:
                s.param.grad = None
            elif s.param.grad is not None:
                s.param.grad.zero_()

    def take_grad_directly(self, slot: _Slot) -> None:
        """The slot's compact tensor is used in the forward itself (CSR kernels): autograd writes its
        gradient, so `step` skips the gather from the dense parameter's gradient."""
        slot.direct = True
        slot.compact.requires_grad_(True)

    def take_grad_from_param(self, slot: _Slot) -> None:
        slot.direct = False
        slot.compact.grad = None
        slot.compact.requires_grad_(False)

    @torch.no_grad()
    def step(self) -> None:
        for s in self.slots:
            if s.direct:
                continue
            g = s.param.grad
            if g is None:
                s.compact.grad = None  # no gradient: the plain optimizer skips the parameter too
                continue
            flat = flat_view(g) if g.stride() == s.param.stride() else _memory_order_copy(g, s.param)
            s.compact.grad = torch.index_select(flat, 0, s.kept, out=s.grad)
        self.inner.step()
        for s in self.slots:
            if s.compact.grad is not None:
                flat_view(s.param).index_copy_(0, s.kept, s.compact)

    # -- resume state, in the plain optimizer's format
    def state_dict(self) -> dict:
        sd = self.inner.state_dict()
        return {**sd, "state": self._slot_states(sd["state"], _expanded)}

    def load_state_dict(self, sd: dict) -> None:
        self.inner.load_state_dict({**sd, "state": self._slot_states(sd["state"], _compacted)})

    def _slot_states(self, state: dict, convert) -> dict:
        """The optimizer state with each slot's tensors passed through `convert(slot, tensor)`."""
        state = dict(state)
        for s in self.slots:
            if s.index in state:
                state[s.index] = {k: convert(s, v) if isinstance(v, torch.Tensor) else v
                                  for k, v in state[s.index].items()}
        return state


def _expanded(s: _Slot, v: torch.Tensor) -> torch.Tensor:
    """A slot's compact moment in the parameter's full shape, zero at the pruned entries (the plain format)."""
    if v.shape != s.compact.shape:
        return v
    out = torch.zeros_like(s.param, dtype=v.dtype)
    flat_view(out).index_copy_(0, s.kept, v)
    return out


def _compacted(s: _Slot, v: torch.Tensor) -> torch.Tensor:
    """A full-shape moment (the plain format) as the slot's compact one: its kept entries."""
    if v.shape != s.param.shape:
        return v
    return _memory_order_copy(v.to(s.param.device), s.param).index_select(0, s.kept)


def _memory_order_copy(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`t` flattened in the memory order of `like` (a copy when their strides differ)."""
    order = sorted(range(like.dim()), key=lambda d: -like.stride(d))
    return t.permute(order).reshape(-1)
