"""Signals and lost terminals, for every way a run or a monitor is shown: what SIGINT, SIGTERM and
SIGHUP do, and the backstop that ends a monitor whose terminal is gone.

Why a module of its own: the headless run, the run monitor, `dsd-tui watch` and the sweep table each
need a different answer to the same signals, and the answers depend on each other (a SIGHUP ignored by
a parent is inherited, a hung-up terminal makes Textual's exit hang); kept side by side they stay
consistent. Each handler is installed by a context manager that puts the previous ones back on leaving,
so nothing outlives the run or the app it was installed for. docs/reliability.md says why each exists.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Callable, Iterator

HANGUP_GRACE_S = 5.0  # after a hangup (and the run's end), how long Textual may take to exit by itself


@contextlib.contextmanager
def installed(handlers: dict[str, object]) -> Iterator[None]:
    """Install {signal name: handler} (names this platform lacks are skipped); restore the previous ones."""
    previous = {}
    for name, handler in handlers.items():
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class SweepStopped(KeyboardInterrupt):
    """SIGINT or SIGTERM to a sweep driver: its ladders are stopped and marked interrupted (study/sweep.py)."""


def sweep_stops() -> contextlib.AbstractContextManager:
    """While a sweep driver runs: SIGINT and SIGTERM raise SweepStopped in its main thread. Installed even where
    SIGINT was ignored (a sweep started in the background by a shell, whose Ctrl-C should not reach it, can
    still be stopped by `kill -INT`), and SIGTERM no longer kills the driver with Ray's stack dump and a
    sweep.json left "running". Elsewhere than the main thread nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        return contextlib.nullcontext()

    def stop(signum, _frame):
        raise SweepStopped(signal.Signals(signum).name)
    return installed({"SIGINT": stop, "SIGTERM": stop})


class EarlySignal(BaseException):
    """SIGINT, SIGTERM or SIGHUP before a run's own handlers were installed (`before_run`). A BaseException,
    like KeyboardInterrupt, so that no `except Exception` on the way swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


class BeforeRun:
    """What SIGINT, SIGTERM and SIGHUP do from the start of `dsd-tui run`/`resume` (before `import torch`,
    the data, the run directory) until the run's own handlers are installed (`hand_over`).

    Without it the default action ended the process (exit 143 for SIGTERM, no message) wherever it was,
    and a kill after the run directory was made left a folder with a profile and an empty log. Here the
    first signal raises EarlySignal where the program is, so the command can remove what it made and say
    one line; a signal inside `deferred()` (creating the run directory and its files) is held until the
    block ends, so the session that owns the folder is known (`session`) when it is raised. While the
    command cleans up, further signals are ignored. After `hand_over` (the run's handlers are in place;
    they restore these when the run is over) a signal does what it did before this guard."""

    def __init__(self):
        self.state = "armed"  # armed | deferring | leaving | handed
        self.pending: int | None = None
        self.previous: dict[int, object] = {}
        self.session = None  # the session once made, for the command to discard if a signal comes first

    @property
    def handed(self) -> bool:
        return self.state == "handed"

    def handle(self, signum, frame) -> None:
        if self.state == "armed":
            self.state = "leaving"
            raise EarlySignal(signum)
        if self.state == "deferring":
            self.pending = self.pending or signum
            return
        if self.state == "leaving":  # the command is removing what it made: let it finish
            return
        previous = self.previous.get(signum)
        if callable(previous):  # Python's own SIGINT handler: KeyboardInterrupt
            previous(signum, frame)
            return
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """A signal inside the block is raised (EarlySignal) when the block ends, not in the middle of it."""
        if self.state != "armed":
            yield
            return
        self.state = "deferring"
        try:
            yield
        finally:
            if self.state == "deferring":
                self.state = "armed"
                if self.pending is not None:
                    self.state = "leaving"
                    raise EarlySignal(self.pending)

    def hand_over(self) -> None:
        """The run's own handlers are installed: a later signal is theirs, or (after the run) the default."""
        if self.state in ("armed", "deferring"):
            self.state = "handed"


