"""What the device is doing now, for the monitor's header: GPU memory in use and utilisation.

Per rung, the ladder records the peak (`gpu_peak_mb`, from torch.cuda.max_memory_allocated); this
module reads the present: `torch.cuda.memory_allocated` (this process's tensors) and, when the
optional NVML binding is installed (`pip install dsd-tui[gpu]`, the nvidia-ml-py package), the GPU's
utilisation over the driver's last sample period. Only the process running the ladder can read its
own allocations, so `watch` shows the recorded peaks only. Memory in MiB (2^20 bytes).
"""
from __future__ import annotations

import torch

_nvml_handles: dict[int, object] = {}


def gpu_now(device: str) -> dict | None:
    """{"mem_mb": MiB allocated by this process, "util": percent or None} on a CUDA device, else None."""
    if not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    dev = torch.device(device)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    return {"mem_mb": torch.cuda.memory_allocated(index) / 2**20, "util": _utilisation(index)}


def _utilisation(index: int) -> float | None:
    try:
        import pynvml
    except ImportError:  # the optional extra is not installed
        return None
    try:
        if index not in _nvml_handles:
            pynvml.nvmlInit()
            _nvml_handles[index] = pynvml.nvmlDeviceGetHandleByIndex(index)
        return float(pynvml.nvmlDeviceGetUtilizationRates(_nvml_handles[index]).gpu)
    except pynvml.NVMLError:
        return None
