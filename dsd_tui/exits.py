"""How every `dsd-tui` command ends: the exit-code table, and the one place that turns an exception
into one line on stderr and its exit code.

Why a module of its own: the run commands (`cli.py`) and the study commands (`cli_study.py`)
all end through it, and the study commands must not import `cli.py` (which adds them to its group).
The codes: 0 done (completed or stopped), 1 the run (or a download) failed, 2 bad usage/profile/input
(a checksum that does not match included), 130 interrupted.
A command returns its exit code (or None for 0) and raises what went wrong; `ExitGroup` maps it.
Bugs are not mapped: they keep their traceback, so that they get reported.
"""
from __future__ import annotations

import sys
from typing import NoReturn

import click

from dsd_tui.errors import FetchFailed, RunFailed, UsageError, WriteFailed
from dsd_tui.record.events import RunStatus

DONE, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130
# a run's end (RunSession.run())
STATUS_CODES: dict[RunStatus, int] = {"completed": DONE, "stopped": DONE, "failed": FAILED, "interrupted": INTERRUPTED}
EPILOG = (f"Exit codes: {DONE} done, {FAILED} the run failed (or a download: missing file, no connection, cut "
          f"transfer, full disk), {USAGE} bad usage/profile/input (or a checksum that does not match), "
          f"{INTERRUPTED} interrupted.")


class Interrupted(Exception):
    """Ctrl-C, with what the user can do about it in the message (e.g. how to resume): exit code 130."""


def status_code(status: str | None) -> int:
    """The exit code for a run's final status (`RunSession.run()`); anything unknown counts as failed."""
    return STATUS_CODES.get(status, FAILED)


def exit_for(error: BaseException) -> tuple[int, str] | None:
    """(exit code, the line for stderr) for an error a user can act on; None for anything else (a bug)."""
    if isinstance(error, UsageError):  # ProfileError, RunDirError, DataError ...
        return USAGE, str(error)
    if isinstance(error, RunFailed):
        return FAILED, f"the run failed: {error}"
    if isinstance(error, (FetchFailed, WriteFailed)):
        return FAILED, str(error)
    if isinstance(error, Interrupted):
        return INTERRUPTED, str(error)
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED, "interrupted"
    return None


def say(text: str, err: bool = False) -> None:
    """One line to stdout/stderr that cannot crash the command when the terminal or pipe is gone."""
    from dsd_tui.headless import safe_write
    safe_write(sys.stderr if err else sys.stdout, text + "\n")


def echo_all(text: str) -> None:
    """A command's output (export, compare, ...) to stdout. A reader that quit (EPIPE, `| head`) ends it
    quietly; stdout that cannot take it (`> /dev/full`, a full disk, a dead terminal) is one line and
    exit 2 instead of a traceback, since the user asked for output that was not delivered."""
    import errno

    from dsd_tui.headless import silence_broken
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (OSError, ValueError) as e:
        silence_broken(sys.stdout)  # the interpreter's last flush must not fail again
        if getattr(e, "errno", None) == errno.EPIPE:
            return
        reason = getattr(e, "strerror", None) or e.__class__.__name__
        fail(f"cannot write the output to stdout ({reason}); write it to a file with -o FILE or free the disk")


def fail(message: str, code: int = USAGE) -> NoReturn:
    """End the command now: `dsd-tui: message` on stderr, and `code`."""
    say(f"dsd-tui: {message}", err=True)
    sys.exit(code)


def fill_closed_streams() -> None:
    """A command started with stdin, stdout or stderr closed (`dsd-tui run <&- >&- 2>&-`, some daemons) has
    None there (Python's answer), and every print or `isatty()` was an AttributeError. Each closed one is
    opened on /dev/null, which also takes its file descriptor (0, 1, 2), so no file the run opens later gets
    fd 1 or 2 and receives what C code writes there. Without a terminal the run is headless, as elsewhere."""
    import os
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):  # in fd order: the lowest free fd
        if getattr(sys, name) is not None:
            continue
        stream = open(os.devnull, mode)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


class ExitGroup(click.Group):
    """The `dsd-tui` group: each command's return value is its exit code, and what it raises is mapped by
    `exit_for`. Click's own exceptions (bad option, --help) and SystemExit pass through unchanged."""

    def main(self, *args, **kwargs):
        """Closed standard streams are filled first; a reader that went away (`dsd-tui profiles | head -1`)
        ends the command quietly with 0, where Click would exit 1 (= "the run failed")."""
        fill_closed_streams()
        try:
            return super().main(*args, **kwargs)
        except SystemExit as e:
            # Click's answer to EPIPE on stdout: exit 1 after wrapping stdout in its (_)PacifyFlushWrapper
            if e.code == 1 and type(sys.stdout).__name__.lstrip("_") == "PacifyFlushWrapper":
                raise SystemExit(DONE) from None
            raise

    def invoke(self, ctx: click.Context):
        try:
            code = super().invoke(ctx)
        except (UsageError, RunFailed, FetchFailed, WriteFailed, Interrupted, KeyboardInterrupt) as e:
            code, message = exit_for(e)
            fail(message, code)
        if code:
            sys.exit(code)
        return code
