"""layers-csv: one row per phase, rung and prunable layer, with its size, kept weights and sparsity."""
from dsd_tui.export.formats import EXPORT_FORMATS
from dsd_tui.export.formats._base import ExportFormat, write_text


def write(_run_dir, events, output) -> None:
    from dsd_tui.record.layers import layers_csv
    write_text(events, output, layers_csv)


EXPORT_FORMATS.register("layers-csv", ExportFormat(write, "one row per phase, rung and prunable layer"))
