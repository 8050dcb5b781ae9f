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

from . import profile as profile_mod
from .errors import RunFailed, UsageError

EPILOG = "Exit codes: 0 done, 1 the run failed, 2 bad usage/profile/input, 130 interrupted."


def fail(message: str, code: int = 2):
    click.echo(f"dsd-tui: {message}", err=True)
    sys.exit(code)


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
    from .runner import EXIT, RunSession
    try:
        prof = profile_mod.load(profile, overrides)
        _check_device(prof)
        if no_tui:
            from .headless import HeadlessPrinter
            session = RunSession.new(prof, out, sinks=[HeadlessPrinter()])
            click.echo(str(session.path))
            status = _run_headless(session)
        else:
            session = RunSession.new(prof, out)
            click.echo(str(session.path))
            status = _run_tui(session)
    except UsageError as e:
        fail(str(e))
    _finish(status, session)
    sys.exit(EXIT.get(status, 1))


@main.command()
@click.argument("run_dir")
@click.option("--no-tui", is_flag=True, help="Resume headless.")
def resume(run_dir, no_tui):
    """Continue an interrupted run from its last saved epoch."""
    from .runner import EXIT, RunSession
    try:
        if no_tui:
            from .headless import HeadlessPrinter
            session = RunSession.resume_from(run_dir, sinks=[HeadlessPrinter()])
            status = _run_headless(session)
        else:
            session = RunSession.resume_from(run_dir)
            status = _run_tui(session)
    except UsageError as e:
        fail(str(e))
    _finish(status, session)
    sys.exit(EXIT.get(status, 1))


def _check_device(prof) -> None:
    from .engine.ladder import pick_device
    pick_device(prof.run.device)


def _run_headless(session) -> str:
    from .runner import install_signal_handlers
    install_signal_handlers(session)
    return session.run()


def _run_tui(session) -> str:
    try:
        from .tui.app import run_app
    except ImportError:  # the TUI package is optional until it exists
        from .headless import HeadlessPrinter
        session.sink.sinks.append(HeadlessPrinter())
        return _run_headless(session)
    return run_app(session)


def _finish(status: str, session) -> None:
    if status == "failed":
        click.echo(f"dsd-tui: the run failed: {session.error}", err=True)
    elif status == "interrupted":
        click.echo(f"dsd-tui: interrupted; continue with: dsd-tui resume {session.path}", err=True)


@main.command()
@click.argument("run_dir")
def watch(run_dir):
    """Follow a run started elsewhere (read-only); works on finished runs too."""
    from .engine.rundir import require_run_dir
    try:
        path = require_run_dir(Path(run_dir), "watch")
        from .tui.app import watch_app
    except UsageError as e:
        fail(str(e))
    except ImportError:
        fail("the TUI is not available in this installation")
    watch_app(path)


