"""Signals and lost terminals, with the real command in a subprocess: SIGINT/SIGTERM stop at a batch
boundary with a resumable state and exit 130; SIGHUP and a terminal or pipe that goes away do not
stop a headless run."""
from __future__ import annotations

import os
import pty
import signal
from pathlib import Path

import pytest
from relhelp import QUICK, cli, load_summary, run_dirs, sets, wait_for

from dsd_tui.headless import HeadlessPrinter
from dsd_tui.record import events as ev
from dsd_tui.record.rundir import read_events, safe_torch_load

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

ONE_PHASE = [*QUICK, "distill.enabled=false"]


def epochs_done(run) -> int:
    try:
        return sum(1 for e in read_events(run / "events.jsonl") if e.type == "epoch_finished")
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_sigterm_save_state_mark_interrupted_exit_130(sig, tmp_path):
    proc = cli("run", "--no-tui", "--out", str(tmp_path), *sets(*QUICK))
    run = wait_for(lambda: run_dirs(tmp_path) and run_dirs(tmp_path)[0], timeout=120)
    wait_for(lambda: epochs_done(run) >= 8 or proc.poll() is not None, timeout=120)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert err.decode().strip().splitlines() == [
        f"dsd-tui: the run was interrupted; continue it with: dsd-tui resume {run}"]
    assert load_summary(run)["status"] == "interrupted"
    assert read_events(run / "events.jsonl")[-1].type == "run_interrupted"
    state = safe_torch_load(run / "state" / "latest.pt", "resume state")
    assert state["cursor"]["epoch"] > 0 or state["cursor"]["rung_done"]


def test_sighup_and_a_vanished_terminal_do_not_stop_a_headless_run(tmp_path):
    master, slave = pty.openpty()
    proc = cli("run", "--no-tui", "--out", str(tmp_path), *sets(*ONE_PHASE), stdout=slave, stderr=slave,
               stdin=open(os.devnull), start_new_session=True)
    os.close(slave)
    run = wait_for(lambda: run_dirs(tmp_path) and run_dirs(tmp_path)[0], timeout=120)
    wait_for(lambda: epochs_done(run) >= 2 or proc.poll() is not None, timeout=120)
    os.read(master, 65536)
    os.close(master)  # the terminal is gone: the run's next writes fail with EIO
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=180) == 0
    summary = load_summary(run)
    assert summary["status"] == "completed"
    assert len(summary["phases"][0]["rungs"]) == 4


def broken_pipe_stream():
    read_end, write_end = os.pipe()
    os.close(read_end)  # e.g. `dsd-tui run --no-tui | head -1` after head quit
    return open(write_end, "w")


def broken_terminal_stream():
    master, slave = pty.openpty()
    os.close(master)  # the SSH session dropped: writes to the terminal fail with EIO
    return open(slave, "w")


@pytest.mark.parametrize("make", [broken_pipe_stream, broken_terminal_stream], ids=["EPIPE", "EIO"])
def test_headless_printer_survives_a_gone_reader(make):
    stream = make()
    printer = HeadlessPrinter(stream, live=True)
    with pytest.raises(OSError):  # the control: this stream really is broken
        stream.write("x" * 100_000)
        stream.flush()
    for e in [ev.Log(message="hello"), ev.EpochFinished(phase="teacher", rung=0, epoch=1, epochs=2, train_loss=1.0,
                                                         train_acc=0.5, lr=0.1, seconds=0.1),
              ev.RunFinished(status="completed", seconds=1.0)]:
        printer(e)  # must not raise: the stream now points at /dev/null
    stream.write("more")
    stream.close()


def pty_for_the_monitor():
    """A pseudo-terminal of 100×30, as an SSH session gives the monitor."""
    import fcntl
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    return master, slave


def wait_for_a_screen(master, timeout: float = 180.0) -> None:
    """Read the pty until the monitor has drawn a screenful: its signal handlers are in place by then.
    (A fixed sleep raced the start-up on a loaded machine: a SIGHUP that came before the handler was
    installed was ignored, as the test starts the monitor with SIGHUP ignored.)"""
    import select
    import time
    seen, end = 0, time.monotonic() + timeout
    while seen < 2000:
        assert time.monotonic() < end, "the monitor drew nothing"
        if select.select([master], [], [], 1.0)[0]:
            seen += len(os.read(master, 65536))


def read_until(master, text: bytes, timeout: float = 180.0) -> bytes:
    """Read the pty until `text` has been drawn (what the screen shows, not a fixed delay); `timeout` only
    guards against a hang."""
    import select
    import time
    seen, end = b"", time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < end, f"the screen never showed {text!r}: {seen[-2000:]!r}"
        if select.select([master], [], [], 1.0)[0]:
            seen += os.read(master, 65536)
    return seen


