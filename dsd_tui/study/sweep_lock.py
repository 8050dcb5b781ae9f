"""One driver per sweep folder: an exclusive lock on `sweep.lock`, held while `dsd-tui sweep` runs.

Why a module of its own: two drivers on one `--out` folder used to judge each other's live ladders as
"died before their first epoch" and delete them. sweep.json is replaced atomically (a new inode at every
write), so it cannot carry a lock; the lock is a separate file that is never replaced. The lock goes away
with the process (flock), so a SIGKILLed driver's sweep can be run again at once. The file holds the
holder's pid, for the refusal message only.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from dsd_tui.errors import UsageError

LOCK = "sweep.lock"


class SweepBusy(UsageError):
    """Another process drives this sweep."""


class SweepLock:
    """Held from `acquire()` to `release()`; refuses (SweepBusy, one line) when another driver holds it."""

    def __init__(self, sweep_dir: Path):
        self.sweep_dir = Path(sweep_dir)
        self._file = None

    def acquire(self) -> "SweepLock":
        path = self.sweep_dir / LOCK
        f = open(path, "a+b")
        if sys.platform != "win32":  # pragma: no branch - no flock on Windows: a second driver is not detected
            import fcntl
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read(32).decode("ascii", "replace").strip()
                f.close()
                who = f" (pid {holder})" if holder.isdigit() else ""
                raise SweepBusy(f"--out {self.sweep_dir}: this sweep is driven by another dsd-tui process{who}; "
                                f"nothing was changed: wait for it to end (`dsd-tui watch {self.sweep_dir}` follows "
                                f"it), or choose another --out") from None
            except OSError:  # a file system without locks (some network mounts): run unguarded
                pass
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n".encode())
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None

    def __enter__(self) -> "SweepLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
