"""Errors a user can act on. The CLI prints their message as one line and exits with the code that
`exits.exit_for` gives their class (the one exit-code table)."""


class UsageError(Exception):
    """Bad usage, profile or input: one line for the user, exit code 2, no traceback."""

    def __init__(self, message: str = ""):
        super().__init__(one_line(str(message)))


def one_line(text: str) -> str:
    """Control characters (a newline in a quoted value or path) escaped, so a message stays one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class RunFailed(Exception):
    """The run started but could not finish (divergence, a failed write): exit code 1."""


class FetchFailed(Exception):
    """A download that could not be completed (a missing file, no connection, a cut transfer, a full disk):
    exit code 1, nothing half-written (dsd_tui/fetch/)."""


class WriteFailed(Exception):
    """An output the user asked for that could not be written (a full disk, a quota): exit code 1, one line,
    nothing half-written left behind."""


class ChecksumMismatch(UsageError):
    """A downloaded file whose checksum is not the published one: exit code 2, nothing kept."""