def drain(master) -> None:
    import select
    while select.select([master], [], [], 0)[0]:
        try:
            if not os.read(master, 65536):
                return
        except OSError:
            return


@pytest.mark.parametrize("when", ["after the run", "during the run"])
def test_the_monitor_leaves_when_its_terminal_hangs_up(when, tmp_path):
    """An SSH drop under `dsd-tui run` (the monitor): the process must end, not linger with the run
    done (Textual's input thread would spin on the dead terminal at 100% CPU), and the run stays
    complete, or resumable if it was still going."""
    master, slave = pty_for_the_monitor()
    overrides = ONE_PHASE if when == "after the run" else [*ONE_PHASE, "train.epochs=200"]
    proc = cli("run", "--out", str(tmp_path), *sets(*overrides), stdin=slave, stdout=slave, stderr=slave,
               start_new_session=True)
    os.close(slave)
    run = wait_for(lambda: run_dirs(tmp_path) and run_dirs(tmp_path)[0], timeout=120)
    if when == "after the run":
        wait_for(lambda: (run / "summary.json").exists() and load_summary(run)["status"] == "completed", timeout=180,
                 step=0.2)
        read_until(master, b"completed")  # the monitor shows the run's end and now waits for q
    else:
        wait_for(lambda: epochs_done(run) >= 10 or proc.poll() is not None, timeout=120, step=0.2)
    assert proc.poll() is None  # the monitor is still open
    drain(master)
    os.close(master)  # the terminal is gone ...
    proc.send_signal(signal.SIGHUP)  # ... and the kernel sends the hangup,
    proc.send_signal(signal.SIGCONT)  # and a SIGCONT to a process group it orphans (as tmux kill-server does)
    try:
        code = proc.wait(timeout=120)  # it must end (a generous bound for a loaded machine), not linger
    finally:
        proc.kill()
    if when == "after the run":
        assert code == 0 and load_summary(run)["status"] == "completed"
    else:
        assert code == 130 and load_summary(run)["status"] == "interrupted"
        assert (run / "state" / "latest.pt").exists()


