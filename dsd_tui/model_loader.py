"""`dsd_tui.load_model`: a pruned rung as an ordinary `torch.nn.Module`, in one line.

From an exported model file (dense or sparse, `dsd-tui export --format model`) or straight from a run
directory (its checkpoint of the chosen rung). Either way the network is rebuilt through the
ARCHITECTURES registry from the recorded name and arguments, its pruned weights are exactly zero, and
it comes back on the CPU in eval mode with no dsd_tui hooks or buffers attached.
"""
from __future__ import annotations

import os
from pathlib import Path

from dsd_tui.errors import UsageError


def load_model(path_or_run_dir: str | os.PathLike, phase: str | None = None, rung: str | int | None = None):
    """The network of an exported model file, or of a run directory's rung (`phase`: teacher or student,
    default the student where there is one; `rung`: a number, "best" (default) or "kept"), in eval mode.
    Raises a UsageError subclass, one line, for a damaged file, another format version, a missing
    checkpoint or an architecture that is not registered here."""
    from dsd_tui.paths import expand
    path = expand(path_or_run_dir, "load_model")
    if path.is_dir():
        return _from_run_dir(path, phase, rung)
    if phase is not None or rung is not None:
        raise UsageError(f"load_model({str(path)!r}): phase and rung choose a rung of a run directory; a model file "
                         f"holds one rung already")
    return _from_file(path)


def _from_file(path: Path):
    from dsd_tui.export import model_file
    from dsd_tui.export.rung_network import arch_facts, build_network, load_weights
    data = model_file.read(path)
    facts = arch_facts(data)
    try:
        weights = model_file.state_dict(data)
    except (ValueError, KeyError, TypeError, RuntimeError) as e:
        raise model_file.ModelFileError(f"{path}: a damaged model file ({e}); export it again") from None
    return load_weights(build_network(facts), weights, str(path))


def _from_run_dir(path: Path, phase: str | None, rung: str | int | None):
    from dsd_tui.export import model_file
    from dsd_tui.export.rung_network import arch_facts, build_network, load_weights
    data = model_file.from_run(path, phase, rung)
    return load_weights(build_network(arch_facts(data)), data["state_dict"], str(path))
