"""What an export format is: `write(run_dir, events, output)`, given the run's events (already read and
checked) and the `-o` value (None when not given); it writes or prints the export and says where."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class ExportFormat:
    write: Callable[[Path, list, "str | None"], None]
    summary: str = ""


def write_text(events: list, output: str | None, render: Callable[[dict], str]) -> None:
    """A text export of the run summary: to FILE (atomically; its path checked before any work) or stdout."""
    from dsd_tui.exits import echo_all, fail
    from dsd_tui.paths import output_target
    from dsd_tui.record.rundir import atomic_write_text, fold_events
    target = output_target(output, "-o") if output else None  # before any work: a FIFO, a device, a run's file
    text = render(fold_events(events).summary())
    if target is None:
        echo_all(text)
        return
    try:
        atomic_write_text(target, text)
    except OSError as e:
        fail(f"-o {output}: cannot write ({e.strerror}); choose a writable path")
