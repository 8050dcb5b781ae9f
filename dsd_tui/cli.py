"""The `dsd-tui` command: run, resume, watch, export, profiles (and the study commands, from study/).

Each command returns its exit code and raises what the user can fix; `exits.py` holds the codes and
turns those errors into one line on stderr (bad profile, bad path, not a run directory: exit 2; a run
that fails: 1; an interrupted one: 130, resumable). `run` and `resume` share `run_session`.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Callable

import click

from dsd_tui import profile as profile_mod
from dsd_tui.exits import EPILOG, ExitGroup, Interrupted, echo_all, fail, say, status_code


@click.group(cls=ExitGroup, epilog=EPILOG)
@click.version_option(package_name="dsd-tui")
def main():
    """Run and watch DSD² pruning ladders (sparse double descent, distillation, activation entropy)."""


@main.command()
@click.argument("profile", required=False)
@click.option("--no-tui", is_flag=True, help="Run headless: one printed line per rung (batch jobs, SSH, nohup).")
@click.option("--out", "out", metavar="DIR",
              help="Parent folder for the run directory (default: the profile's run.out).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a profile key, e.g. --set train.epochs=5 (repeatable).")
def run(profile, no_tui, out, overrides):
    """Run PROFILE (a .toml path or a bundled name; default: the embedded quickstart)."""
    from dsd_tui.runner import RunSession

    def start(sinks):
        prof = profile_mod.load(profile, overrides)
        _check_device(prof)
        session = RunSession.new(prof, out, sinks=sinks)
        say(str(session.path))
        return session
    return run_session(start, no_tui)


@main.command()
@click.argument("run_dir")
@click.option("--no-tui", is_flag=True, help="Resume headless.")
def resume(run_dir, no_tui):
    """Continue an interrupted run from its last saved epoch."""
    from dsd_tui.runner import RunSession
    return run_session(lambda sinks: RunSession.resume_from(run_dir, sinks=sinks), no_tui)


def run_session(start: Callable[[list], object], no_tui: bool) -> int:
    """The body of `run` and `resume`: `start(sinks)` makes the RunSession (new or resumed; a problem
    with the input raises UsageError before anything runs), which then runs headless or under the
    monitor. Returns the exit code of its final status, after one line on stderr if it did not finish."""
    try:
        if no_tui:
            from dsd_tui.headless import HeadlessPrinter
            session = start([HeadlessPrinter()])
            status = _run_headless(session)
        else:
            session = start([])
            status = _run_tui(session)
    except KeyboardInterrupt:  # Ctrl-C while the data loads, before the run's own handlers are installed
        raise Interrupted("interrupted before the run started") from None
    _finish(status, session)
    return status_code(status)


def _check_device(prof) -> None:
    from dsd_tui.core.ladder import pick_device
    pick_device(prof.run.device)


def _run_headless(session) -> str:
    from dsd_tui.signals import stop_on_signals
    with stop_on_signals(session):
        return session.run()


def _is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _run_tui(session) -> str:
    try:
        from dsd_tui.tui.app import run_app
    except ImportError:  # an installation without the TUI's dependencies
        run_app = None
    if run_app is None or not _is_terminal():
        if run_app is not None:  # a pipe, a file or nohup: a full-screen app would only garble the output
            say("dsd-tui: not a terminal, so running headless as with --no-tui", err=True)
        from dsd_tui.headless import HeadlessPrinter
        session.sink.sinks.append(HeadlessPrinter())
        return _run_headless(session)
    return run_app(session)


def _finish(status: str, session) -> None:
    if status == "failed":
        say(f"dsd-tui: the run failed: {session.error}", err=True)
    elif status == "interrupted":
        say(f"dsd-tui: interrupted; continue with: dsd-tui resume {session.path}", err=True)


@main.command()
@click.argument("run_dir")
def watch(run_dir):
    """Follow a run started elsewhere (read-only); works on finished runs too. A sweep directory
    shows the table of its ladders, from which one is opened with Enter."""
    from dsd_tui.record.rundir import EVENTS, read_events, require_run_dir
    from dsd_tui.study.sweep_index import is_sweep_dir
    if is_sweep_dir(Path(run_dir)):
        from dsd_tui.signals import hangup_ends_process
        from dsd_tui.study.sweep_index import read_index
        read_index(Path(run_dir))  # a damaged sweep.json is one line here, not a crash screen
        from dsd_tui.tui.screens.sweep import watch_sweep
        with hangup_ends_process():
            watch_sweep(Path(run_dir))
        return
    path = require_run_dir(Path(run_dir), "watch")
    read_events(path / EVENTS)  # an edited log is one line here, not a crash screen in the app
    try:
        from dsd_tui.tui.app import watch_app
    except ImportError:
        fail("the TUI is not available in this installation")
    if not _is_terminal():
        fail(f"watch needs a terminal (stdin and stdout); without one read the run with `dsd-tui export {path}`")
    watch_app(path)


@main.command()
@click.argument("run_dir")
@click.option("-o", "output", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
def export(run_dir, output, fmt):
    """Print the run summary (JSON, or CSV with one row per phase and rung)."""
    from dsd_tui.paths import output_target
    from dsd_tui.record.rundir import atomic_write_text, rebuild_summary, require_run_dir
    path = require_run_dir(Path(run_dir), "export")
    target = output_target(output, "-o") if output else None  # before any work: a FIFO, a device, a run's file
    summary = rebuild_summary(path).summary()
    text = json.dumps(summary, indent=2) + "\n" if fmt == "json" else summary_csv(summary)
    if target is not None:
        try:
            atomic_write_text(target, text)
        except OSError as e:
            fail(f"-o {output}: cannot write ({e.strerror}); choose a writable path")
    else:
        echo_all(text)


CSV_FIELDS = ["phase", "rung", "sparsity", "remaining_weights", "train_acc", "train_acc_clean", "train_loss",
              "val_acc", "val_loss", "test_acc", "test_loss", "entropy_mean", "regime", "epochs", "seconds",
              "learning_distance"]


def summary_csv(summary: dict) -> str:
    layers = sorted({k for p in summary["phases"] for r in p["rungs"] for k in r.get("entropy", {})})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS + [f"entropy:{name}" for name in layers])
    for p in summary["phases"]:
        for r in p["rungs"]:
            row = [p["name"]] + [r.get(k, "") for k in CSV_FIELDS[1:]]
            row += [r.get("entropy", {}).get(name, "") for name in layers]
            w.writerow(row)
    return buf.getvalue()


@main.command()
def profiles():
    """List the bundled profiles, one line each."""
    for name in profile_mod.bundled_names():
        raw = profile_mod.parse_toml(profile_mod.bundled_text(name), name)
        echo_all(f"{name:<27} {raw.get('description', '')}\n")


from dsd_tui.study.commands import STUDY_COMMANDS  # noqa: E402 - sweep, aggregate, compare, plot

for _command in STUDY_COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
