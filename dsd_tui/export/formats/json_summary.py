"""json (the default): the run summary, as summary.json holds it."""
import json

from dsd_tui.export.formats import EXPORT_FORMATS
from dsd_tui.export.formats._base import ExportFormat, write_text


def write(_run_dir, events, output) -> None:
    write_text(events, output, lambda summary: json.dumps(summary, indent=2) + "\n")


EXPORT_FORMATS.register("json", ExportFormat(write, "the run summary as JSON"))
