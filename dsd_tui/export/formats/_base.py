"""What an export format is: `write(run_dir, events, output)`, given the run's events (already read and
checked) and the `-o` value (None when not given); it writes or prints the export and says where.

A format of one rung's network (`rung_options=True`: model, onnx) is called `write(run_dir, events, output,
options)` with the command's `--phase`, `--rung`, `--sparse` and `--time` (`RungOptions`); the command
refuses those options for the other formats."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class ExportFormat:
    write: Callable[..., None]
    summary: str = ""
    rung_options: bool = False  # takes RungOptions (a rung's network), not the whole run


@dataclass(frozen=True)
class RungOptions:
    """Which rung a network export takes and how: `phase` None = the student where there is one; `rung` None =
    "best" (or "kept", or a rung number as text); `sparse`: compact prunable weights; `time`: measure it."""

    phase: str | None = None
    rung: str | None = None
    sparse: bool = False
    time: bool = False

    def given(self) -> list[str]:
        """The options set on the command line (for the refusal of formats that take none)."""
        return [flag for flag, on in (("--phase", self.phase is not None), ("--rung", self.rung is not None),
                                      ("--sparse", self.sparse), ("--time", self.time)) if on]


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


def require_output(output: str | None, fmt: str) -> Path:
    """The checked `-o FILE` of a format that writes one file (required: it is never stdout)."""
    from dsd_tui.errors import UsageError
    from dsd_tui.paths import output_target
    if not output:
        raise UsageError(f"--format {fmt} writes a file: name it with -o FILE")
    return output_target(output, "-o")
