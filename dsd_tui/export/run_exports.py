"""A rung's model file written into its own run folder (`RUN_DIR/exports/`), for the monitor's `e` key.

The monitor has no `-o` to ask for, so the name comes from the rung (`record/rundir.py` `export_name`:
`teacher-rung07.pt`, `student-rung12-sparse.pt`) and a file already there is never replaced: the next free
name (`-2`, `-3`, …) is taken, claimed with a hard link that fails if the name exists (no race with a
second writer), from a temporary file written and fsynced first.
"""
from __future__ import annotations

import os
from pathlib import Path

from dsd_tui.export import model_file
from dsd_tui.export.rung_choice import choose_rung

MAX_COPIES = 1000


def export_rung(run_dir: Path, summary, phase: str, rung: int, sparse: bool = False) -> Path:
    """Write `phase` rung `rung`'s model file under RUN_DIR/exports/ and return its path; UsageError (one line)
    when the rung cannot be exported (no checkpoint, diverged), OSError when the folder cannot be written."""
    from dsd_tui.record.rundir import EXPORTS, durable_temp, export_name, torch_bytes
    choice = choose_rung(summary, phase, rung)
    blob = torch_bytes(model_file.payload(Path(run_dir), summary, choice, sparse))
    folder = Path(run_dir) / EXPORTS
    folder.mkdir(exist_ok=True)
    tmp = durable_temp(folder, "export", blob)  # by the run's rule: a resume cleans one a kill left
    try:
        for copy in range(1, MAX_COPIES + 1):
            target = Path(run_dir) / export_name(choice.phase, choice.rung, sparse, copy)
            try:
                os.link(tmp, target)
                return target
            except FileExistsError:
                continue
        raise FileExistsError(f"{folder}: {MAX_COPIES} exports of this rung already")
    finally:
        os.unlink(tmp)
