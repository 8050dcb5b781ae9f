"""The run directory: the one place run files are written, always atomically.

Layout (design.md §4): profile.toml, events.jsonl (appended and flushed per event), summary.json
(rewritten atomically whenever it changes), checkpoints/<phase>-rung<NN>.pt and state/latest.pt.
A whole-file write goes to a temporary file in the same folder, is flushed and fsynced, then
renamed over the old one, so a crash or a full disk leaves the previous version intact. The one
appended file, events.jsonl, is fsynced whenever summary.json is rewritten (every rung end), so the
log on disk is never shorter than the summary or the resume state; it is read back line by line and
a torn last line (a crash mid-append) is cut off when the run is opened again. An open run holds an
exclusive lock on its events.jsonl, so a second `dsd-tui resume` of a run that is still going is
refused instead of interleaving two writers.
"""
from __future__ import annotations

import io
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

from dsd_tui.errors import RunFailed, UsageError
from dsd_tui.paths import require_regular
from dsd_tui.profile import NAME_RE
from dsd_tui.record import events as ev
from dsd_tui.record.summary import SummaryBuilder

# A run directory's layout, relative to it: the one place these names are made (paths.py keeps a copy of the
# top-level names so that it stays a leaf module).
EVENTS = "events.jsonl"
SUMMARY = "summary.json"
PROFILE = "profile.toml"
CHECKPOINTS = "checkpoints"  # the rung checkpoints (record/checkpoints.py prunes them)
STATE_DIR = "state"  # the resume state and what a resumed rung needs
FOLDERS = (CHECKPOINTS, STATE_DIR)  # made when a run starts
STATE = f"{STATE_DIR}/latest.pt"  # the resume state (core/ladder_resume.py)
RUNG_START = f"{STATE_DIR}/rung-start.pt"  # the current rung's start weights (its learning distance)
EXPORTS = "exports"  # model files the monitor's `e` key writes (export/run_exports.py); made when first needed
MASKS_DIR = "masks"  # every rung's bit-packed masks, kept whatever run.keep_checkpoints deletes (record/masks_file.py)


def masks_name(phase: str, rung: int) -> str:
    """A rung's masks file, relative to the run directory: the one place its name is made."""
    return f"{MASKS_DIR}/{phase}-rung{rung:02d}.masks.pt"


def checkpoint_name(phase: str, rung: int) -> str:
    """A rung's checkpoint, relative to the run directory: the one place its name is made."""
    return own_checkpoint(f"{phase}-rung{rung:02d}.pt")


def rung_of(name: str) -> int | None:
    """The rung a checkpoint's file name says (`teacher-rung07.pt` -> 7), None for another name."""
    m = re.fullmatch(r"(?:teacher|student)-rung(\d+)\.pt", Path(name).name)
    return int(m.group(1)) if m else None


def export_name(phase: str, rung: int, sparse: bool, copy: int = 1) -> str:
    """A rung's model file under exports/, relative to the run directory; `copy` > 1 when earlier ones exist."""
    return f"{EXPORTS}/{phase}-rung{rung:02d}{'-sparse' if sparse else ''}{f'-{copy}' if copy > 1 else ''}.pt"


def own_checkpoint(name: str) -> str:
    """The run's checkpoint file called `name` (a file name, or a path whose last part is one), relative to the
    run directory: how a resume state names the student's teacher so that a moved run still finds it."""
    return f"{CHECKPOINTS}/{Path(name).name}"


class RunDirError(UsageError):
    """A folder that is not (or cannot become) a run directory."""


