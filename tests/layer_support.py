"""A short real run whose second hidden layer is made to collapse at rung 1 (for the layer tests).

The quickstart MLP, made small (64-64-64-10), with its second hidden layer's initial weights scaled
by 1e-6 and a small learning rate: after training its weights are still far smaller than any other
layer's, and rung 1 removes half of all prunable weights (more than that layer holds), so global
magnitude pruning empties it: a real layer collapse, made certain.
"""
from __future__ import annotations

import io

import torch

from dsd_tui import profile as profile_mod
from dsd_tui.core import ladder
from dsd_tui.headless import HeadlessPrinter
from dsd_tui.runner import RunSession

COLLAPSING = "features.2.weight"
OVERRIDES = ["model.hidden=[64,64]", "prune.rungs=1", "prune.rate=0.5", "train.dense_epochs=1", "train.epochs=1",
             "train.lr=1e-4", "distill.enabled=false"]


def collapsing_run(tmp_path, monkeypatch) -> tuple[RunSession, str]:
    """Run it in this process; returns the session and what the headless printer printed."""
    real = ladder.build_model

    def build(*args, **kw):
        model = real(*args, **kw)
        with torch.no_grad():
            dict(model.named_parameters())[COLLAPSING].mul_(1e-6)
        return model
    monkeypatch.setattr(ladder, "build_model", build)
    out = io.StringIO()
    session = RunSession.new(profile_mod.load(None, OVERRIDES), str(tmp_path), sinks=[HeadlessPrinter(out, live=False)])
    assert session.run() in ("completed", "stopped")
    return session, out.getvalue()
