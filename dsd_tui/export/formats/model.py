"""model: one rung's network as a standalone file that `torch.load(FILE, weights_only=True)` reads
(export/model_file.py: its layout; `dsd_tui.load_model(FILE)` rebuilds the module). `--sparse` stores the
prunable weights compactly; `--time` also prints both files' sizes and the CPU inference time."""
from dsd_tui.export.formats import EXPORT_FORMATS
from dsd_tui.export.formats._base import ExportFormat, RungOptions, require_output


def write(run_dir, events, output, options: RungOptions) -> None:
    from dsd_tui.exits import say
    from dsd_tui.export import model_file
    from dsd_tui.export.rung_choice import choose_rung
    from dsd_tui.record.rundir import fold_events
    target = require_output(output, "model")  # before any work: a FIFO, a device, a run's own file
    summary = fold_events(events)
    choice = choose_rung(summary, options.phase, options.rung)
    data = model_file.payload(run_dir, summary, choice, options.sparse)
    size = model_file.save(target, data)
    say(str(target))
    say(model_file.describe(choice, data, size), err=True)
    if options.time:
        from dsd_tui.export.inference_time import report
        for line in report(run_dir, summary, choice):
            say(line, err=True)


EXPORT_FORMATS.register("model", ExportFormat(write, "one rung's network, a torch.load(weights_only=True) file",
                                              rung_options=True))
