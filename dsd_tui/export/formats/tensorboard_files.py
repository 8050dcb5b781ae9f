"""tensorboard: the run's scalars as TensorBoard event files in the folder -o DIR (export/tensorboard.py;
needs the tensorboard extra, imported only when this format is used)."""
from pathlib import Path

from dsd_tui.errors import UsageError
from dsd_tui.export.formats import EXPORT_FORMATS
from dsd_tui.export.formats._base import ExportFormat


def write(run_dir, _events, output) -> None:
    from dsd_tui.exits import say
    if not output:
        raise UsageError("--format tensorboard writes event files into a folder: give it with -o DIR")
    from dsd_tui.export.tensorboard import export
    say(str(export(run_dir, Path(output))))


EXPORT_FORMATS.register("tensorboard", ExportFormat(write, "TensorBoard event files in -o DIR"))