class WriteFailed(RunFailed):
    """A run file could not be written; the previous version is intact."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp alone makes files private (0600)


# The one naming rule of dsd-tui's temporary files (an atomic write's file before its rename):
# `.<target name>.dsd-tui-<8 random characters>.tmp`. A run cleans only names of this exact form, in its own
# folders, so a user's `.notes.tmp` beside them survives.
TEMP_MARK = ".dsd-tui-"
_OWN_TEMP = re.compile(r"\..+\.dsd-tui-[a-z0-9_]{8}\.tmp")


def is_own_temp(name: str) -> bool:
    return _OWN_TEMP.fullmatch(name) is not None


def durable_temp(folder: Path, name: str, data: bytes) -> str:
    """`data` on disk (fsynced, the usual file mode) under a temporary name of the one rule for `name` in
    `folder`; the caller moves it into place (a rename, or a link that never replaces) and removes it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}{TEMP_MARK}", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    tmp = durable_temp(path.parent, path.name, data)
    try:
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a power cut after it keeps the new file)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # not supported by every file system; the rename is still atomic
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def torch_bytes(obj) -> bytes:
    """`obj` as torch.save writes it, in memory: the one serialisation every run file goes through."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def atomic_torch_save(path: Path, obj) -> None:
    atomic_write_bytes(path, torch_bytes(obj))


def safe_torch_load(path: Path, what: str = "checkpoint"):
    """torch.load(weights_only=True) with one clear line for anything unreadable or unsafe; a FIFO or a
    device (which torch.load would block on or read without end) is refused before it is opened."""
    st = require_regular(Path(path), what)
    if st is not None:
        check_declared_sizes(Path(path), st.st_size, what)
    try:
        return torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise RunDirError(f"{path}: no such {what}") from None
    except Exception as e:  # noqa: BLE001 - truncated zip, pickle with code, wrong format
        text = str(e).strip()
        first = text.splitlines()[0].split(". ")[0][:100] if text else e.__class__.__name__
        raise RunDirError(f"{path}: not a readable {what} ({first}); it is corrupt, truncated or not a "
                          f"weights-only file") from None


# torch.save writes its zip entries uncompressed, so what a real checkpoint declares inside adds up to about its
# own size; a few MiB of slack covers the zip's headers and alignment padding (64 bytes per entry).
ZIP_SLACK_BYTES = 4 << 20


def check_declared_sizes(path: Path, size: int, what: str) -> None:
    """Refuse, before anything is unpickled, a zip whose entries declare more bytes than the file holds: a
    compressed entry (a 3.6 MB file whose pickle inflates to 2 GiB took 5 GB of memory) is no torch.save file.
    A file that is not a zip (torch's legacy format, or garbage) is left to torch.load, which cannot inflate it."""
    import zipfile
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    declared = sum(i.file_size for i in infos)
    packed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
    if declared > size + ZIP_SLACK_BYTES or packed:
        why = f"its entry {packed[0]} is compressed" if packed else f"its entries declare {declared} bytes"
        raise RunDirError(f"{path}: not a readable {what} ({why}, in a file of {size} bytes; torch.save stores "
                          f"entries as they are): refused before reading it; give a checkpoint written by dsd-tui")


def new_run_dir(parent: Path, name: str, start: float | None = None) -> Path:
    """Create a fresh directory `<name>-<YYYYmmdd-HHMMSS>` under parent; never reuse an existing one."""
    if not NAME_RE.fullmatch(name) or ".." in name:
        raise RunDirError(f"run.name = {name!r}: not usable as a folder name; use letters, digits, '.', '_', '-'")
    parent = Path(parent)
    if is_run_dir(parent):
        raise RunDirError(f"--out {parent}: this is a run directory, not a parent folder for runs; give the folder "
                          f"that holds runs (a run is never written into another)")
    inside = next((up for up in Path(os.path.realpath(parent)).parents if is_run_dir(up)), None)
    if inside is not None:  # e.g. RUN/checkpoints: the new run would land among another run's files
        raise RunDirError(f"--out {parent}: is inside the run directory {inside}; give a folder outside any run")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunDirError(f"--out {parent}: cannot create the output folder ({e.strerror}); choose a writable "
                          f"folder with --out DIR") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunDirError(f"--out {parent}: the output folder is not writable; choose another with --out DIR")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(start or time.time()))
    for i in range(1000):
        path = parent / (f"{name}-{stamp}" + (f"-{i + 1}" if i else ""))
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as e:
            raise RunDirError(f"--out {parent}: cannot create a run directory there ({e.strerror})") from None
        (path / "checkpoints").mkdir()
        (path / "state").mkdir()
        return path
    raise RunDirError(f"--out {parent}: too many runs named {name} started this second")


