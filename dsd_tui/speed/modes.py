"""The opt-in speed modes (they may change numerics) and the record of which ones a run used.

- `precision = "fp32"` (default): the reference numerics, PyTorch's own TF32 defaults untouched.
- `precision = "bf16"`: autocast to bfloat16 (fp32 master weights, fp32 optimizer) and, for image
  models, channels_last memory format for weights and batches. The output layer (the model's last
  Linear) runs in fp32 outside autocast, so logits, losses and the distillation targets are fp32:
  with bf16 logits the KD term at T = 10 is swamped by rounding (bf16 keeps 8 bits; a logit of 10 is
  rounded in steps of 0.06, of the order of the differences between soft targets after dividing by
  T), and five of six quickstart DSD² students fell by 9.5–23 points at rungs 3–5
  (docs/benchmarks.md, "bf16 against fp32").
- `compile = true`: the training forward (and a teacher's forward under augmentation) goes through
  `torch.compile`. Masks, the state dict, checkpoints and the entropy hooks keep using the original
  module: a compiled wrapper shares its parameters and would prefix every name with `_orig_mod.`.
- `sparse_kernels`: within a rung, Linear layers with few kept weights train through CSR kernels
  (`sparse_kernels.py`); the same sums in another order. `"auto"` (the default since 2 Dec 2026)
  switches them on only where they were measured to win: on the CPU, at one torch thread, in fp32
  without compile (bench/sparse_kernels.py, docs/benchmarks.md); elsewhere it is the dense path.
  `true` forces them on (any device), `false` is the exact dense path of older runs.

On CUDA, cuDNN's autotuner (`cudnn.benchmark`) is switched on: it picks the fastest fp32 algorithm
for each batch shape, the same arithmetic up to rounding order. `describe()` is what the summary's
`environment["speed"]` shows.
"""
from __future__ import annotations

import contextlib
import types
from dataclasses import dataclass

import torch
from torch import nn

from dsd_tui.speed.sparse_kernels import MAX_DENSITY, sparse_linears


