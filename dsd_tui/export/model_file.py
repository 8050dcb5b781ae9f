"""The exported model file (`dsd-tui export --format model`): one rung's network, standalone.

A dict that `torch.load(FILE, weights_only=True)` reads without dsd_tui:

    {"format": "dsd_tui.model/1", "storage": "dense" | "sparse",
     "arch", "arch_args", "input_shape", "num_classes",      # rebuild it (core/archs/ registry)
     "state_dict": {name: tensor},                           # masks folded in: pruned weights exactly 0
     "sparse": {name: {"shape", "values", "encoding", "where"}},   # storage "sparse" only (sparse_store.py)
     "phase", "rung", "sparsity", "metrics" (the rung's summary.json record),
     "profile" (the run's profile as a dict), "dsd_tui_version", "run_name"}

In a sparse file the prunable weights live in "sparse" instead of "state_dict". `read` checks the format
version and the structure and turns each problem into one line (`ModelFileError`, a UsageError).
"""
from __future__ import annotations

from pathlib import Path

from dsd_tui.errors import UsageError
from dsd_tui.export.rung_choice import RungChoice, choose_rung
from dsd_tui.export.rung_network import ARCH_KEYS, arch_facts, fold_masks

FORMAT = "dsd_tui.model/1"


class ModelFileError(UsageError):
    """A model file that cannot be read: another format version, damaged, or not one at all."""


class MissingCheckpoint(UsageError):
    """The chosen rung's checkpoint is not on disk (run.keep_checkpoints = "best-last" removed it)."""


def rung_checkpoint(run_dir: Path, choice: RungChoice) -> dict:
    from dsd_tui.record.rundir import checkpoint_name, safe_torch_load
    path = Path(run_dir) / checkpoint_name(choice.phase, choice.rung)
    if not path.is_file():
        raise MissingCheckpoint(f"{path}: no checkpoint for {choice.phase} rung {choice.rung} ({choice.how}); the run "
                                f"keeps only some rungs (run.keep_checkpoints = \"best-last\"): choose --rung best or "
                                f"the last rung")
    ck = safe_torch_load(path, "checkpoint")
    if not isinstance(ck, dict) or not isinstance(ck.get("state_dict"), dict):
        raise UsageError(f"{path}: not a dsd_tui checkpoint (no state_dict)")
    return ck


def payload(run_dir: Path, summary, choice: RungChoice, sparse: bool = False) -> dict:
    """The model file's dict for the chosen rung of the run in `run_dir` (`summary`: its SummaryBuilder)."""
    from dsd_tui.core.environment import dsd_tui_version
    ck = rung_checkpoint(run_dir, choice)
    masks = dict(ck.get("masks") or {})
    out = {"format": FORMAT, "storage": "sparse" if sparse else "dense", **arch_facts(ck, run_dir).as_dict(),
           "state_dict": fold_masks(ck["state_dict"], masks), "phase": choice.phase, "rung": choice.rung,
           "sparsity": choice.record.sparsity, "metrics": choice.record.to_json(), "profile": summary.profile,
           "dsd_tui_version": dsd_tui_version(), "run_name": summary.name}
    if sparse:
        from dsd_tui.export.sparse_store import compact
        out["sparse"] = {n: compact(out["state_dict"].pop(n), m) for n, m in masks.items() if n in out["state_dict"]}
    return out


def from_run(run_dir: Path, phase: str | None, rung: str | int | None, sparse: bool = False) -> dict:
    """`payload` for a run directory given by path (its events read and folded here)."""
    from dsd_tui.record.rundir import rebuild_summary, require_run_dir
    path = require_run_dir(Path(run_dir), "export")
    summary = rebuild_summary(path)
    return payload(path, summary, choose_rung(summary, phase, rung), sparse)


def state_dict(data: dict) -> dict:
    """The full dense state dict of a model file's dict (sparse weights expanded)."""
    from dsd_tui.export.sparse_store import expand
    out = dict(data["state_dict"])
    for name, entry in (data.get("sparse") or {}).items():
        out[name] = expand(entry)
    return out


def read(path: Path) -> dict:
    """A model file's dict, checked: its format version and the keys that rebuild the network."""
    from dsd_tui.record.rundir import RunDirError, safe_torch_load
    try:
        data = safe_torch_load(Path(path), "model file")
    except RunDirError as e:
        raise ModelFileError(str(e)) from None
    if not isinstance(data, dict) or "format" not in data:
        raise ModelFileError(f"{path}: not a dsd_tui model file (no format key); export one with `dsd-tui export "
                             f"RUN_DIR --format model -o FILE`")
    if data["format"] != FORMAT:
        raise ModelFileError(f"{path}: model file format {data['format']!r}, but this dsd_tui reads {FORMAT!r}; "
                             f"export it again with this version, or load it with the dsd_tui that wrote it")
    missing = [k for k in (*ARCH_KEYS, "state_dict") if k not in data]
    if missing or not isinstance(data["state_dict"], dict):
        raise ModelFileError(f"{path}: a damaged model file (missing {', '.join(missing) or 'state_dict'}); export "
                             f"it again")
    return data


def save(target: Path, data: dict) -> int:
    """Write the model file atomically (nothing is left at `target` if it fails); returns its size in bytes."""
    from dsd_tui.record.rundir import atomic_write_bytes, torch_bytes
    blob = torch_bytes(data)
    try:
        atomic_write_bytes(target, blob)
    except OSError as e:
        raise UsageError(f"-o {target}: cannot write ({e.strerror}); choose a writable path") from None
    return len(blob)


def describe(choice: RungChoice, data: dict, size_bytes: int) -> str:
    """One line: which rung went where, with its sparsity and accuracy."""
    acc = data["metrics"].get("test_acc")
    acc_text = f", test acc {acc:.1%}" if isinstance(acc, (int, float)) else ""
    return (f"{choice.label()}: {data['arch']}, sparsity {data['sparsity']:.1%}{acc_text}; "
            f"{data['storage']} file of {size_bytes / 1e6:.3f} MB")
