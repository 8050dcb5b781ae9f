"""The preflight check of a criterion: run it once on a freshly built network before any run directory
exists, so a plugin that fails to import, raises, or returns wrong names, shapes or NaN is refused in
one line (runner.preflight). Bundled criteria are not run (they are tested); a name that is not
registered is `UnknownName` with the list of names.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from dsd_tui.core.criteria._base import CutRequest, scored
from dsd_tui.core.pruning import output_layer_name, prunable_parameters


def check_criterion(name: str, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], *,
                    output_layer: bool = True, loss=None, phase: str = "teacher") -> None:
    """Score `model`'s prunable weights once with criterion `name` on `batch` = (x prepared, y); raises
    PluginError (a UsageError: exit 2) for a broken plugin. `model` itself is not changed."""
    from dsd_tui.core.criteria import CRITERIA
    from dsd_tui.core.training import ce_loss
    criterion = CRITERIA.get(name)  # UnknownName, or PluginError when the plugin does not import
    if CRITERIA.origin(name).kind == "bundled":
        return
    model = copy.deepcopy(model)
    params = prunable_parameters(model)
    out_name = output_layer_name(model)
    x, y = batch
    idx = torch.arange(len(y))
    gen = torch.Generator().manual_seed(0)
    request = CutRequest(model, params, [n for n in params if output_layer or n != out_name], gen, 0,
                         loss or ce_loss, lambda: (x, y, idx), phase, 0)  # rung 0: the check, not a cut
    scored(criterion, request)


def check_profile_criterion(prof, data) -> None:
    """`check_criterion` for a profile's prune.criterion on its teacher network and a few training samples
    (on the CPU, the global RNG untouched)."""
    from dsd_tui.core.criteria import CRITERIA
    from dsd_tui.core.data import Batcher
    from dsd_tui.core.models import build_model
    name = prof.prune.criterion
    if prof.prune.rungs == 0 or CRITERIA.origin(name).kind == "bundled":  # no cut, or a tested criterion
        return
    with torch.random.fork_rng(devices=[]):
        model = build_model(prof.model.arch, prof.model, data.input_shape, data.num_classes)
    n = min(len(data.train), prof.data.batch_size, 64)
    x = Batcher(data, torch.device("cpu")).prepare(data.train.x[:n])
    check_criterion(name, model, (x, data.train.y[:n]), output_layer=prof.prune.output_layer)
