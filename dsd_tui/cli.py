"""The `dsd-tui` command: run, resume, watch, export, profiles.

Errors a user can fix (bad profile, bad path, not a run directory) end as one line on stderr and
exit code 2; a run that fails exits 1; an interrupted one exits 130 and can be resumed.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import click

from dsd_tui import profile as profile_mod
from dsd_tui.errors import UsageError

EPILOG = "Exit codes: 0 done, 1 the run failed, 2 bad usage/profile/input, 130 interrupted."


def fail(message: str, code: int = 2):
    say(f"dsd-tui: {message}", err=True)
    sys.exit(code)


def say(text: str, err: bool = False) -> None:
    """One line to stdout/stderr that cannot crash the command when the terminal or pipe is gone."""
    from dsd_tui.headless import safe_write
    safe_write(sys.stderr if err else sys.stdout, text + "\n")


@click.group(epilog=EPILOG)
@click.version_option(package_name="dsd-tui")
def main():
    """Run and watch DSD² pruning ladders (sparse double descent, distillation, activation entropy)."""


@main.command()
@click.argument("profile", required=False)
@click.option("--no-tui", is_flag=True, help="Run headless: one printed line per rung (batch jobs, SSH, nohup).")
@click.option("--out", "out", metavar="DIR", help="Parent folder for the run directory (default: the profile's run.out).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a profile key, e.g. --set train.epochs=5 (repeatable).")
def run(profile, no_tui, out, overrides):
    """Run PROFILE (a .toml path or a bundled name; default: the embedded quickstart)."""
    from dsd_tui.runner import EXIT, RunSession
    try:
        prof = profile_mod.load(profile, overrides)
        _check_device(prof)
        if no_tui:
            from dsd_tui.headless import HeadlessPrinter
            session = RunSession.new(prof, out, sinks=[HeadlessPrinter()])
            say(str(session.path))
            status = _run_headless(session)
        else:
            session = RunSession.new(prof, out)
            say(str(session.path))
            status = _run_tui(session)
    except UsageError as e:
        fail(str(e))
    except KeyboardInterrupt:  # Ctrl-C while the data loads, before the run's own handlers are installed
        fail("interrupted before the run started", 130)
    _finish(status, session)
    sys.exit(EXIT.get(status, 1))


@main.command()
@click.argument("run_dir")
@click.option("--no-tui", is_flag=True, help="Resume headless.")
def resume(run_dir, no_tui):
    """Continue an interrupted run from its last saved epoch."""
    from dsd_tui.runner import EXIT, RunSession
    try:
        if no_tui:
            from dsd_tui.headless import HeadlessPrinter
            session = RunSession.resume_from(run_dir, sinks=[HeadlessPrinter()])
            status = _run_headless(session)
        else:
            session = RunSession.resume_from(run_dir)
            status = _run_tui(session)
    except UsageError as e:
        fail(str(e))
    except KeyboardInterrupt:  # Ctrl-C while the data loads, before the run's own handlers are installed
        fail("interrupted before the run started", 130)
    _finish(status, session)
    sys.exit(EXIT.get(status, 1))


def _check_device(prof) -> None:
    from dsd_tui.core.ladder import pick_device
    pick_device(prof.run.device)


def _run_headless(session) -> str:
    from dsd_tui.runner import install_signal_handlers
    install_signal_handlers(session)
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
    from dsd_tui.record.rundir import require_run_dir
    from dsd_tui.study.sweep_index import is_sweep_dir
    if is_sweep_dir(Path(run_dir)):
        from dsd_tui.tui.screens.sweep import watch_sweep
        try:
            return watch_sweep(Path(run_dir))
        except UsageError as e:
            fail(str(e))
    try:
        path = require_run_dir(Path(run_dir), "watch")
        from dsd_tui.tui.app import watch_app
    except UsageError as e:
        fail(str(e))
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
    from dsd_tui.record.rundir import atomic_write_text, rebuild_summary, require_run_dir
    try:
        path = require_run_dir(Path(run_dir), "export")
    except UsageError as e:
        fail(str(e))
    summary = rebuild_summary(path).summary()
    text = json.dumps(summary, indent=2) + "\n" if fmt == "json" else summary_csv(summary)
    if output:
        try:
            atomic_write_text(Path(output), text)
        except OSError as e:
            fail(f"-o {output}: cannot write ({e.strerror}); choose a writable path")
    else:
        click.echo(text, nl=False)


CSV_FIELDS = ["phase", "rung", "sparsity", "remaining_weights", "train_acc", "train_acc_clean", "train_loss",
              "val_acc", "val_loss", "test_acc", "test_loss", "entropy_mean", "regime", "epochs", "seconds"]


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
        click.echo(f"{name:<27} {raw.get('description', '')}")


from dsd_tui.study.commands import STUDY_COMMANDS  # noqa: E402 - sweep, aggregate, compare, plot

for _command in STUDY_COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