@contextlib.contextmanager
def before_run(hangup_stops: bool) -> Iterator[BeforeRun]:
    """BeforeRun's handlers, restored on leaving. A signal the process inherited as ignored (nohup ignores
    SIGHUP) stays ignored; with `hangup_stops` False (a headless run, which outlives its terminal) SIGHUP is
    ignored from the start, as `stop_on_signals` will."""
    guard = BeforeRun()
    handlers: dict[str, object] = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        current = signal.getsignal(sig)
        if current == signal.SIG_IGN:
            continue
        guard.previous[sig] = current
        handlers[name] = signal.SIG_IGN if name == "SIGHUP" and not hangup_stops else guard.handle
    with installed(handlers):
        yield guard


def stop_on_signals(session) -> contextlib.AbstractContextManager:
    """A headless run: SIGINT/SIGTERM finish the batch, save, mark the run interrupted (exit 130).
    SIGHUP is ignored: the run outlives its terminal (see README), and printing to a gone terminal
    is harmless (`headless.safe_write`)."""
    def stop(_signum, _frame):
        session.stop_now.set()
    return installed({"SIGINT": stop, "SIGTERM": stop, "SIGHUP": signal.SIG_IGN})


def hangup_ends_process() -> contextlib.AbstractContextManager:
    """A read-only view (the sweep table): a hangup may end it outright, even if a parent ignored SIGHUP."""
    return installed({"SIGHUP": signal.SIG_DFL})


def detach_from_terminal() -> None:
    """Point stdin, stdout and stderr at /dev/null: the terminal is gone.

    Textual writes the screen from a writer thread through a bounded queue; a write to a hung-up
    terminal fails (EIO), that thread dies, and the app's own exit, which writes to restore the
    terminal, then waits forever on the full queue (seen under `tmux kill-server`, whose SIGHUP comes
    with a SIGCONT that makes Textual restart its output). On /dev/null every write succeeds and a
    read sees the end of input."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in (0, 1, 2):
            os.dup2(null, fd)
    finally:
        os.close(null)


def exit_if_stuck(run_over: threading.Event | None, exit_code: Callable[[], int]) -> None:
    """After a hangup: once the run is over (its files written and closed), give the app
    HANGUP_GRACE_S to exit by itself, then end the process with the run's exit code.

    Why: the terminal's writes fail with EIO as soon as it is gone, which can be before the SIGHUP
    handler has pointed the fds at /dev/null; Textual's writer thread then dies, its bounded queue
    fills, and the app's shutdown (which writes to restore the terminal) blocks on that queue forever
    (caught by tests/cli/test_signals.py under load, about 1 hangup in 40). With the terminal gone there
    is nothing left to restore, and the run's files are complete, so leaving without the rest of the
    shutdown loses nothing."""
    def watchdog() -> None:
        if run_over is not None:
            run_over.wait()
        time.sleep(HANGUP_GRACE_S)
        os._exit(exit_code())

    threading.Thread(target=watchdog, name="hangup-exit", daemon=True).start()


def leave_on_hangup(leave: Callable[[], None], run_over: threading.Event | None = None,
                    exit_code: Callable[[], int] = lambda: 0) -> contextlib.AbstractContextManager:
    """A monitor (a live run or `watch`): while it runs, SIGTERM and SIGHUP call `leave` (stop the run
    at its next batch, and have the app leave on its next tick); after a SIGHUP the process ends at the
    latest HANGUP_GRACE_S after the run is over (`run_over`), with `exit_code()`, should Textual's exit
    hang on the lost terminal.

    Explicit rather than left to the default action: a SIGHUP ignored by a parent (nohup, a test
    runner) is ignored by its children too, and a monitor that outlives its terminal spins in
    Textual's input thread at 100% of a core."""
    watched = []

    def handler(signum, _frame):
        if signum == getattr(signal, "SIGHUP", None):
            detach_from_terminal()
            if not watched:
                watched.append(True)
                exit_if_stuck(run_over, exit_code)
        leave()

    return installed({"SIGTERM": handler, "SIGHUP": handler})
