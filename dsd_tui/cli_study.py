"""The study commands (`sweep`, `studies`, `aggregate`, `compare`, `plot`) as thin Click commands.

They only parse options and call the study modules (or, for `compare` on a terminal, the TUI's compare
screen), so they live beside cli.py rather than in study/, which imports nothing from the UI. cli.py adds
them to the `dsd-tui` group. They end like every command, through `exits.py` (a problem the user can fix
is one line on stderr and exit code 2), and do not import cli.py, which imports them.
"""
from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import click

from dsd_tui.conventions import complete_profile
from dsd_tui.errors import UsageError
from dsd_tui.exits import DONE, FAILED, Interrupted, echo_all, fail


@click.command()
@click.argument("profile", required=False, metavar="PROFILE_OR_STUDY", shell_complete=complete_profile)
@click.option("--grid", "grid", multiple=True, metavar="SECTION.KEY=V1,V2,...",
              help="A profile key and its values; the sweep runs every combination (repeatable).")
@click.option("--seeds", metavar="S1,S2,...",
              help="Seeds per setting (default: the study's, else the profile's run.seed).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", envvar="DSD_TUI_SWEEP_SET",
              help="Override a key of the base profile.")
@click.option("--address", metavar="ADDR",
              help="Join this Ray cluster (e.g. 10.0.0.1:6379 or auto); none starts a local one.")
@click.option("--out", metavar="DIR",
              help="The sweep directory (default: <run.out>/sweep-<name>-<hash of profile and grid>).")
@click.option("--gpus-per-ladder", "--gpus-per-task", "gpus_per_task", type=float, metavar="F",
              help="GPUs per ladder (default 1 where the cluster has GPUs, else 0; 0.25 packs four ladders on a GPU).")
@click.option("--num-cpus", type=int, metavar="N",
              help="CPUs a local cluster may use (default: all); ignored with --address.")
@click.option("--table-every", type=float, default=60.0, show_default=True, metavar="SEC",
              help="Seconds between status tables.")
@click.option("--dry-run", is_flag=True, help="Print the plan (settings × seeds, ladders, estimated cost) and stop.")
def sweep(profile, grid, seeds, overrides, address, out, gpus_per_task, num_cpus, table_every, dry_run):
    """Run PROFILE for every combination of --grid values and --seeds, one Ray task per ladder; or a STUDY
    (a bundled name from `dsd-tui studies`, or a study .toml) with its own grid and seeds.

    Re-running the same command skips finished ladders and resumes unfinished ones."""
    from dsd_tui.study import study_file
    from dsd_tui.study import sweep as sweep_mod
    sweep_dir = out
    try:
        if (gpus_per_task is not None and gpus_per_task < 0) or (num_cpus is not None and num_cpus < 1):
            raise UsageError("--gpus-per-ladder (--gpus-per-task) must be >= 0 and --num-cpus >= 1")
        study = study_file.load(profile) if study_file.is_study_spec(profile) else None
        spec, sets = profile, list(overrides)
        if study is not None:
            if grid:
                raise UsageError(f"--grid: study {study.name} brings its own grid; edit a copy of {study.source} "
                                 f"or sweep its profile with --grid")
            spec, sets, grid = study.profile, study.overrides + sets, study.grid
            seeds = seeds or ",".join(map(str, study.seeds))
        sweep_dir, base, grid_values, ident, plans = sweep_mod.plan_sweep(spec, sets, grid, seeds, out)
        if study is not None and not out:
            sweep_dir = Path(base.run.out) / f"sweep-{study.name}-{ident}"
        if dry_run:
            from dsd_tui.study.dry_run import plan_lines
            for line in plan_lines(sweep_dir, spec or "quickstart", sets, grid_values, plans, study):
                click.echo(line)
            return DONE
        click.echo(str(sweep_dir))
        opts = sweep_mod.SweepOptions(address, gpus_per_task, 1.0, num_cpus, table_every)
        result = sweep_mod.run_sweep(sweep_dir, base, grid_values, ident, plans, opts,
                                     study=study.as_index_entry() if study else None)
    except KeyboardInterrupt as e:
        by = f" by {e}" if str(e).startswith("SIG") else ""  # signals.SweepStopped names its signal
        raise Interrupted(f"interrupted{by}; its ladders stopped resumably: run the same command again to resume the "
                          f"sweep{f' in {sweep_dir}' if sweep_dir else ''}") from None
    if not result.ok:
        click.echo(f"dsd-tui: {len(result.failed)} ladder(s) did not finish: {', '.join(result.failed)}", err=True)
    return DONE if result.ok else FAILED


@click.command()
def studies():
    """List the bundled studies (run one with `dsd-tui sweep NAME`; `--dry-run` shows its plan)."""
    from dsd_tui.study import study_file
    for name, description in study_file.listing():
        click.echo(f"{name:<22} {description}")


