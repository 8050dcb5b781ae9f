"""TensorBoard event files of a run: `dsd-tui export RUN_DIR --format tensorboard -o DIR`, and the live
sink (`run.tensorboard = true`, or `dsd-tui run|resume --tensorboard`) writing RUN_DIR/tensorboard/.

Written with TensorBoard's own event-file writer (through `torch.utils.tensorboard`, which needs the
`tensorboard` package: `pip install 'dsd-tui[tensorboard]'`). The points are `scalars.py`'s, with
their events' wall times; the resolved profile is logged as hyperparameters (HParams tab) with the
phases' test and validation accuracy as its metrics. An export is written into a new folder next to
DIR and renamed into place, so DIR holds a previous complete export or the new one, never half of
one. The live sink starts over from events.jsonl when a run resumes, so its files hold each
(tag, step) once.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

from dsd_tui.errors import UsageError, WriteFailed
from dsd_tui.export.scalars import Fold, Point, hparams
from dsd_tui.record import events as ev
from dsd_tui.record.rundir import EVENTS, _umask, read_events

LIVE_DIR = "tensorboard"  # the live sink's folder inside the run directory
EVENT_FILE = "events.out.tfevents."


def require():
    """torch's SummaryWriter, or one line saying how to install TensorBoard."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UsageError("TensorBoard is not installed; install it with `pip install 'dsd-tui[tensorboard]'` "
                         "(or `pip install tensorboard`)") from None
    return SummaryWriter


class Writer:
    """One TensorBoard run folder: hyperparameters once, then points."""

    def __init__(self, log_dir: Path):
        self.w = require()(log_dir=str(log_dir), flush_secs=10)
        self.written: set[tuple[str, int]] = set()

    def hparams(self, profile: dict, phases: list[str], time: float) -> None:
        from torch.utils.tensorboard.summary import hparams as hparams_summary
        metrics = {f"{ph}/{m}": 0.0 for ph in phases for m in ("test_acc", "val_acc")}
        for summary in hparams_summary(hparams(profile), metrics):
            self.w.file_writer.add_summary(summary, walltime=time)

    def points(self, points: list[Point]) -> None:
        for p in points:
            if (p.tag, p.step) in self.written:
                continue
            self.w.add_scalar(p.tag, p.value, global_step=p.step, walltime=p.time)
            self.written.add((p.tag, p.step))

    def flush(self) -> None:
        self.w.flush()

    def close(self) -> None:
        self.w.close()


def write_fold(log_dir: Path, events: list[ev.Event]) -> Writer:
    fold = Fold()
    started = None
    for e in events:
        fold.consume(e)
        if e.type == "run_started" and started is None:
            started = e
    writer = Writer(log_dir)
    if started is not None:
        writer.hparams(fold.profile, list(started.phases), started.time)
    writer.points(fold.sorted())
    writer.flush()
    return writer


def export(run_dir: Path, out: Path) -> Path:
    """Write the run's scalars under `out` (created; an earlier export there is replaced)."""
    require()
    out = Path(os.path.realpath(out)) if Path(out).is_symlink() else Path(out)  # a link is written through
    if out.exists() and (not out.is_dir() or any(not p.name.startswith(EVENT_FILE) for p in out.iterdir())):
        raise UsageError(f"-o {out}: exists and holds other files than a TensorBoard export; choose a new or "
                         f"empty folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        tmp.chmod(0o777 & ~_umask())  # what mkdir would give; mkdtemp alone makes it private
    except OSError as e:
        raise UsageError(f"-o {out}: cannot create it ({e.strerror}); choose a writable folder") from None
    try:
        with _writer_thread_errors() as failed:
            write_fold(tmp, read_events(Path(run_dir) / EVENTS)).close()
        if failed:  # TensorBoard writes in a thread of its own: its failed write surfaces here, not as a traceback
            raise failed[0]
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except OSError as e:  # a full disk, a quota: nothing of this export is left, an earlier one stays
        shutil.rmtree(tmp, ignore_errors=True)
        raise WriteFailed(f"-o {out}: cannot write the TensorBoard files ({e.strerror or e}); nothing was left; "
                          f"free space there or choose another folder") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


@contextlib.contextmanager
def _writer_thread_errors():
    """Collect the OSErrors (a full disk) raised in TensorBoard's own writer thread while the block runs,
    instead of letting threading print them; the process's hook is put back afterwards."""
    failed: list[OSError] = []
    previous = threading.excepthook

    def hook(args):
        if isinstance(args.exc_value, OSError):
            failed.append(args.exc_value)
        else:
            previous(args)
    threading.excepthook = hook
    try:
        yield failed
    finally:
        threading.excepthook = previous


class TensorBoardSink:
    """The live sink: RUN_DIR/tensorboard/ grows with the run (placed after the run directory)."""

    def __init__(self):
        require()
        self.run_dir: Path | None = None  # learnt from run_started
        self.writer: Writer | None = None
        self.profile: dict = {}

    def __call__(self, e: ev.Event) -> None:
        if e.type == "run_started":
            self._start(e)
            return
        if self.writer is None:
            return
        from dsd_tui.export.scalars import points
        self.writer.points(points(e, self.profile))
        if e.type in ("rung_finished", "phase_finished"):
            self.writer.flush()
        elif e.type in ("run_finished", "run_failed", "run_interrupted"):
            self.writer.close()
            self.writer = None

    def _start(self, e: ev.RunStarted) -> None:
        """A new run, or a resumed one: (re)write the folder from events.jsonl so far, then go live."""
        if self.writer is not None:
            self.writer.close()
        self.profile, self.run_dir = e.profile, Path(e.run_dir)
        live = self.run_dir / LIVE_DIR
        if live.is_symlink():  # the user pointed it elsewhere: write through it, clear only our event files
            live = Path(os.path.realpath(live))
            for old in live.glob(f"{EVENT_FILE}*") if live.is_dir() else ():
                old.unlink()
        elif live.is_dir():
            shutil.rmtree(live)
        self.writer = write_fold(live, read_events(self.run_dir / EVENTS))
