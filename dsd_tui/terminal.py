"""What the terminal can take: full-screen drawing or not, and characters its encoding lacks.

`TERM=dumb` (Emacs shells, some CI logs) or a terminal without cursor addressing cannot host the
full-screen monitor, so a run there falls back to the headless view with one line saying why instead of
filling the log with escape codes. And output must never end a command: under `LC_ALL=C` (stdout's
encoding ASCII) a "δ" or a "²" in a profile description becomes "?" rather than a UnicodeEncodeError
(`degrade_unencodable`). Files are another matter: every text file is read and written as UTF-8 whatever
the locale (record/rundir.py `atomic_write_text`, profile.py, study/study_file.py).
"""
from __future__ import annotations

import codecs
import os
import sys

NO_CURSOR_TERMS = frozenset({"dumb", "unknown"})  # terminals that cannot move the cursor


def no_fullscreen_reason() -> str | None:
    """Why the full-screen monitor cannot run here (None: it can)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return "not a terminal"
    term = os.environ.get("TERM", "")
    if term in NO_CURSOR_TERMS:
        return f"TERM={term} cannot draw the full-screen monitor"
    return None


def degrade_unencodable() -> None:
    """Let stdout and stderr replace what their encoding cannot show (a "?"), when that encoding is not a
    Unicode one; a UTF-8 terminal is left as it is."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        try:
            unicode = codecs.lookup(encoding or "ascii").name.startswith("utf")
        except LookupError:
            unicode = False
        if not unicode and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="replace")
            except (ValueError, OSError):  # a closed or detached stream: nothing to print to anyway
                pass
