"""wandb: the run's scalars as a Weights & Biases run, offline unless WANDB_MODE says otherwise
(export/wandb.py; needs the wandb extra, imported only when this format is used)."""
import os
from pathlib import Path

from dsd_tui.export.formats import EXPORT_FORMATS
from dsd_tui.export.formats._base import ExportFormat


def write(run_dir, _events, output) -> None:
    from dsd_tui.exits import say
    from dsd_tui.export.wandb import export
    local = export(run_dir, Path(output) if output else None)
    say(str(local))
    if os.environ.get("WANDB_MODE", "offline") == "offline":
        say(f"dsd-tui: an offline W&B run; upload it with `wandb sync {local}`", err=True)


EXPORT_FORMATS.register("wandb", ExportFormat(write, "a Weights & Biases run (offline unless WANDB_MODE says)"))
