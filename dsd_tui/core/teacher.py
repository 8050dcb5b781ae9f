"""Loading a KD teacher from a checkpoint, with one clear line when it cannot serve this run.

Used twice: before a run directory is created (a `distill.teacher = PATH` that is missing, corrupt,
holds NaN or inf, or is of another architecture or class count is bad input, found before anything
is written) and by the ladder when the student phase starts.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dsd_tui.core.models import build_model
from dsd_tui.errors import UsageError
from dsd_tui.record.rundir import RunDirError, safe_torch_load


def load_teacher_model(path: Path, model_cfg, default_arch: str, input_shape: tuple,
                       num_classes: int) -> tuple[nn.Module, dict]:
    """(the teacher model on the CPU, its checkpoint dict); UsageError when it does not fit."""
    where = f"distill.teacher = {str(path)!r}"
    try:
        ck = safe_torch_load(path, "teacher checkpoint")
    except RunDirError as e:
        raise UsageError(f"distill.teacher: {e}") from None
    if not isinstance(ck, dict) or not isinstance(ck.get("state_dict"), dict):
        raise UsageError(f"{where}: not a dsd_tui checkpoint (no state_dict); give a checkpoints/<phase>-rungNN.pt "
                         f"file of a run") from None
    _require_finite(ck["state_dict"], where)
    arch = ck.get("arch", default_arch)
    try:
        model = build_model(arch, model_cfg, input_shape, num_classes)
        model.load_state_dict(ck["state_dict"])
    except UsageError as e:  # a network no longer registered here, a plugin that fails its checks
        raise UsageError(f"{where}: its architecture: {e}") from None
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        first = _first_reason(e)
        raise UsageError(f"{where}: does not fit a {arch} for {num_classes} classes and inputs {tuple(input_shape)} "
                         f"({first}); use a checkpoint of a run on the same data and model") from None
    return model, ck


def _require_finite(state_dict: dict, where: str) -> None:
    """A teacher with a NaN or infinite weight gives NaN targets: the student's loss diverges at its first
    batch and the run blames its own learning rate. Refused here, naming the first such tensor."""
    for name, value in state_dict.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                raise UsageError(f"{where}: tensor {name!r} holds {bad} non-finite value(s) (NaN or inf) of "
                                 f"{value.numel()}; a teacher must be a finite checkpoint: use the checkpoint of a "
                                 f"rung that did not diverge")


def _first_reason(e: Exception) -> str:
    """The informative line of a load_state_dict error (its first line is only a heading)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("size mismatch", "Missing key", "Unexpected key")):
            return ln.split(" from checkpoint")[0][:120]
    return lines[0][:120] if lines else e.__class__.__name__
