"""What a run records about where it ran: interpreter, torch, CUDA/cuDNN, device, host, dsd_tui version,
and the plugins its profile names.

Kept apart from the ladder (which only calls `environment` once, for the run_started event) so that the
probe of the machine and of the installed package is one small module that the CLI, tests and studies
can read without the method around it.
"""
from __future__ import annotations

import platform
import re

import torch


def environment(device: torch.device, threads: int, profile: dict | None = None) -> dict:
    """The run_started event's `environment` block (before the ladder adds its `speed` entry). `profile`
    (the resolved profile as a dict): its non-bundled model, dataset and criterion names go in `plugins`
    with their distribution and version (docs/plugins.md); the key is absent when every name is bundled."""
    env = {"python": platform.python_version(), "torch": torch.__version__, "device": str(device),
           "threads": torch.get_num_threads(), "platform": platform.platform(), "host": platform.node()}
    # cuda / cudnn: the versions this torch was built with (None without them); gpu_name on CUDA runs.
    env.update(dsd_tui=dsd_tui_version(), cuda=torch.version.cuda, cudnn=cudnn_version())
    # CPU numerics depend on the host: the same seed gave other test accuracies on three CPUs, reproduced here by
    # ATEN_CPU_CAPABILITY=default vs avx2 (docs/results.md), so the summary says which kernels ran.
    env.update(cpu=cpu_model(), cpu_capability=cpu_capability(), blas=blas())
    if device.type == "cuda":
        env["device_name"] = env["gpu_name"] = torch.cuda.get_device_name(device)
    if profile is not None:
        from dsd_tui.plugins import used  # the registries, read when a run starts
        if plugins := used(profile):
            env["plugins"] = plugins
    return env


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else platform.processor()); "" when unknown."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.split(":", 1)[0].strip() in ("model name", "Model", "Hardware"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def cpu_capability() -> str | None:
    """The CPU kernels torch dispatches to (DEFAULT, AVX2, AVX512; ATEN_CPU_CAPABILITY overrides it)."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):  # older torch builds
        return None


def blas() -> str | None:
    """The BLAS this torch was built with (BLAS_INFO in torch.__config__.show(): mkl, openblas, accelerate ...)."""
    try:
        text = torch.__config__.show()
    except (AttributeError, RuntimeError):
        return None
    m = re.search(r"BLAS_INFO=([^,\s]+)", text)
    return m.group(1) if m else None


def cudnn_version() -> str | None:
    """cuDNN's version as "major.minor.patch", or None when this torch has no cuDNN."""
    v = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    if not v:
        return None
    major, rest = (v // 10000, v % 10000) if v >= 10000 else (v // 1000, v % 1000)  # 9.x: 92400; 8.x: 8902
    return f"{major}.{rest // 100}.{rest % 100}"


def dsd_tui_version() -> str:
    """The installed distribution's version (the package's own `__version__` in a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("dsd-tui")
    except PackageNotFoundError:  # a bare checkout on PYTHONPATH, not installed
        from dsd_tui import __version__
        return __version__