@click.command()
@click.argument("sweep_dir")
@click.option("--out", "out", metavar="DIR", help="Folder for aggregate.json and the CSVs (default: SWEEP_DIR).")
def aggregate(sweep_dir, out):
    """Mean and std over seeds, per setting: rung metrics, best rung, SDD verdicts, stop outcomes."""
    from dsd_tui.study import aggregate as agg_mod
    from dsd_tui.study import sweep_index as idx
    try:
        idx.read_index(Path(sweep_dir))
        result = agg_mod.aggregate(idx.group(idx.collect([sweep_dir])))
        written = agg_mod.write(result, Path(out or sweep_dir))
    except OSError as e:
        fail(f"--out {out or sweep_dir}: cannot write ({e.strerror}); choose a writable folder")
    echo_all("".join(f"{path}\n" for path in written))


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="RUN_OR_SWEEP...")
@click.option("--metric", default="test_acc", show_default=True,
              help="Rung metric to compare (test_acc, val_acc, train_acc, entropy_mean, test_loss, ...).")
@click.option("--tui", "tui", is_flag=True, help="Show the table in a scrollable screen ('m' cycles the metric).")
@click.option("--json", "as_json", is_flag=True, help="The same numbers as JSON: per run or setting, phase and rung.")
def compare(paths, metric, tui, as_json):
    """Teacher and student curves of several runs or sweeps side by side, one row per rung."""
    from rich.console import Console

    from dsd_tui.study import compare_runs as compare_mod
    from dsd_tui.study import sweep_index as idx
    if tui and not (sys.stdin.isatty() and sys.stdout.isatty()):  # a full-screen app without one spins forever
        fail("compare --tui needs a terminal (stdin and stdout); without one leave out --tui to print the table")
    groups = idx.group(idx.collect(paths))
    table, data = compare_mod.table(groups, metric)
    if not _has_values(data):
        _refuse_untrained(groups, paths)
        others = [m for m in ("test_acc", "val_acc", "train_acc", "entropy_mean")
                  if m != metric and _has_values(compare_mod.table(groups, m)[1])]  # only what can be shown
        fail(f"--metric {metric}: no run has this rung metric; try {' or '.join(others)}")
    if as_json:
        import json

        from dsd_tui.conventions import compare_json
        click.echo(json.dumps(compare_json(groups, data, metric, compare_mod.stops_lines(groups)), indent=2))
        return
    if tui:
        from dsd_tui.tui.screens.compare import compare_app
        compare_app(groups, metric).run()
        return
    tty = sys.stdout.isatty()
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=tty, width=shutil.get_terminal_size().columns if tty
                      else 8 + 22 * len(groups) + 20)
    console.print(table)
    for line in compare_mod.stops_lines(groups):
        console.print(line, highlight=False)
    echo_all(buf.getvalue())


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="RUN_OR_SWEEP...")
@click.option("-o", "output", required=True, metavar="FILE", help="The figure: a .png, .svg or .pdf path.")
@click.option("--columns", type=click.IntRange(1, 2), default=2, show_default=True,
              help="Sized for a page's full width (2: 7 in, all panels) or one column (1: 3.5 in, accuracy only).")
def plot(paths, output, columns):
    """Figures: accuracy and per-layer entropy vs sparsity (seed bands), accuracy vs cost per stop criterion.
    On a study's sweep: the study's figure (teacher beside student, one curve per setting) and its table of
    best accuracy and sparsity per setting (also written beside FILE as STEM.table.md)."""
    from dsd_tui.paths import output_target
    from dsd_tui.study import figures as plot_mod
    from dsd_tui.study import sweep_index as idx
    target = output_target(output, "-o")  # a symlink is written through; a FIFO, a device, a run's file refused
    table = None
    groups = idx.group(idx.collect(paths))
    _refuse_untrained(groups, paths)  # an empty figure says nothing: one line instead
    study = idx.read_index(Path(paths[0])).get("study") if len(paths) == 1 and idx.is_sweep_dir(paths[0]) else None
    try:
        if study is not None:  # a sweep made from a study file: its figure and its table (STEM.table.md)
            from dsd_tui.study.study_figure import check_table_path, plot_study, table_path
            check_table_path(output_target(table_path(target), "-o (its table)"), "-o")
            table = plot_study(groups, study, target, columns)
        else:
            plot_mod.plot(groups, target, columns)
    except OSError as e:
        fail(f"-o {output}: cannot write ({e.strerror}); choose a writable path")
    echo_all(f"{output}\n")
    if table is not None:
        echo_all(f"{table['table_path']}\n{table['table']}")


def _has_values(data: dict) -> bool:
    """Does a comparison (compare_runs.table's data) hold any number?"""
    return any(ph.get(k, {}).get("mean") is not None for c in data.values() for ph in c.values() for k in ph)


def _refuse_untrained(groups, paths) -> None:
    """Runs none of which finished a rung (each failed or was stopped at rung 0) are one line, not an empty
    table or figure."""
    from dsd_tui.study import compare_runs as compare_mod
    if not _has_values(compare_mod.table(groups, "val_acc")[1]):
        fail(f"{' '.join(paths)}: no run here finished a rung (each failed or stopped before rung 0 ended), so "
             f"there is nothing to compare or plot; `dsd-tui export RUN` shows what happened")


STUDY_COMMANDS = [sweep, studies, aggregate, compare, plot]
