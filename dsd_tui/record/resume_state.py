"""The per-epoch resume state: a cheap snapshot on the training thread, the write in the background.

Writing the whole state synchronously at every epoch end (serialise, write, fsync) costs a sizeable part
of a short epoch (bench/state_overhead.py; figures in docs/benchmarks.md). Instead the training thread only
copies the tensors (`snapshot`) and hands the copy to one writer thread, which serialises it and writes it
atomically (temporary file, fsync, rename).

The writer keeps to a duty cycle (`duty`, default 1%): after a write that took w seconds it waits
w·(1/duty − 1) before the next, then writes the newest snapshot (latest wins; older ones are
dropped). So even on a machine where every core is busy the writing costs at most ~1% of wall time,
and `state/latest.pt` is always one whole epoch end, at most about 100·w seconds (plus an epoch)
old. A resume from any epoch end is exact, so the lag costs only recomputation after a SIGKILL.
The ladder asks `due()` and skips copying an epoch whose snapshot would be replaced before the
writer got to it (unless the copy is cheap next to the epoch, as on a GPU). `flush()` skips the
rest and blocks until the newest snapshot is on disk (rung ends, SIGINT/SIGTERM, the end of the
run) and raises a write error on the training thread, where the run can fail cleanly.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import torch


def detached_copy(obj: Any, into: Any = None) -> Any:
    """A deep copy in which every tensor is copied; other leaves are shared. Tensors of `into` (an
    earlier copy of the same structure) are reused when their shape and dtype match, so a snapshot
    per epoch allocates nothing (fresh allocations of megabytes cost page faults every time)."""
    if isinstance(obj, torch.Tensor):
        if (isinstance(into, torch.Tensor) and into.shape == obj.shape and into.dtype == obj.dtype
                and into.device == obj.device):
            return into.copy_(obj.detach())
        return obj.detach().clone()
    if isinstance(obj, dict):
        old = into if isinstance(into, dict) else {}
        return type(obj)({k: detached_copy(v, old.get(k)) for k, v in obj.items()})  # keeps Counter, OrderedDict
    if isinstance(obj, (list, tuple)):
        old = into if isinstance(into, (list, tuple)) and len(into) == len(obj) else [None] * len(obj)
        return type(obj)(detached_copy(v, o) for v, o in zip(obj, old))
    return obj


def to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return type(obj)({k: to_cpu(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return [to_cpu(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(to_cpu(v) for v in obj)
    return obj


class StateWriter:
    """One background thread writing the newest submitted snapshot with `write(snapshot)`."""

    def __init__(self, write: Callable[[Any], None], duty: float = 0.01):
        self._write = write
        self._rest = 1.0 / duty - 1.0  # seconds of rest per second of writing
        self._cond = threading.Condition()
        self._pending: Any = None
        self._busy = False
        self._closed = False
        self._urgent = False
        self._next_ok = 0.0  # time.monotonic() before which the writer rests
        self._error: BaseException | None = None
        self._spare: Any = None  # a written or dropped snapshot whose tensors the next one may reuse
        self.seconds_writing = 0.0  # background time spent serialising and writing (for the benchmark)
        self.writes = 0
        self._thread = threading.Thread(target=self._loop, name="dsd-state-writer", daemon=True)
        self._thread.start()

    def due(self, within_seconds: float) -> bool:
        """Would a snapshot submitted now be written before another arrives `within_seconds` later?
        If not (the writer is busy or resting), taking it would be wasted work."""
        with self._cond:
            return not self._busy and self._next_ok - time.monotonic() < within_seconds

    def take_spare(self) -> Any:
        """A snapshot no longer needed by the writer (to copy the next one into), or None."""
        with self._cond:
            spare, self._spare = self._spare, None
            return spare

    def submit(self, snapshot: Any) -> None:
        """Queue a snapshot (replacing one not yet started); raises an earlier write's error."""
        with self._cond:
            self._raise_error()
            if self._pending is not None:
                self._spare = self._pending
            self._pending = snapshot
            self._cond.notify_all()

    def flush(self) -> None:
        """Block until the newest snapshot is on disk; raise the write error if it failed."""
        with self._cond:
            self._wait_written()
            self._urgent = False
            self._raise_error()

    def close(self) -> None:
        """Write what is pending, then stop the thread (errors are left to `flush`)."""
        with self._cond:
            self._wait_written()
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    def _wait_written(self) -> None:
        """With the lock held: hurry the writer, then wait until nothing is pending or being written (or a
        write failed)."""
        self._urgent = True
        self._cond.notify_all()
        while (self._pending is not None or self._busy) and self._error is None:
            self._cond.wait()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._pending is None:
                        if self._closed:
                            return
                        self._cond.wait()
                        continue
                    rest = self._next_ok - time.monotonic()
                    if self._urgent or self._closed or rest <= 0:
                        break
                    self._cond.wait(rest)
                snapshot, self._pending = self._pending, None
                self._busy, self._urgent = True, False
            t0 = time.perf_counter()
            try:
                self._write(to_cpu(snapshot))
                self.writes += 1
            except BaseException as e:  # noqa: BLE001 - handed to the training thread by flush/submit
                with self._cond:
                    self._error = e
            finally:
                took = time.perf_counter() - t0
                self.seconds_writing += took
                self._next_ok = time.monotonic() + took * self._rest
                with self._cond:
                    self._busy = False
                    self._spare = snapshot
                    self._cond.notify_all()
