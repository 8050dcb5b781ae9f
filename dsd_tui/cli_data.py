"""The commands that prepare a machine for a run: `dsd-tui data fetch` (dsd_tui/fetch/) and `dsd-tui
doctor` (dsd_tui/doctor.py). A module of their own so cli.py stays the run commands; cli.py adds them to
its group as it does the study commands."""
from __future__ import annotations

import json
import sys

import click

from dsd_tui.conventions import complete_profile
from dsd_tui.exits import say

FETCH_EPILOG = ("Exit codes: 0 fetched (or already there), 1 the download failed (a missing file, a refused "
                "connection, a cut transfer, a full disk; nothing half-written is left), 2 bad input or a checksum "
                "that does not match (nothing is left in DIR).")


@click.group()
def data():
    """Get the data sets the bundled profiles read (downloaded, checked against the published checksums)."""


@data.command(epilog=FETCH_EPILOG)
@click.argument("name")
@click.option("--path", "path", required=True, metavar="DIR",
              help="The folder the data goes in (the profile's data.path); created if missing.")
@click.option("--mirror", metavar="URL", envvar="DSD_TUI_DATA_MIRROR",
              help="Base URL of a local copy with one subfolder per data set (URL/cifar10/cifar-10-python.tar.gz, "
                   "URL/mnist/train-images-idx3-ubyte.gz, ...) instead of the official sites. "
                   "Env: DSD_TUI_DATA_MIRROR.")
@click.option("--allow-unverified", is_flag=True,
              help="Unpack a file whose checksum does not match anyway (runs on it record checksums_verified: "
                   "false).")
def fetch(name, path, mirror, allow_unverified):
    """Download data set NAME (cifar10, cifar100, cifar100n: CIFAR-100 and its human labels file, mnist,
    fashion-mnist) into DIR: each file is verified against its published checksum and unpacked under a
    temporary name before it is renamed into place."""
    from dsd_tui import fetch as fetch_mod

    with _progress() as progress:
        done = fetch_mod.fetch(name, path, mirror or None, allow_unverified, progress=progress,
                               warn=lambda line: say(f"dsd-tui: {line}", err=True))
    for target in done.present:
        say(f"{target}: already in {path}, kept")
    for target in done.written:
        note = " (unverified: checksum mismatch)" if target in done.unverified else ""
        say(f"{target}: fetched into {path}{note}")
    labels = [t for t in done.written + done.present if t.endswith(".pt")]
    folder = path.rstrip("/") or "/"
    hint = f" --set data.noisy_labels={folder}/{labels[0]}" if labels else ""
    say(f"run with: --set data.path={folder}{hint}")


@click.command()
@click.argument("profile", required=False, shell_complete=complete_profile)
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a profile key, as with `run` (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (estimated_seconds, disk, data, machine, "
                                                      "problems).")
def doctor(profile, overrides, as_json):
    """Check that PROFILE can run here and price it: the device and its memory, CUDA/cuDNN, torch, threads;
    the data present and verified; the disk its checkpoints need under run.keep_checkpoints against the free
    space of run.out; and its wall time, measured by a short probe of the profile's own ladder on this
    device (a few real epochs) scaled to all its epochs. Exit 2, naming the fix, when the run could not
    start (no data, too little disk, an unusable device)."""
    from dsd_tui import doctor as doctor_mod
    from dsd_tui import profile as profile_mod
    from dsd_tui.errors import UsageError
    from dsd_tui.exits import USAGE, echo_all

    try:
        prof = profile_mod.load(profile, list(overrides))
    except UsageError as e:  # e.g. a paper profile without data.path: the machine is still worth describing
        report = doctor_mod.unloadable(str(e))
    else:
        report = doctor_mod.examine(prof)
    if as_json:
        echo_all(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        echo_all("\n".join(report.lines()) + "\n")
    if report.problems:
        say(f"dsd-tui: the run cannot start as it is: {report.problems[0]}", err=True)
        return USAGE
    return None


class _progress:
    """A Rich progress bar per file on a terminal (stderr); nothing without one."""

    def __enter__(self):
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                            console=Console(stderr=True), transient=False)
        self.bar.start()

        def per_file(name):
            task = self.bar.add_task(name, total=None)
            return lambda got, total: self.bar.update(task, completed=got, total=total)
        return per_file

    def __exit__(self, *exc):
        if getattr(self, "bar", None) is not None:
            self.bar.stop()
        return False


DATA_COMMANDS = [data, doctor]

__all__ = ["DATA_COMMANDS"]