def test_watch_leaves_when_its_terminal_hangs_up(tmp_path):
    """The read-only monitor over an SSH session that drops must end too."""
    import shutil
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(Path(__file__).parents[1] / "data" / "tui-short-run.jsonl", run / "events.jsonl")
    (run / "profile.toml").write_text("")
    master, slave = pty_for_the_monitor()
    # Started with SIGHUP ignored, as under nohup or a runner that ignores it: the monitor must not rely
    # on the default action.
    proc = cli("watch", str(run), stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
               preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    os.close(slave)
    wait_for_a_screen(master)
    assert proc.poll() is None  # the monitor is open
    drain(master)
    os.close(master)
    proc.send_signal(signal.SIGHUP)
    proc.send_signal(signal.SIGCONT)
    try:
        proc.wait(timeout=120)  # a generous bound for a loaded machine; it must end, not linger
    finally:
        proc.kill()


def test_after_a_hangup_a_stuck_exit_still_ends_the_process_with_the_runs_code():
    """The backstop behind the hangup tests above: Textual's exit can block for good on a lost terminal
    (its writer thread died on EIO before the fds were pointed at /dev/null; seen about once in 40
    hangups under load). Once the run is over, the process ends after the grace period with the run's
    exit code, whatever the main thread is stuck in; not before the run is over."""
    import subprocess
    import sys

    from relhelp import env

    # What the output shows is the test, not how long it took: a watchdog that ignored the run would end the
    # process within the grace, before the first line (the 2 s stand for a run still going); one that never
    # fired would print the second line after the 60 s, or be stopped by the hang guard (timeout=120).
    code = """
import threading, time
from dsd_tui import signals
signals.HANGUP_GRACE_S = 0.5
over = threading.Event()
signals.exit_if_stuck(over, lambda: 130)
time.sleep(2.0)
print("still running while the run goes on", flush=True)
over.set()
time.sleep(60)  # stands for a shutdown blocked on a dead terminal
print("not reached", flush=True)
"""
    done = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 130, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["still running while the run goes on"]


# ---------------------------------------------------------------- a signal before the run's handlers

# The real command, stopped where the test says (`reached` writes the flag file the test waits on), then
# waiting for the signal the test sends: at `import torch` (the first seconds of every run), between the
# run directory's creation and the run's handlers, or while the run directory is being made.
PAUSED_CLI = r'''
import os, signal, sys, time
from pathlib import Path

where, flag, args = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]


def reached():
    flag.write_text(where)


def wait_for_the_signal():
    if where.endswith("then go on"):  # an ignored signal wakes nothing: go on once the test says it was sent
        while not flag.with_suffix(".sent").exists():
            time.sleep(0.01)
    else:
        signal.pause()  # the guard's handler raises here; without one the process dies here


if where.startswith("torch import"):
    class AtTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch":
                sys.meta_path.remove(self)
                reached()
                wait_for_the_signal()
            return None
    sys.meta_path.insert(0, AtTorch())
elif where == "run dir made":
    import dsd_tui.cli as cli
    real_headless = cli._run_headless

    def headless(session, guard=None):
        reached()
        wait_for_the_signal()
        return real_headless(session, guard)
    cli._run_headless = headless
elif where == "while the run dir is made":
    import dsd_tui.runner as runner
    real_rundir = runner.RunDir

    def rundir(*a, **k):
        made = real_rundir(*a, **k)
        reached()
        wait_for_the_signal()  # held by the guard until the folder's session is known
        return made
    runner.RunDir = rundir
from dsd_tui.cli import main
main(args, prog_name="dsd-tui")
'''


def paused_cli(tmp_path, where: str, *args: str, **kw):
    import subprocess
    import sys

    from relhelp import env
    script = tmp_path / "paused_cli.py"
    script.write_text(PAUSED_CLI)
    flag = tmp_path / "reached.flag"
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    proc = subprocess.Popen([sys.executable, str(script), where, str(flag), *args], env=env(), **kw)
    wait_for(lambda: flag.exists() or proc.poll() is not None, timeout=180)  # a hang guard, not a bound
    assert proc.poll() is None, proc.communicate()
    return proc, flag


TINY_RUN = ["prune.rungs=1", "train.dense_epochs=1", "train.epochs=1", "distill.enabled=false"]


@pytest.mark.parametrize("where,sig", [("torch import", signal.SIGTERM), ("torch import", signal.SIGINT),
                                       ("run dir made", signal.SIGTERM), ("while the run dir is made", signal.SIGTERM),
                                       ("while the run dir is made", signal.SIGINT)])
def test_a_signal_before_the_run_started_is_one_line_and_leaves_no_run_dir(tmp_path, where, sig):
    """Before: the default action (exit 143, no message; a kill after the folder was made left it with a profile
    and an empty log). Now: one line, exit 130 (the code of every interrupted run), no run directory."""
    out = tmp_path / "out"
    proc, _flag = paused_cli(tmp_path, where, "run", "--no-tui", "--out", str(out), *sets(*TINY_RUN))
    proc.send_signal(sig)
    stdout, err = proc.communicate(timeout=120)  # a hang guard
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 130, err.decode()
    assert lines == [f"dsd-tui: interrupted by {sig.name} before the run started; no run directory was left: "
                     f"start it again"], err.decode()
    assert "Traceback" not in err.decode()
    assert run_dirs(out) == []


def test_an_early_sighup_does_not_stop_a_headless_run(tmp_path):
    """A headless run outlives its terminal (SIGHUP ignored): from its first second, not only once it runs."""
    out = tmp_path / "out"
    proc, flag = paused_cli(tmp_path, "torch import, then go on", "run", "--no-tui", "--out", str(out),
                            *sets(*TINY_RUN))
    proc.send_signal(signal.SIGHUP)
    flag.with_suffix(".sent").write_text("")
    stdout, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert load_summary(run_dirs(out)[0])["status"] == "completed"


def test_an_early_sighup_on_a_terminal_is_one_line(tmp_path):
    """`dsd-tui run` under the monitor, its terminal gone in the first seconds: the monitor would stop the run
    (resumable); before it started there is nothing to keep."""
    master, slave = pty_for_the_monitor()
    out = tmp_path / "out"
    proc, _flag = paused_cli(tmp_path, "torch import", "run", "--out", str(out), *sets(*TINY_RUN), stdin=slave,
                             stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=120) == 130  # a hang guard
    screen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the process ended and closed its side
            break
        if not chunk:
            break
        screen += chunk
    os.close(master)
    assert b"interrupted by SIGHUP before the run started" in screen, screen
    assert run_dirs(out) == []


def test_a_signal_before_a_resume_started_leaves_the_run_as_it_was(tmp_path):
    from fake_files import fake_run
    from relhelp import snapshot_tree
    run = fake_run(tmp_path / "runs")
    before = snapshot_tree(run)
    proc, _flag = paused_cli(tmp_path, "torch import", "resume", str(run), "--no-tui")
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert err.decode().strip().splitlines() == [
        f"dsd-tui: interrupted by SIGTERM before the resumed run started; nothing was added to {run}: resume it "
        f"again with `dsd-tui resume {run}`"]
    assert snapshot_tree(run) == before
