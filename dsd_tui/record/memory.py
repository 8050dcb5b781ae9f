"""Peak memory, as recorded in every rung record (`peak_rss_mb`, and `gpu_peak_mb` on CUDA).

Why it exists: a study is planned by memory as much as by time (how many ladders fit on one host or
one GPU, docs/scaling.md), so every rung says what the run needed so far, in MiB (2^20 bytes).

- `peak_rss_mb`: the process's peak resident set size, from `resource.getrusage(RUSAGE_SELF).ru_maxrss`
  (KiB on Linux, bytes on macOS). It is a high-water mark of the whole process since it started,
  never reset: a rung's value is the largest RSS reached at any time up to the end of that rung
  (data loading, the dense rung and every earlier rung included), not that rung's own use, and it
  never falls from one rung to the next. After `dsd-tui resume` it counts from the resumed process's
  start. It includes everything in the process (Python, torch, a monitor's UI, a background writer's
  buffers), but not other processes (Ray workers report their own). None where `resource` does not
  exist (Windows).
- `gpu_peak_mb`: `torch.cuda.max_memory_allocated` for the rung (the peak is reset when the rung
  starts): memory held by tensors through the caching allocator, so below what `nvidia-smi` shows.
"""
from __future__ import annotations

import sys

import torch

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None


def peak_rss_mb() -> float | None:
    """The process's peak resident set size so far, MiB (see the module docstring for what it covers)."""
    if resource is None:  # pragma: no cover
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def reset_gpu_peak(device: torch.device) -> None:
    """Start a rung's GPU peak (no-op off CUDA)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def gpu_peak_mb(device: torch.device) -> float | None:
    """The GPU memory peak since `reset_gpu_peak`, MiB, or None off CUDA."""
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
