"""Errors a user can act on. The CLI prints their message as one line and exits with `exit_code`."""


class UsageError(Exception):
    """Bad usage, profile or input: one line for the user, exit code 2, no traceback."""

    exit_code = 2


class RunFailed(Exception):
    """The run started but could not finish (divergence, a failed write): exit code 1."""

    exit_code = 1
