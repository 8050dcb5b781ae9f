"""Paths the user names: expanded, checked and bounded before anything reads or writes them.

Why a module of its own: every command that reads a path from the user (a profile, a study file, a
teacher checkpoint, a data file, a sweep's sweep.json, a run's summary.json) or writes one (`export -o`,
`plot -o`) must give the same one-line answer to the same hostile input: `~nosuchuser/...` (Python
raises RuntimeError), a FIFO that would block a read forever, a device or a huge file that would be
read whole (`read_bounded`, the one guard for all of them), or an output path that is a symlink,
a FIFO, a device or a file a run owns (an atomic rename would replace the node or the run's own log).
Writes to a symlink go through to its target; anything else that is not a regular file is refused.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from dsd_tui.errors import UsageError

# Files of a run directory that belong to the run (record/rundir.py names them); no command may
# write over them from outside the run. Kept here, not imported, so that this module stays a leaf.
RUN_OWNED = ("profile.toml", "events.jsonl", "summary.json")
RUN_OWNED_DIRS = ("checkpoints", "state")
SWEEP_OWNED = ("sweep.json", "profile.toml", "sweep.lock")
# sweep.json and summary.json are read whole; no real one comes near this (a ladder's entry or a rung's
# record is a few hundred bytes), so a bigger file is not one and is refused instead of filling memory.
MAX_RECORD_BYTES = 64 << 20


def text_problem(text: str) -> str | None:
    """What makes `text` unusable as a value a run records (a path, a name): a NUL, which no file system path
    can hold (Python raised ValueError deep inside mkdir/open), or a byte that is not UTF-8 (a command-line
    argument decoded with surrogateescape), which the run's UTF-8 records (profile.toml, events.jsonl)
    cannot hold either. None when it is fine."""
    if "\x00" in text:
        return "holds a NUL character, which no path or name can hold; remove it"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return ("holds a byte that is not UTF-8 text, which the run's records cannot store; rename it with UTF-8 "
                "characters")
    return None


def expand(text: str | os.PathLike, what: str) -> Path:
    """`~` and `~user` expanded; an unknown user is one line instead of Python's RuntimeError; a NUL or a
    non-UTF-8 byte is one line too (`text_problem`)."""
    problem = text_problem(os.fspath(text)) if isinstance(os.fspath(text), str) else None
    if problem:
        raise UsageError(f"{what} = {ascii(os.fspath(text))}: {problem}")
    try:
        return Path(text).expanduser()
    except RuntimeError:
        raise UsageError(f"{what} = {str(text)!r}: no such user's home folder here; give the full path") from None


def kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def require_regular(path: Path, what: str) -> os.stat_result | None:
    """The file's stat (symlinks followed), None when it does not exist; a FIFO, device, socket or
    directory is refused, so that reading it can neither block nor run without end."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise UsageError(f"{what} = {str(path)!r}: cannot be read ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{what} = {str(path)!r}: is {kind(st.st_mode)}, not a regular file; give a path to a file")
    return st


def read_bounded(path: Path, what: str, limit: int) -> bytes:
    """The whole file, refused with one line when it is not a regular file or larger than `limit` bytes."""
    st = require_regular(path, what)
    if st is None:
        raise FileNotFoundError(path)
    if st.st_size > limit:
        raise UsageError(f"{what} = {str(path)!r}: {st.st_size} bytes, more than the {limit} allowed; "
                         f"is this the right file?")
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:  # it grew while we read it
        raise UsageError(f"{what} = {str(path)!r}: more than the {limit} bytes allowed; is this the right file?")
    return data


def output_target(path: str | os.PathLike, option: str) -> Path:
    """Where a user-named output (`-o FILE`) is written atomically: a symlink's target (written through,
    the link stays), else the path itself. Refused with one line: a path that exists and is not a
    regular file (a FIFO, a device, a directory), and a file that a run or a sweep owns."""
    given = expand(path, option)
    target = Path(os.path.realpath(given))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise UsageError(f"{option} {given}: cannot be written ({e.strerror}); choose another path") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{option} {given}: is {kind(st.st_mode)}; it would be replaced by a regular file, so "
                         f"nothing was written; choose a path to a regular file")
    owner = run_owner(target)
    if owner is not None:
        raise UsageError(f"{option} {given}: is a file of the run or sweep in {owner}, which must not be overwritten; "
                         f"write somewhere else")
    return target


def _is_run_dir(folder: Path) -> bool:
    return (folder / "events.jsonl").is_file() and (folder / "profile.toml").is_file()


def run_owner(target: Path) -> Path | None:
    """The run or sweep directory that owns `target` (a resolved path), or None."""
    parent = target.parent
    if target.name in RUN_OWNED and _is_run_dir(parent):
        return parent
    if target.name in SWEEP_OWNED and (parent / "sweep.json").is_file():
        return parent
    if parent.name in RUN_OWNED_DIRS and _is_run_dir(parent.parent):
        return parent.parent
    return None