@dataclass(frozen=True)
class Speed:
    precision: str = "fp32"  # fp32 | bf16
    compile: bool = False
    channels_last: bool = False
    device_type: str = "cpu"
    compile_backend: str = "inductor"  # not a profile key: tests and the CPU smoke check use "eager"
    sparse_kernels: bool = False  # in effect for this run (the CSR kernels where a layer qualifies)
    sparse_kernels_setting: object = None  # the profile's train.sparse_kernels ("auto", true, false)

    @classmethod
    def from_profile(cls, train_cfg, device: torch.device, images: bool, threads: int = 1) -> "Speed":
        bf16 = train_cfg.precision == "bf16"
        return cls(train_cfg.precision, bool(train_cfg.compile), bf16 and images, device.type,
                   sparse_kernels=sparse_kernels_on(train_cfg, device.type, threads),
                   sparse_kernels_setting=train_cfg.sparse_kernels)

    def apply_backends(self) -> None:
        if self.device_type == "cuda":
            torch.backends.cudnn.benchmark = True

    def autocast(self):
        """A context-manager factory for the forward passes, or None in fp32."""
        if self.precision != "bf16":
            return None
        device_type = self.device_type
        return lambda: torch.autocast(device_type, dtype=torch.bfloat16)

    def place(self, model: nn.Module, device) -> nn.Module:
        """Move a freshly built model to the device, in channels_last when that mode is on, with its
        output layer kept in fp32 under bf16."""
        model = model.to(device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self.precision == "bf16":
            keep_head_fp32(model)
        return model

    def forward_of(self, model: nn.Module) -> nn.Module:
        """The module to call for training steps: compiled when asked, else the model itself."""
        if not self.compile:
            return model
        return torch.compile(model, dynamic=False, backend=self.compile_backend)

    def rung_kernels(self, model: nn.Module, opt):
        """A context for one rung's training epochs: the CSR kernels when that mode is on."""
        if not self.sparse_kernels:
            return contextlib.nullcontext([])
        return sparse_linears(model, opt)

    def describe(self) -> dict:
        out = {"precision": self.precision, "channels_last": self.channels_last, "compile": self.compile,
               "sparse_kernels": self.sparse_kernels}
        if self.sparse_kernels_setting is not None:
            out["sparse_kernels_setting"] = self.sparse_kernels_setting
        if self.precision == "bf16":
            out["fp32_head"] = True
        if self.device_type == "cuda":
            out["tf32_matmul"] = bool(torch.backends.cuda.matmul.allow_tf32)
            out["tf32_cudnn"] = bool(torch.backends.cudnn.allow_tf32)
            out["cudnn_benchmark"] = bool(torch.backends.cudnn.benchmark)
        return out


def sparse_kernels_on(train_cfg, device_type: str, threads: int) -> bool:
    """Whether a run trains its sparse Linear layers on CSR kernels. `"auto"` says yes only where
    bench/sparse_kernels.py measured a win: the CPU at one torch thread (`run.threads`), fp32, no
    compile; which layers then qualify, rung by rung, is `sparse_kernels.sparse_linears`' rule."""
    setting = train_cfg.sparse_kernels
    if setting == "auto":
        return device_type == "cpu" and threads == 1 and train_cfg.precision == "fp32" and not train_cfg.compile
    return setting is True


def keep_head_fp32(model: nn.Module) -> nn.Module:
    """Run the model's output layer (its last Linear) in fp32 even under autocast: its input is cast up
    and autocast is off for it, so the logits are fp32. Parameter names and the state dict are
    unchanged (the layer's forward is swapped on the instance, as a bound method, so deep copies
    keep their own)."""
    heads = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if heads:
        heads[-1].forward = types.MethodType(_fp32_linear_forward, heads[-1])
    return model


def _fp32_linear_forward(self: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    with torch.autocast(x.device.type, enabled=False):
        return nn.Linear.forward(self, x.float())


def modes_note(environment: dict | None) -> str:
    """The suffix `; opt-in speed modes: …` for a run whose `environment["speed"]` has any switched on,
    else "": the run-started line of the headless printer and of the monitor's log say when a run is
    not on the reference numerics. The default CSR kernels (`sparse_kernels = "auto"`, in effect) get
    their own note, which names the layers that can take them (or says that none can) and the switch
    back to the exact dense path."""
    speed = (environment or {}).get("speed") or {}
    auto = speed.get("sparse_kernels") and speed.get("sparse_kernels_setting") == "auto"
    scope = csr_scope(speed)
    modes = [f"precision={speed['precision']}"] if speed.get("precision", "fp32") != "fp32" else []
    if speed.get("compile"):
        modes.append("compile")
    if speed.get("sparse_kernels") and not auto:
        modes.append(f"sparse_kernels ({scope})" if scope else "sparse_kernels")
    note = f"; opt-in speed modes: {', '.join(modes)}" if modes else ""
    if auto and scope == NO_LAYER:
        note += f"; sparse kernels: auto, {NO_LAYER}: the exact dense path"
    elif auto:
        note += f"; sparse kernels: auto{f', {scope}' if scope else ''} (exact dense path: train.sparse_kernels=false)"
    return note


NO_LAYER = "no layer qualifies"


def csr_scope(speed: dict) -> str:
    """Which layers the CSR kernels are for, from `environment.speed.sparse_kernels_layers` (per phase, the
    layers large enough): "CSR for features.2 once ≤ 20% kept", NO_LAYER, or "" for a run recorded before that key."""
    layers = speed.get("sparse_kernels_layers")
    if not isinstance(layers, dict):
        return ""
    names = list(dict.fromkeys(name for per_phase in layers.values() for name in per_phase))
    if not names:
        return NO_LAYER
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"CSR for {shown} once ≤ {MAX_DENSITY:.0%} kept"


def compile_problem() -> str | None:
    """Why `train.compile = true` cannot work on this host (None if it can): Inductor builds its kernels
    (Triton launchers on CUDA, C++ on the CPU) with a C compiler and the Python headers; without them the
    first compiled step fails mid-run. Checked before a run starts (runner.preflight)."""
    import os
    import shutil
    import sysconfig
    from pathlib import Path

    compilers = [c for c in (os.environ.get("CC"), "cc", "gcc", "clang") if c]
    found = next((shutil.which(c) for c in compilers if shutil.which(c)), None)
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    missing = ([] if found else ["a C compiler (cc, gcc or clang on PATH, or $CC)"]) + \
        ([] if header.is_file() else [f"the Python headers ({header})"])
    if not missing:
        return None
    return (f"train.compile = true: torch.compile needs {' and '.join(missing)} on this host to build its kernels; "
            f"install them (e.g. the build-essential and python3-dev packages) or run with --set train.compile=false")
