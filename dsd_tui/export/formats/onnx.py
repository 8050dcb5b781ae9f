"""onnx: one rung's network as an ONNX file with a dynamic batch dimension (export/onnx_model.py; needs the
onnx extra). `--time` prints the sizes and CPU timings of the torch network, as for --format model."""
from dsd_tui.export.formats import EXPORT_FORMATS
from dsd_tui.export.formats._base import ExportFormat, RungOptions, require_output


def write(run_dir, events, output, options: RungOptions) -> None:
    from dsd_tui.errors import UsageError
    from dsd_tui.exits import say
    from dsd_tui.export import model_file
    from dsd_tui.export.onnx_model import onnx_bytes, require_onnx
    from dsd_tui.export.rung_choice import choose_rung
    from dsd_tui.record.rundir import atomic_write_bytes, fold_events
    if options.sparse:
        raise UsageError("--sparse: ONNX files hold dense weights; use --format model --sparse for a compact file")
    target = require_output(output, "onnx")
    require_onnx()
    summary = fold_events(events)
    choice = choose_rung(summary, options.phase, options.rung)
    blob = onnx_bytes(model_file.payload(run_dir, summary, choice))
    try:
        atomic_write_bytes(target, blob)
    except OSError as e:
        raise UsageError(f"-o {output}: cannot write ({e.strerror}); choose a writable path") from None
    say(str(target))
    say(f"{choice.label()}: sparsity {choice.record.sparsity:.1%}; ONNX file of "
        f"{len(blob) / 1e6:.3f} MB", err=True)
    if options.time:
        from dsd_tui.export.inference_time import report
        for line in report(run_dir, summary, choice):
            say(line, err=True)


EXPORT_FORMATS.register("onnx", ExportFormat(write, "one rung's network as ONNX (dynamic batch; the onnx extra)",
                                             rung_options=True))
