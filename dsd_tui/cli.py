"""The `dsd-tui` command: run, resume, watch, export, profiles (and the study commands, from cli_study.py).

Each command returns its exit code and raises what the user can fix; `exits.py` holds the codes and
turns those errors into one line on stderr (bad profile, bad path, not a run directory: exit 2; a run
that fails: 1; an interrupted one: 130, resumable). `run` and `resume` share `run_session`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

import click

from dsd_tui import profile as profile_mod
from dsd_tui.conventions import ENV_PREFIX, RegistryChoice, complete_profile
from dsd_tui.errors import UsageError
from dsd_tui.exits import EPILOG, ExitGroup, Interrupted, echo_all, fail, say, status_code


@click.group(cls=ExitGroup, epilog=EPILOG, context_settings={"auto_envvar_prefix": ENV_PREFIX})
@click.version_option(package_name="dsd-tui")
def main():
    """Run and watch DSD² pruning ladders (sparse double descent, distillation, activation entropy)."""
    from dsd_tui.terminal import degrade_unencodable
    degrade_unencodable()  # LC_ALL=C: "δ" prints as "?" instead of ending the command


@main.command()
@click.argument("profile", required=False, shell_complete=complete_profile)
@click.option("--no-tui", is_flag=True, help="Run headless: one printed line per rung (batch jobs, SSH, nohup).")
@click.option("--out", "out", metavar="DIR",
              help="Parent folder for the run directory (default: the profile's run.out).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", envvar="DSD_TUI_RUN_SET",
              help="Override a profile key, e.g. --set train.epochs=5 (repeatable).")
@click.option("--tensorboard", is_flag=True, help="Write TensorBoard files to RUN_DIR/tensorboard/ as the run goes "
                                                  "(= --set run.tensorboard=true).")
@click.option("--wandb", is_flag=True, help="Log to Weights & Biases as the run goes, offline unless WANDB_MODE "
                                            "says otherwise (= --set run.wandb=true).")
def run(profile, no_tui, out, overrides, tensorboard, wandb):
    """Run PROFILE (a .toml path or a bundled name; default: the embedded quickstart)."""
    def start(sinks, guard):
        from dsd_tui.runner import RunSession, preflight  # torch: seconds, under the guard's handlers
        flags = (["run.tensorboard=true"] if tensorboard else []) + (["run.wandb=true"] if wandb else [])
        prof = profile_mod.load(profile, list(overrides) + flags)
        _check_device(prof)
        data = preflight(prof)
        with guard.deferred():  # a signal while the folder is made is raised once its session is known
            session = guard.session = RunSession.new(prof, out, sinks=sinks, data=data)
        say(str(session.path))
        return session

    def early(name: str) -> str:
        return f"interrupted by {name} before the run started; no run directory was left: start it again"
    return run_session(start, no_tui, early)


@main.command()
@click.argument("run_dir")
@click.option("--no-tui", is_flag=True, help="Resume headless.")
@click.option("--tensorboard", is_flag=True, help="Write TensorBoard files to RUN_DIR/tensorboard/ (rewritten from "
                                                  "the run's events first, then live).")
@click.option("--wandb", is_flag=True, help="Log to Weights & Biases from here on (the same W&B run id).")
def resume(run_dir, no_tui, tensorboard, wandb):
    """Continue an interrupted run from its last saved epoch."""
    def start(sinks, guard):
        from dsd_tui.runner import RunSession  # torch: seconds, under the guard's handlers
        if tensorboard:
            from dsd_tui.export.tensorboard import TensorBoardSink
            sinks = sinks + [TensorBoardSink()]
        if wandb:
            from dsd_tui.export.wandb import WandbSink
            sinks = sinks + [WandbSink()]
        guard.session = RunSession.resume_from(run_dir, sinks=sinks)
        return guard.session

    def early(name: str) -> str:
        return (f"interrupted by {name} before the resumed run started; nothing was added to {run_dir}: resume it "
                f"again with `dsd-tui resume {run_dir}`")
    return run_session(start, no_tui, early)


def run_session(start: Callable[[list, object], object], no_tui: bool, early: Callable[[str], str]) -> int:
    """The body of `run` and `resume`: `start(sinks, guard)` makes the RunSession (new or resumed; a problem
    with the input raises UsageError before anything runs), which then runs headless or under the
    monitor. Returns the exit code of its final status, after one line on stderr if it did not finish.

    From the first line on, SIGINT/SIGTERM/SIGHUP are the guard's (`signals.BeforeRun`) until the run's own
    handlers take over: a signal before that (while torch is imported, the data loads, the folder is made)
    removes a new run's folder and ends with `early(signal name)` on stderr and exit code 130, the code of
    every interrupted run (a SIGTERM a second later, under the run's handlers, gives 130 too)."""
    from dsd_tui.signals import EarlySignal, before_run
    with before_run(hangup_stops=not no_tui and _is_terminal()) as guard:
        try:
            if no_tui:
                from dsd_tui.headless import HeadlessPrinter
                session = start([HeadlessPrinter()], guard)
                status = _run_headless(session, guard)
            else:
                session = start([], guard)
                status = _run_tui(session, guard)
        except EarlySignal as e:
            if guard.session is not None:
                guard.session.abandon()
            raise Interrupted(early(e.name)) from None
        except KeyboardInterrupt:
            if guard.handed:  # SIGINT after the run: Python's own handler, as before the guard
                raise
            if guard.session is not None:  # raised by code before the run started (SIGINT itself is the guard's)
                guard.session.abandon()
            raise Interrupted("interrupted before the run started") from None
    _finish(status, session)
    return status_code(status)


def _check_device(prof) -> None:
    from dsd_tui.core.ladder import pick_device
    pick_device(prof.run.device)


def _run_headless(session, guard=None) -> str:
    from dsd_tui.signals import stop_on_signals
    with stop_on_signals(session):
        if guard is not None:
            guard.hand_over()
        return session.run()


def _is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _run_tui(session, guard) -> str:
    try:
        from dsd_tui.tui.app import run_app
    except ImportError:  # an installation without the TUI's dependencies
        run_app = None
    from dsd_tui.terminal import no_fullscreen_reason
    reason = no_fullscreen_reason()
    if run_app is None or reason:
        if run_app is not None:  # a pipe, a file, nohup or TERM=dumb: a full-screen app would only garble it
            say(f"dsd-tui: {reason}, so running headless as with --no-tui", err=True)
        from dsd_tui.headless import HeadlessPrinter
        session.sink.sinks.append(HeadlessPrinter())
        return _run_headless(session, guard)
    try:
        return run_app(session, handlers_installed=guard.hand_over)
    finally:  # the screen is gone: leave the end-of-run summary on the terminal, as the headless view does
        _print_report(session.rundir.builder.summary())


def _print_report(summary: dict) -> None:
    from dsd_tui.headless import end_of_run_report
    for line in end_of_run_report(summary):
        say(line)


def _finish(status: str, session) -> None:
    if status == "failed":
        say(f"dsd-tui: the run failed: {session.error}", err=True)
    elif status == "interrupted":
        say(f"dsd-tui: the run was interrupted; continue it with: dsd-tui resume {session.path}", err=True)


@main.command()
@click.argument("run_dir")
@click.option("--once", is_flag=True, help="Print the current state as plain text and exit (no terminal needed).")
@click.option("--no-tui", is_flag=True, help="Follow as plain text, as the headless view does, until the run ends.")
def watch(run_dir, once, no_tui):
    """Follow a run started elsewhere (read-only); works on finished runs too. A sweep directory
    shows the table of its ladders, from which one is opened with Enter."""
    from dsd_tui.record.rundir import read_run_events, require_run_dir
    from dsd_tui.study.sweep_index import is_sweep_dir
    sweep = is_sweep_dir(Path(run_dir))
    text = once or no_tui
    path = Path(run_dir) if sweep else require_run_dir(Path(run_dir), "watch")
    # A damaged sweep.json, an edited log or an empty one that no process holds is one line naming it,
    # before anything else is said or drawn.
    if sweep:
        from dsd_tui.study.sweep_index import read_index
        read_index(path)
    else:
        read_run_events(path)
    from dsd_tui.terminal import no_fullscreen_reason
    reason = no_fullscreen_reason()
    if not text and reason and reason != "not a terminal":  # TERM=dumb: follow as text, as the headless view does
        say(f"dsd-tui: {reason}, so following as text as with --no-tui", err=True)
        text = no_tui = True
    if not text and not _is_terminal():
        flags = f"`dsd-tui watch --once {path}` (the state as text) or `--no-tui` (follow as text)"
        raise UsageError(f"watch needs a terminal (stdin and stdout); without one use {flags}"
                         + ("" if sweep else f", or read the run with `dsd-tui export {path}`"))
    if text:
        from dsd_tui.watch_text import watch_run_text, watch_sweep_text
        try:
            if sweep:
                watch_sweep_text(path, follow=no_tui and not once)
            else:
                watch_run_text(path, follow=no_tui and not once)
        except KeyboardInterrupt:  # Ctrl-C while following as text: the run itself is not touched
            return 130
        return
    if sweep:
        from dsd_tui.signals import hangup_ends_process
        from dsd_tui.tui.screens.sweep import watch_sweep
        with hangup_ends_process():
            watch_sweep(path)
        return
    try:
        from dsd_tui.tui.app import watch_app
    except ImportError:
        fail("the TUI is not available in this installation; use `dsd-tui watch --once` or `--no-tui`")
    watch_app(path)
    from dsd_tui.record.events import FINISHED
    from dsd_tui.record.rundir import rebuild_summary
    summary = rebuild_summary(path).summary()
    if summary["status"] in FINISHED:  # leaving a finished run: its summary stays on the terminal
        _print_report({**summary, "run_dir": str(path)})


@main.command()
@click.argument("run_dir")
@click.option("-o", "output", metavar="FILE|DIR",
              help="Write to FILE instead of stdout (json, csv, layers-csv); the folder DIR (tensorboard: required; "
                   "wandb: default the current folder); the model file (model, onnx: required).")
@click.option("--format", type=RegistryChoice("dsd_tui.export.formats:EXPORT_FORMATS"), default="json",
              show_default=True)
@click.option("--phase", type=click.Choice(["teacher", "student"]), default=None,
              help="model, onnx: the phase whose rung is exported (default: the student where there is one).")
@click.option("--rung", metavar="N|best|kept", default=None,
              help="model, onnx: the rung: a number, best (best validation, the default) or kept (the rung the "
                   "active stop criterion kept).")
@click.option("--sparse", is_flag=True, help="model: store the pruned weights compactly (the file shrinks with the "
                                             "sparsity; still torch.load(weights_only=True)).")
@click.option("--time", "timing", is_flag=True, help="model, onnx: also print the dense and sparse file sizes and "
                                                     "the CPU inference time, dense against CSR kernels.")
def export(run_dir, output, format, phase, rung, sparse, timing):  # noqa: A002 - the name gives DSD_TUI_EXPORT_FORMAT
    """Print the run summary (JSON, or CSV with one row per phase and rung; layers-csv: one row per
    phase, rung and prunable layer, with its size, kept weights and sparsity), write the run's
    scalars as TensorBoard event files or as a Weights & Biases run (offline unless WANDB_MODE says),
    or one rung's network as a model file (model: torch.load-able; onnx) with -o FILE."""
    from dsd_tui.export.formats import EXPORT_FORMATS, RungOptions
    from dsd_tui.record.rundir import read_run_events, require_run_dir
    fmt = EXPORT_FORMATS.get(format)
    options = RungOptions(phase, rung, sparse, timing)
    if not getattr(fmt, "rung_options", False) and options.given():
        raise UsageError(f"{', '.join(options.given())}: only for a rung's network (--format model or onnx), not "
                         f"--format {format}")
    path = require_run_dir(Path(run_dir), "export")
    events = read_run_events(path)  # an empty log that no process holds is one line, in every format
    if getattr(fmt, "rung_options", False):
        fmt.write(path, events, output, options)
    else:
        fmt.write(path, events, output)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON list: name, description, key settings, the profile.")
def profiles(as_json):
    """List the bundled profiles, one line each."""
    if as_json:
        from dsd_tui.conventions import profiles_json
        click.echo(json.dumps(profiles_json(), indent=2))
        return
    for name in profile_mod.bundled_names():
        raw = profile_mod.parse_toml(profile_mod.bundled_text(name), name)
        echo_all(f"{name:<27} {raw.get('description', '')}\n")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry instead of the table.")
def plugins(as_json):
    """List every model, dataset and pruning criterion a profile can name, and where each comes from
    (bundled, an installed plugin package and its version, or registered from Python). No plugin is
    imported to list it (docs/plugins.md)."""
    from dsd_tui import plugins as plugins_mod
    if as_json:
        click.echo(json.dumps(plugins_mod.rows(), indent=2))
        return
    echo_all(plugins_mod.table() + "\n")


from dsd_tui.cli_study import STUDY_COMMANDS  # noqa: E402 - sweep, aggregate, compare, plot

for _command in STUDY_COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