def parse_event_lines(chunk: bytes, first_line: int = 1) -> tuple[list[ev.Event], int]:
    """Events from the complete lines of `chunk`, and how many bytes those lines took. A last line
    without its newline (still being written, or torn by a crash) is left out; a line that is not a
    JSON object is skipped; a known event with a missing or mistyped field raises ev.BadEvent, its
    message starting with the line number (`first_line` is the number of the chunk's first line)."""
    end = chunk.rfind(b"\n")
    if end < 0:
        return [], 0
    out = []
    for n, raw in enumerate(chunk[:end].split(b"\n"), first_line):
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        except RecursionError:  # valid JSON nested thousands deep: no event is; one line, not a traceback
            raise ev.BadEvent(f"line {n}: nested too deeply to be an event") from None
        if isinstance(data, dict):
            try:
                out.append(ev.from_dict(data))
            except ev.BadEvent as e:
                raise ev.BadEvent(f"line {n}: {e}") from None
    return out, end + 1


def read_events(path: Path) -> list[ev.Event]:
    """All complete events of a run; a torn last line (a crash mid-append) is skipped. An incomplete
    event (valid JSON, a field missing) is one line naming the file: RunDirError."""
    try:
        with open(path, "rb") as f:
            return parse_event_lines(f.read())[0]
    except ev.BadEvent as e:
        raise RunDirError(f"{path}: {e}; this file is only ever appended by dsd-tui, so something else edited it: "
                          f"restore it from a backup") from None


def writer_alive(path: Path) -> bool:
    """Does a process still hold the run open (the lock `RunDir` takes on events.jsonl)? False for a run
    that ended, was killed or whose log was deleted; True where locks are not supported (unknown)."""
    if sys.platform == "win32":  # pragma: no cover
        return True
    import fcntl

    try:
        f = open(Path(path) / EVENTS, "rb")
    except OSError:
        return False
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return False


def is_run_dir(path: Path) -> bool:
    path = Path(path)
    return (path / EVENTS).is_file() and (path / PROFILE).is_file()


def require_run_dir(path: Path, command: str) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path}: no such directory; `dsd-tui {command}` takes a run directory "
                          f"(the path `dsd-tui run` printed first)")
    if not is_run_dir(path):
        if (path / PROFILE).is_file() and not (path / EVENTS).exists():
            # the run's profile is written just before its log is opened: a run cut in between
            raise RunDirError(f"{path}: has a {PROFILE} but no {EVENTS}: the run never started or its log was "
                              f"deleted; start it again with `dsd-tui run {path / PROFILE}`")
        raise RunDirError(f"{path}: not a dsd_tui run directory (no {EVENTS} and {PROFILE}); give the "
                          f"folder `dsd-tui run` printed first")
    return path


def empty_log_message(path: Path) -> str:
    return (f"{Path(path) / EVENTS}: the run's event log is empty: the run never started or was cut before its "
            f"first event, so there is nothing to read or resume; start it again with "
            f"`dsd-tui run {Path(path) / PROFILE}`")


def read_run_events(path: Path) -> list[ev.Event]:
    """The events of the run directory `path`. A log with no complete event (0 bytes, blank lines, a torn
    first line) that no process holds is a run that never started or was cut before its first event:
    RunDirError, one line, instead of a `running` run with no phases. While its process holds it (the run
    is starting: the log is opened before the data reaches the device) it is a running run, no error."""
    events = read_events(Path(path) / EVENTS)
    if not events and not writer_alive(path):
        raise RunDirError(empty_log_message(path))
    return events


def fold_events(events: list[ev.Event]) -> SummaryBuilder:
    builder = SummaryBuilder()
    for e in events:
        builder.consume(e)
    return builder


def rebuild_summary(path: Path) -> SummaryBuilder:
    """The summary of the run in `path`, folded from its log; an empty log is refused (`read_run_events`)."""
    return fold_events(read_run_events(path))