@main.command()
@click.argument("run_dir")
@click.option("-o", "output", metavar="FILE", help="Write to FILE instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
def export(run_dir, output, fmt):
    """Print the run summary (JSON, or CSV with one row per phase and rung)."""
    from .engine.rundir import atomic_write_text, rebuild_summary, require_run_dir
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
@click.argument("profile", required=False)
@click.option("--grid", "grid", multiple=True, metavar="SECTION.KEY=V1,V2,...",
              help="A profile key and its values; the sweep runs every combination (repeatable).")
@click.option("--seeds", metavar="S1,S2,...", help="Seeds per setting (default: the profile's run.seed).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="Override a key of the base profile.")
@click.option("--address", metavar="ADDR", help="Join this Ray cluster (e.g. 10.0.0.1:6379 or auto); none starts a local one.")
@click.option("--out", metavar="DIR", help="The sweep directory (default: <run.out>/sweep-<name>-<hash of profile and grid>).")
@click.option("--gpus-per-task", type=float, metavar="F", help="GPUs per ladder (default 1 where the cluster has GPUs, else 0; a fraction packs ladders).")
@click.option("--num-cpus", type=int, metavar="N", help="CPUs a local cluster may use (default: all); ignored with --address.")
@click.option("--table-every", type=float, default=60.0, show_default=True, metavar="SEC", help="Seconds between status tables.")
def sweep(profile, grid, seeds, overrides, address, out, gpus_per_task, num_cpus, table_every):
    """Run PROFILE for every combination of --grid values and --seeds, one Ray task per ladder.

    Re-running the same command skips finished ladders and resumes unfinished ones."""
    from .study import sweep as sweep_mod
    try:
        if (gpus_per_task is not None and gpus_per_task < 0) or (num_cpus is not None and num_cpus < 1):
            raise UsageError("--gpus-per-task must be >= 0 and --num-cpus >= 1")
        sweep_dir, base, grid_values, ident, plans = sweep_mod.plan_sweep(profile, overrides, grid, seeds, out)
        click.echo(str(sweep_dir))
        opts = sweep_mod.SweepOptions(address, gpus_per_task, 1.0, num_cpus, table_every)
        result = sweep_mod.run_sweep(sweep_dir, base, grid_values, ident, plans, opts)
    except UsageError as e:
        fail(str(e))
    except KeyboardInterrupt:
        fail(f"interrupted; run the same command again to resume the sweep in {sweep_dir}", 130)
    if not result.ok:
        click.echo(f"dsd-tui: {len(result.failed)} ladder(s) did not finish: {', '.join(result.failed)}", err=True)
    sys.exit(0 if result.ok else 1)


@main.command()
@click.argument("sweep_dir")
@click.option("--out", "out", metavar="DIR", help="Folder for aggregate.json and the CSVs (default: SWEEP_DIR).")
def aggregate(sweep_dir, out):
    """Mean and std over seeds, per setting: rung metrics, best rung, SDD verdicts, stop outcomes."""
    from .study import aggregate as agg_mod
    from .study import index as idx
    try:
        idx.read_index(Path(sweep_dir))
        result = agg_mod.aggregate(idx.group(idx.collect([sweep_dir])))
        written = agg_mod.write(result, Path(out or sweep_dir))
    except UsageError as e:
        fail(str(e))
    except OSError as e:
        fail(f"--out {out or sweep_dir}: cannot write ({e.strerror}); choose a writable folder")
    for path in written:
        click.echo(str(path))


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="RUN_OR_SWEEP...")
@click.option("--metric", default="test_acc", show_default=True,
              help="Rung metric to compare (test_acc, val_acc, train_acc, entropy_mean, test_loss, ...).")
def compare(paths, metric):
    """Teacher and student curves of several runs or sweeps side by side, one row per rung."""
    from rich.console import Console

    from .study import compare as compare_mod
    from .study import index as idx
    try:
        groups = idx.group(idx.collect(paths))
    except UsageError as e:
        fail(str(e))
    table, data = compare_mod.table(groups, metric)
    if not any(ph.get(k, {}).get("mean") is not None for c in data.values() for ph in c.values() for k in ph):
        fail(f"--metric {metric}: no run has this rung metric; try test_acc, val_acc, train_acc or entropy_mean")
    console = Console(width=None if sys.stdout.isatty() else 8 + 22 * len(groups) + 20)
    console.print(table)
    for line in compare_mod.stops_lines(groups):
        console.print(line, highlight=False)


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="RUN_OR_SWEEP...")
@click.option("-o", "output", required=True, metavar="FILE", help="The figure: a .png, .svg or .pdf path.")
def plot(paths, output):
    """Figures: accuracy and per-layer entropy vs sparsity (seed bands), accuracy vs cost per stop criterion."""
    from .study import index as idx
    from .study import plot as plot_mod
    try:
        plot_mod.plot(idx.group(idx.collect(paths)), Path(output))
    except UsageError as e:
        fail(str(e))
    except OSError as e:
        fail(f"-o {output}: cannot write ({e.strerror}); choose a writable path")
    click.echo(output)


@main.command()
def profiles():
    """List the bundled profiles, one line each."""
    for name in profile_mod.bundled_names():
        raw = profile_mod.parse_toml(profile_mod.bundled_text(name), name)
        click.echo(f"{name:<27} {raw.get('description', '')}")


if __name__ == "__main__":  # pragma: no cover
    main()
