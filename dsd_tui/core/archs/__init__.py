"""The architectures a profile may name (`model.arch`, `distill.arch`): one registry, one file per network.

Each bundled network registers an `Architecture` in its own module here; an installed package adds one
through an entry point in the group `dsd_tui.models`, and Python code through `dsd_tui.register_model`.
A plugin gives only the contract `factory(num_classes, input_shape) -> torch.nn.Module`; `plugin_architecture`
wraps it into an `Architecture` whose first build (the run's preflight) checks what the ladder relies on,
so a broken plugin is one line naming it and its package before any run directory exists.

Nothing here imports torch: the profile checks read this registry's names, and `dsd-tui` should start
quickly. The bundled modules import their networks (core/models.py) only when one is built.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from dsd_tui.registry import Entry, PluginError, Registry


@dataclass(frozen=True)
class Architecture:
    """What the ladder, the profile checks and the cost estimate need from one network.

    - `build(model_cfg, input_shape, num_classes) -> nn.Module`: a fresh network drawing its init from
      torch's global RNG (the ladder seeds it); `model_cfg` is the profile's [model] section.
    - `needs_images`: takes only 3×32×32 images (the profile refuses it on data sets whose `image_note`
      says they are not).
    - `gpu_ms_per_step`: the per-step time `dsd-tui sweep --dry-run` assumes on one GPU; None for the
      networks it prices on a CPU core from their multiply-adds.
    - `hidden_widths(model_cfg) -> list[int]`: an MLP's hidden widths (neurons), for that CPU estimate.
    """

    name: str
    build: Callable[[Any, tuple, int], Any]
    needs_images: bool = False
    gpu_ms_per_step: float | None = None
    hidden_widths: Callable[[Any], list[int]] | None = None


class PluginFactory:
    """A plugin's `factory(num_classes, input_shape)` behind the bundled `build` signature. The first build
    for each (input_shape, num_classes) checks the model: an nn.Module, at least one Linear/Conv2d weight to
    prune, and logits of shape (2, num_classes) from a zero batch of two inputs. Every failure, an exception
    inside the factory included, is a `PluginError` naming the plugin and its package."""

    def __init__(self, factory: Callable, where: str):
        self.factory = factory
        self.where = where
        self.checked: set = set()  # the (input_shape, num_classes) already checked

    def fail(self, problem: str) -> PluginError:
        return PluginError(f"architecture plugin {self.where}: {problem}; fix the plugin's factory or choose "
                           f"another architecture")

    def __call__(self, model_cfg, input_shape: tuple, num_classes: int):
        from torch import nn

        shape = tuple(int(d) for d in input_shape)
        try:
            model = self.factory(num_classes, shape)
        except Exception as e:  # noqa: BLE001 - whatever a plugin raises is one line naming it
            raise self.fail(f"factory({num_classes}, {shape}) raised {e.__class__.__name__}: "
                            f"{(str(e).splitlines() or [''])[0][:120]}") from None
        if not isinstance(model, nn.Module):
            raise self.fail(f"returned {type(model).__name__}, not a torch.nn.Module")
        if (shape, num_classes) not in self.checked:
            self.check(model, shape, num_classes)
            self.checked.add((shape, num_classes))
        return model

    def check(self, model, shape: tuple, num_classes: int) -> None:
        import torch
        from torch import nn

        if not any(isinstance(m, (nn.Linear, nn.Conv2d)) for m in model.modules()):
            raise self.fail("returned a model with no Linear or Conv2d layer to prune")
        params = list(model.parameters())
        if any(p.is_meta for p in params):  # built on the meta device (no weights): nothing to run
            return
        device = params[0].device if params else torch.device("cpu")
        was_training = model.training
        try:
            with torch.no_grad():
                out = model.eval()(torch.zeros((2, *shape), device=device))
        except Exception as e:  # noqa: BLE001 - the plugin's forward, whatever it raises
            raise self.fail(f"its forward pass on a zero batch of shape {(2, *shape)} raised "
                            f"{e.__class__.__name__}: {(str(e).splitlines() or [''])[0][:100]}") from None
        finally:
            model.train(was_training)
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        if got != (2, num_classes):
            raise self.fail(f"gives outputs {got} for a batch of 2 inputs of shape {shape}; expected logits "
                            f"of shape (2, {num_classes})")


def plugin_architecture(factory: Any, entry: Entry) -> Architecture:
    """The registry's `adapt`: a plugin's or Python-registered factory as an `Architecture`."""
    if not callable(factory):
        raise PluginError(f"architecture plugin {entry.where()}: is a {type(factory).__name__}, not a "
                          f"factory(num_classes, input_shape) function")
    return Architecture(entry.name, PluginFactory(factory, entry.where()))


ARCHITECTURES: Registry[Architecture] = Registry("architecture", package=__name__, group="dsd_tui.models",
                                                 adapt=plugin_architecture, python_api="dsd_tui.register_model")

__all__ = ["ARCHITECTURES", "Architecture", "PluginFactory", "plugin_architecture"]