class RunDir:
    """An open run directory: the event sink that writes events.jsonl and summary.json."""

    SUMMARY_ON = {"run_started", "phase_started", "rung_finished", "stop_fired", "phase_finished",
                  "run_finished", "run_failed", "run_interrupted"}

    def __init__(self, path: Path, builder: SummaryBuilder | None = None):
        self.path = Path(path)
        self.builder = builder or SummaryBuilder()
        self._events = open(self.path / EVENTS, "ab")
        try:
            _lock(self._events, self.path)
        except BaseException:
            self._events.close()
            raise
        _cut_torn_tail(self._events)
        clean_own_temp(self.path)

    def close(self) -> None:
        if not self._events.closed:
            self._events.close()

    def __call__(self, event: ev.Event) -> None:
        line = json.dumps(ev.to_jsonable(event.to_dict()), separators=(",", ":")) + "\n"
        try:
            self._events.write(line.encode())
            self._events.flush()
            if event.type in self.SUMMARY_ON:  # durable before summary.json (and the resume state) say more
                os.fsync(self._events.fileno())
        except OSError as e:
            raise WriteFailed(f"cannot append to {self.path / EVENTS} ({e.strerror}); the run stopped and can "
                              f"be resumed with `dsd-tui resume {self.path}` once there is room") from None
        self.builder.consume(event)
        if event.type in self.SUMMARY_ON:
            self.write_summary()

    def write_summary(self) -> None:
        text = json.dumps(self.builder.summary(), indent=2) + "\n"
        self.write_file(SUMMARY, text.encode())

    def write_file(self, rel: str, data: bytes) -> None:
        existed = (self.path / rel).exists()
        try:
            atomic_write_bytes(self.path / rel, data)
        except OSError as e:
            kept = "the previous version is intact" if existed else "nothing was written"
            raise WriteFailed(f"cannot write {self.path / rel} ({e.strerror}); {kept}; "
                              f"resume with `dsd-tui resume {self.path}` once fixed") from None

    def save_torch(self, rel: str, obj) -> None:
        self.write_file(rel, torch_bytes(obj))

    def checkpoint_path(self, phase: str, rung: int) -> Path:
        return self.path / checkpoint_name(phase, rung)

    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINTS

    def rung_start_path(self) -> Path:
        return self.path / RUNG_START

    def save_checkpoint(self, phase: str, rung: int, obj) -> None:
        self.save_torch(checkpoint_name(phase, rung), obj)

    def masks_path(self, phase: str, rung: int) -> Path:
        return self.path / masks_name(phase, rung)

    def save_masks(self, phase: str, rung: int, obj) -> None:
        """The rung's packed masks (record/masks_file.py); the folder is made here, so a run started before
        masks files existed gets it when it resumes."""
        (self.path / MASKS_DIR).mkdir(exist_ok=True)
        self.save_torch(masks_name(phase, rung), obj)


def clean_own_temp(path: Path) -> None:
    """Remove the temporary files a process killed mid-write left in the run's folders: only names of the
    exact rule above (`is_own_temp`), only in the run directory and its own folders."""
    for folder in (path, *(path / sub for sub in (*FOLDERS, MASKS_DIR, EXPORTS))):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if is_own_temp(entry.name) and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)


def _lock(f, path: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - no flock; a second writer is not detected there
        return
    import fcntl

    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RunDirError(f"{path}: this run is in use by another dsd-tui process; follow it with "
                          f"`dsd-tui watch {path}`") from None
    except OSError:  # a file system without locks (some network mounts): run unguarded
        pass


def _cut_torn_tail(f) -> None:
    """Drop a last line without its newline (a crash mid-append), so the next event starts clean."""
    size = os.fstat(f.fileno()).st_size
    if size == 0:
        return
    with open(f.name, "rb") as r:
        back = min(size, 1 << 20)
        r.seek(size - back)
        tail = r.read()
    if tail.endswith(b"\n"):
        return
    cut = tail.rfind(b"\n")
    keep = (size - back + cut + 1) if cut >= 0 else (0 if back == size else size)
    os.truncate(f.name, keep)
