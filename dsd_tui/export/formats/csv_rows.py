"""csv: one row per phase and rung with every field of the rung records (conventions.summary_csv)."""
from dsd_tui.export.formats import EXPORT_FORMATS
from dsd_tui.export.formats._base import ExportFormat, write_text


def write(_run_dir, events, output) -> None:
    from dsd_tui.conventions import summary_csv
    write_text(events, output, summary_csv)


EXPORT_FORMATS.register("csv", ExportFormat(write, "one row per phase and rung"))
