"""Where a rung is pruned: the cut by score and the masks that keep pruned weights at zero.

The prunable weights are the `weight` of every Conv2d and Linear (no biases, no BatchNorm). By default
(the paper's) one rung removes round(rate · remaining) of the still-kept weights with the smallest |w|,
over all layers at once, the same cut as `torch.nn.utils.prune.global_unstructured(..., L1Unstructured)`.
Other scores (gradient, random, plugins: `criteria/`), a per-layer cut and a dense output layer are
the `prune.criterion`, `prune.scope` and `prune.output_layer` keys.
No forward hooks: pruned weights are zeroed once at the rung start, and within a rung either the
compact optimizer (`kept_weights.py`, the ladder's) never writes them or, with a plain torch optimizer,
the masks are applied in place around its step; either way a pruned weight stays exactly zero through
gradients, momentum and weight decay.
"""
from __future__ import annotations

import torch
from torch import nn


class Masks:
    """Binary masks (1 = kept) keyed by state-dict weight name, bound to the model's parameters."""

    def __init__(self, model: nn.Module, masks: dict[str, torch.Tensor] | None = None):
        self.params: dict[str, nn.Parameter] = prunable_parameters(model)
        if masks is None:
            masks = {n: torch.ones_like(p, dtype=torch.bool) for n, p in self.params.items()}
        missing = set(self.params) ^ set(masks)
        if missing:
            raise ValueError(f"masks do not match the model's prunable weights: {sorted(missing)[:3]}")
        self.masks = {n: masks[n].to(self.params[n].device, torch.bool) for n in self.params}
        self._refresh()

    def _refresh(self) -> None:
        self._plist = list(self.params.values())
        self._mlist = [self.masks[n].to(self.params[n].dtype) for n in self.params]
        self._pruned = [~self.masks[n] for n in self.params]

    # -- counting
    def total(self) -> int:
        return sum(m.numel() for m in self.masks.values())

    def kept(self) -> int:
        return int(sum(int(m.sum()) for m in self.masks.values()))

    def sparsity(self) -> float:
        return 1.0 - self.kept() / self.total()

    def sizes(self) -> dict[str, int]:
        """Weights per prunable layer (state-dict name -> count)."""
        return {n: m.numel() for n, m in self.masks.items()}

    @torch.no_grad()
    def kept_by_layer(self) -> dict[str, int]:
        """Kept weights per prunable layer (state-dict name -> count); one host read in all."""
        counts = torch.stack([m.sum() for m in self.masks.values()]).tolist()
        return {n: int(c) for n, c in zip(self.masks, counts)}

    # -- keeping pruned weights at zero
    @torch.no_grad()
    def apply_to_weights(self) -> None:
        """Per step (plain optimizer path): weight · mask, one multi-tensor kernel."""
        torch._foreach_mul_(self._plist, self._mlist)

    @torch.no_grad()
    def zero_pruned(self) -> None:
        """At a rung start (after pruning, rewinding, restoring): pruned weights set to +0.0.

        Not weight · mask, which leaves -0.0 where a negative weight was pruned: from -0.0 a plain SGD step
        can give +0.0 while the compact step (which never writes a pruned entry) keeps -0.0, equal values
        but not equal bits. From +0.0 every path keeps +0.0. (masked_fill is much slower than the
        multiplication on the CPU, so the per-step path keeps the multiplication.)"""
        for p, pruned in zip(self._plist, self._pruned):
            p.masked_fill_(pruned, 0.0)

    @torch.no_grad()
    def apply_to_grads(self) -> None:
        grads = [p.grad for p in self._plist if p.grad is not None]
        if len(grads) == len(self._plist):
            torch._foreach_mul_(grads, self._mlist)
        else:
            for p, m in zip(self._plist, self._mlist):
                if p.grad is not None:
                    p.grad.mul_(m)

    @torch.no_grad()
    def pruned_nonzero(self) -> dict[str, int]:
        """Pruned weights that are not zero, per layer (only layers with any); one host read in all."""
        counts = torch.stack([torch.count_nonzero(p.masked_fill(self.masks[n], 0)) for n, p in self.params.items()])
        return {n: int(c) for n, c in zip(self.params, counts.tolist()) if c}

    def pruned_are_zero(self) -> bool:
        return not self.pruned_nonzero()

    # -- one rung
    @torch.no_grad()
    def prune_global(self, rate: float) -> int:
        """Remove round(rate · kept) of the kept weights with the smallest |w| (global); returns the count."""
        return self.prune_by_scores({n: p.detach().abs() for n, p in self.params.items()}, rate)

    @torch.no_grad()
    def prune_by_scores(self, scores: dict[str, torch.Tensor], rate: float, scope: str = "global",
                        names: list[str] | None = None) -> int:
        """Remove the kept weights with the smallest score; returns the count removed.

        `scores` holds one tensor per weight name (shaped like the weight). `names` are the weights that
        may be pruned (default: all); the others keep their masks. scope "global": round(rate · kept) of
        the kept weights of `names` taken together; "layerwise": round(rate · kept) of each weight's own."""
        names = list(self.params) if names is None else [n for n in self.params if n in names]
        groups = [names] if scope == "global" else [[n] for n in names]
        count = 0
        for group in groups:
            count += self._cut(group, torch.cat([scores[n].flatten() for n in group]), rate)
        self._refresh()
        self.zero_pruned()
        return count

    def _cut(self, names: list[str], scores: torch.Tensor, rate: float) -> int:
        kept = torch.cat([self.masks[n].flatten() for n in names])
        kept_idx = kept.nonzero().flatten()
        count = int(round(rate * kept_idx.numel()))
        if count == 0:
            return 0
        smallest = torch.topk(scores[kept_idx], k=count, largest=False).indices
        kept[kept_idx[smallest]] = False
        offset = 0
        for n in names:
            size = self.masks[n].numel()
            self.masks[n] = kept[offset:offset + size].view_as(self.masks[n]).clone()
            offset += size
        return count

    def state(self) -> dict[str, torch.Tensor]:
        """Masks as saved in checkpoints: uint8, 1 = kept, on the CPU."""
        return {n: m.to("cpu", torch.uint8) for n, m in self.masks.items()}


def output_layer_name(model: nn.Module) -> str | None:
    """The state-dict name of the output layer's weight: the model's last Linear (in module order)."""
    last = None
    for mname, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = f"{mname}.weight" if mname else "weight"
    return last


def prunable_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The `weight` of every Conv2d and Linear, keyed by its state-dict name."""
    out = {}
    for mname, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            out[f"{mname}.weight" if mname else "weight"] = module.weight
    return out
