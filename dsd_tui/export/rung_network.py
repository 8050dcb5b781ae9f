"""A rung's network rebuilt from its checkpoint: the architecture through the ARCHITECTURES registry, the
state dict with the masks folded in.

Why a module of its own: the model export, the ONNX export, the inference timing and `load_model` all
rebuild the same network the same way. A checkpoint names its architecture, the build's arguments, one
sample's shape and the class count (`Ladder.arch_facts`); a checkpoint written before those keys existed
takes them from the run's profile.toml and the data set's registry entry. Folding the masks in writes +0.0
into every pruned weight, whatever the stored state dict held there, so an exported network's pruned
weights are exactly zero and it needs no mask buffers or hooks.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from dsd_tui.errors import UsageError

# The keys a checkpoint (and an exported model file) rebuilds its network from.
ARCH_KEYS = ("arch", "arch_args", "input_shape", "num_classes")


@dataclass(frozen=True)
class ArchFacts:
    arch: str
    arch_args: dict  # the profile's [model] section as a plain dict (what the architecture's build reads)
    input_shape: tuple  # one sample's shape as the model sees it
    num_classes: int

    def as_dict(self) -> dict:
        return {"arch": self.arch, "arch_args": dict(self.arch_args), "input_shape": list(self.input_shape),
                "num_classes": self.num_classes}


def arch_facts(ck: dict, run_dir: Path | None = None) -> ArchFacts:
    """The checkpoint's own keys; those it lacks (a checkpoint older than them) from the run's profile."""
    if all(ck.get(k) is not None for k in ARCH_KEYS):
        return ArchFacts(str(ck["arch"]), dict(ck["arch_args"]), tuple(int(d) for d in ck["input_shape"]),
                         int(ck["num_classes"]))
    if run_dir is None:
        raise UsageError("the model file has no architecture arguments or input shape; export it again with this "
                         "dsd_tui")
    prof = _run_profile(run_dir)
    arch = ck.get("arch") or prof.model.arch
    shape = ck.get("input_shape") or _dataset_shape(prof, run_dir)
    return ArchFacts(str(arch), ck.get("arch_args") or dataclasses.asdict(prof.model),
                     tuple(int(d) for d in shape), int(ck["num_classes"]))


def _run_profile(run_dir: Path):
    from dsd_tui.profile import load
    from dsd_tui.record.rundir import PROFILE
    return load(str(Path(run_dir) / PROFILE))


def _dataset_shape(prof, run_dir: Path) -> tuple:
    from dsd_tui.core.datasets import DATASETS
    shape = DATASETS.get(prof.data.dataset).input_shape
    if shape is None:
        raise UsageError(f"{run_dir}: its checkpoints predate the recorded input shape and data set "
                         f"{prof.data.dataset!r} does not declare one; re-run the ladder with this dsd_tui")
    return tuple(shape)


def model_config(arch_args: dict):
    """The [model] section the architecture's build expects, from the recorded dict (keys this dsd_tui does not
    know are left out; keys it added since take their defaults)."""
    from dsd_tui.profile import ModelSection
    known = {f.name for f in dataclasses.fields(ModelSection)}
    args = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in arch_args.items() if k in known}
    return dataclasses.replace(ModelSection(), **args)


def build_network(facts: ArchFacts):
    """A fresh (untrained) network of the recorded architecture; an architecture not registered here (a plugin
    not installed) is one line naming it and how to register it."""
    from dsd_tui.core.archs import ARCHITECTURES
    if facts.arch not in ARCHITECTURES:
        raise UsageError(f"architecture {facts.arch!r} is not registered here (known: "
                         f"{', '.join(ARCHITECTURES.names())}); install the plugin package that provides it (entry "
                         f"point group dsd_tui.models) or call dsd_tui.register_model({facts.arch!r}, factory) first")
    return ARCHITECTURES.get(facts.arch).build(model_config(facts.arch_args), facts.input_shape, facts.num_classes)


def fold_masks(state_dict: dict, masks: dict) -> dict:
    """The state dict with +0.0 wherever a mask is 0; tensors without a mask unchanged (all on the CPU)."""
    import torch
    out = {}
    for name, value in state_dict.items():
        value = value.detach().cpu()
        mask = masks.get(name)
        if mask is not None:
            value = torch.where(mask.to(torch.bool), value, torch.zeros((), dtype=value.dtype))
        out[name] = value.contiguous()
    return out


def load_weights(model, state_dict: dict, where: str):
    """`model` with `state_dict` loaded, in eval mode; a state dict that does not fit is one line."""
    try:
        model.load_state_dict(state_dict)
    except (RuntimeError, KeyError, ValueError) as e:
        first = next((ln.strip() for ln in str(e).splitlines() if ln.strip().startswith(("size", "Missing", "Unex"))),
                     str(e).splitlines()[0] if str(e) else e.__class__.__name__)
        raise UsageError(f"{where}: its weights do not fit the recorded architecture ({first[:120]}); the file is "
                         f"damaged or was edited") from None
    return model.eval()
