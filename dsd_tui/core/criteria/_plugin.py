"""The plugin contract of group `dsd_tui.criteria` (and of criteria registered from Python), adapted to
the one internal interface (`_base.Criterion`).

    score(model, weights, batch) -> dict[str, Tensor]        # or score(model, weights, batch, context=...)

- `model`: a train-mode deep copy of the phase's network; the function may change it (run it, backprop).
- `weights`: {state-dict name: that copy's Parameter} for the masked prunable weights in scope (pruned
  ones are zero), so gradients taken through `model` reach them.
- `batch`: (x, y), one seeded training batch drawn as the gradient criterion draws it (x prepared as
  the model takes it, y the noisy labels).
- `context` (only if the function takes that keyword): `Context` below: the phase's loss (the student's
  KD loss included) as `loss(logits, x, y)` for that batch's x, a seeded torch.Generator, the phase, the rung.
It returns scores of exactly the names of `weights`, shaped like them, finite; smaller is pruned first.
dsd_tui applies the scope, the output-layer rule and "pruned stays pruned" (only kept weights are
ranked), and seeds and restores the global RNG around the call. Anything else is a PluginError naming
the plugin and its package (one line, exit 2). Before a run starts, runner.preflight calls it once on
a freshly built teacher network and the first training samples (context.rung = 0), so a broken
plugin is refused before the run directory exists.
"""
from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Any, Callable

import torch

from dsd_tui.core.pruning import prunable_parameters
from dsd_tui.registry import Entry, PluginError


@dataclass(frozen=True)
class Context:
    """What a criterion that takes `context` gets besides the model, weights and batch."""

    loss: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # loss(logits, x, y): the phase's
    generator: torch.Generator  # seeded from (seed, phase, rung), already past the batch's draw
    phase: str  # "teacher" | "student"
    rung: int  # the rung being cut (1 = the first pruned rung; 0 = the preflight check on a fresh network)


def adapt(fn: Any, entry: Entry):
    """A plugin function (or a bundled-style Criterion registered from Python) as a `Criterion`."""
    from dsd_tui.core.criteria._base import Criterion
    if isinstance(fn, Criterion):
        return fn
    if not callable(fn):
        raise PluginError(f"pruning criterion {entry.where()} is of type {type(fn).__name__}, not a function "
                          f"score(model, weights, batch); fix that package")
    return Criterion(PluginScore(fn, entry), "plugin")


def takes_context(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature: called without context
        return False
    p = params.get("context")
    return p is not None and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)


class PluginScore:
    """Calls a contract function for one CutRequest and checks what it returns."""

    def __init__(self, fn: Callable, entry: Entry):
        self.fn, self.entry, self.context = fn, entry, takes_context(fn)

    def __call__(self, request) -> dict[str, torch.Tensor]:
        x, y, idx = request.draw_batch()
        work = copy.deepcopy(request.model).train()
        for p in work.parameters():
            p.requires_grad_(True)
            p.grad = None
        copies = prunable_parameters(work)
        weights = {n: copies[n] for n in request.names}
        kwargs = {}
        if self.context:
            kwargs["context"] = Context(batch_loss(request.loss, x, idx), request.gen, request.phase, request.rung)
        try:
            out = self.fn(work, weights, (x, y), **kwargs)
        except PluginError:
            raise
        except Exception as e:  # noqa: BLE001 - whatever a plugin raises is one line naming it
            raise self.error(f"raised {e.__class__.__name__}: {str(e).strip()[:120]}") from None
        return self.checked(out, weights)

    def error(self, what: str) -> PluginError:
        return PluginError(f"pruning criterion {self.entry.where()} {what}; fix that package (the contract: "
                           f"docs/plugins.md)")

    def checked(self, out, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if not isinstance(out, dict):
            raise self.error(f"returned a {type(out).__name__}, not a dict of score tensors")
        missing, extra = sorted(set(weights) - set(out)), sorted(set(out) - set(weights))
        if missing or extra:
            bad = f"no scores for {missing[:3]}" if missing else f"scores for names not in scope {extra[:3]}"
            raise self.error(f"returned {bad} (it must score exactly the weights it was given)")
        scores = {}
        for n, w in weights.items():
            s = out[n]
            if not isinstance(s, torch.Tensor):
                raise self.error(f"returned a {type(s).__name__} for {n!r}, not a tensor")
            if tuple(s.shape) != tuple(w.shape):
                raise self.error(f"returned scores of shape {tuple(s.shape)} for {n!r}, whose weight is "
                                 f"{tuple(w.shape)}")
            s = s.detach().to(w.device)
            if not s.is_floating_point():
                s = s.to(torch.float64)
            if not bool(torch.isfinite(s).all()):
                raise self.error(f"returned NaN or infinite scores for {n!r}")
            scores[n] = s
        return scores


def batch_loss(loss: Callable, batch_x: torch.Tensor, idx: torch.Tensor):
    """The phase's loss as loss(logits, x, y) for the criterion's batch: the student's KD loss may read the
    teacher's cached outputs of those samples, so x must be the batch's x."""
    def fn(logits, x, y):
        if x is not batch_x and not (x.shape == batch_x.shape and torch.equal(x, batch_x)):
            raise ValueError("context.loss(logits, x, y) takes the x of the batch it was given")
        return loss(logits, x, idx, y)
    return fn
