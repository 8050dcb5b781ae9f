"""Export formats (`dsd-tui export --format`), one module per format.

Each module registers an `ExportFormat` (`_base.py`) in `EXPORT_FORMATS`; the command's choices, its
help and its shell completion are this registry's names (read when Click needs them, so importing the
CLI imports no format, nor torch or tensorboard), and the command calls the chosen format's `write`.
No plugin group: a new format is a new module here plus its test.
"""
from __future__ import annotations

from dsd_tui.registry import Registry

EXPORT_FORMATS = Registry("export format", package=__name__)

from dsd_tui.export.formats._base import ExportFormat, RungOptions, write_text  # noqa: E402 - after EXPORT_FORMATS

__all__ = ["EXPORT_FORMATS", "ExportFormat", "RungOptions", "write_text"]
