"""The `--no-tui` view: the same events as the TUI, printed as a compact table, one row per rung.

On a terminal a live progress line (epoch k/N, loss) is redrawn in place; when stdout is a file or
a pipe nothing but whole lines is written, so a log from nohup stays clean. Printing is never
allowed to end a run: when the terminal goes away (a dropped SSH session: EIO) or the reader of a
pipe quits (EPIPE), the stream is pointed at /dev/null and the run goes on (`silence_broken`).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from dsd_tui.record import events as ev
from dsd_tui.record.compute_text import saving_text, si, speedup_text
from dsd_tui.record.events import FINISHED
from dsd_tui.record.layers import collapse_text
from dsd_tui.record.rundir import EVENTS, rebuild_summary
from dsd_tui.record.rung import RungRecord
from dsd_tui.record.summary import StopEntry, SummaryBuilder
from dsd_tui.record.verdict import Verdict
from dsd_tui.speed.modes import modes_note
from dsd_tui.stops.criteria_table import comparison_rows, format_table
from dsd_tui.stops.teacher_choice import choice_line
from dsd_tui.stops.verdicts import describe, one_line
from dsd_tui.wording import phases_text, rung_count

HEADER = (f"{'phase':<8} {'rung':>4} {'sparsity':>9} {'train':>6} {'val':>6} {'test':>6} {'H mean':>6} "
          f"{'regime':<11} {'sec':>6}")


def fmt_acc(v) -> str:
    return "   n/a" if v is None else f"{v:6.3f}"


def rung_row(phase: str, r: RungRecord, best: bool = False) -> str:
    mark = "*" if best else " "
    return (f"{phase:<8} {r.rung:>4} {(r.sparsity or 0.0) * 100:8.2f}% {fmt_acc(r.train_acc)} "
            f"{fmt_acc(r.val_acc)} {fmt_acc(r.test_acc)} {fmt_acc(r.entropy_mean)} "
            f"{str(r.regime or ''):<11} {r.seconds or 0.0:6.1f}{mark}")


def compute_line(r: RungRecord) -> str:
    """The rung's price under its row: forward MACs per sample, the theoretical speed-up and compression ratio
    (ShrinkBench's, dense / kept), the training
    MACs of the rung and of the phase so far (core/macs.py), and for a student its overlap with the teacher."""
    overlap = "" if r.teacher_overlap is None else f"; kept-set IoU with the teacher {r.teacher_overlap:.3f}"
    return (f"         forward {si(r.macs)}/sample (speed-up {speedup_text(r.speedup())} of dense {si(r.dense_macs)}, "
            f"compression {speedup_text(r.compression())}); "
            f"train {si(r.train_macs)}, phase so far {si(r.cumulative_train_macs)}{overlap}")


def run_compute_line(summary: dict) -> list[str]:
    """The run's training compute, every phase's so far (one line; none for a run without MACs)."""
    lasts = [(p["name"], p["rungs"][-1].get("cumulative_train_macs")) for p in summary.get("phases", []) if p["rungs"]]
    if not lasts or any(v is None for _, v in lasts):
        return []
    total = sum(v for _, v in lasts)
    each = ", ".join(f"{name} {si(v)}" for name, v in lasts)
    return [f"-- training compute: {si(total)} = {si(2 * total, 'FLOP')} ({each}; prunable layers' kept weights, "
            f"3 × forward × samples seen)"]


def phase_done_lines(phase: str, best: int | None, rungs_trained: int, stopped_early: bool,
                     verdict: Verdict | None) -> list[str]:
    """The phase's end: what it trained, its verdict in one line (the monitor's banner says the same), then
    the numbers and the rule behind it."""
    note = " (stopped early)" if stopped_early else ""
    lines = [f"-- {phase} phase done: best validation rung {best}, {rungs_trained} rungs trained{note}"]
    if verdict is None:
        return lines
    return lines + [f"   verdict: {one_line(phase, verdict)}", describe(phase, verdict)]


def criteria_lines(summary: dict) -> list[str]:
    rows = comparison_rows(summary)
    if not rows:
        return []
    return ["-- stop criteria vs the ladder's best (trainings = rungs trained / full ladder)", format_table(rows)]


def end_of_run_report(summary: dict) -> list[str]:
    """What the headless view prints as a run ends (each finished phase's verdict, the layers that
    collapsed, the stop-criteria table and the status line), from the run's summary: printed again
    when the monitor or `watch` leaves, so that it stays on the terminal after the screen is gone."""
    lines = [f"-- {summary.get('name') or 'run'}: {summary.get('run_dir', '')}"]
    phases, status = summary.get("phases", []), summary.get("status")
    for i, p in enumerate(phases):  # the phases that ended: all in a finished run, else those before the last
        if status in FINISHED or i < len(phases) - 1 or p.get("verdict"):
            verdict = Verdict.from_json(p["verdict"]) if p.get("verdict") else None  # the JSON edge
            if p.get("teacher"):  # the student's teacher, between the two verdicts as on the monitor
                teacher_rungs = next((q["rungs"] for q in phases if q["name"] == "teacher"), [])
                stops = [StopEntry.from_json(s) for s in summary.get("stops", [])]
                choice = choice_line(p["teacher"], [RungRecord.from_json(r) for r in teacher_rungs], stops)
                lines.append(f"   {choice}")
            lines += phase_done_lines(p["name"], p.get("best_rung"), p.get("rungs_trained", len(p["rungs"])),
                                      bool(p.get("stopped_early")), verdict)
    lines += [f"  [{c['level'].upper()}] {collapse_text(c)}" for c in summary.get("layer_collapse", [])]
    if status in FINISHED:
        lines += criteria_lines(summary)
        lines += run_compute_line(summary)
        lines.append(run_time_line(status, summary.get("seconds") or 0.0, summary.get("seconds_this_process")))
    elif status == "interrupted":
        lines.append(f"run interrupted: {summary.get('interrupted', '')}")
    elif status == "failed":
        lines.append(f"run failed: {summary.get('error', '')}")
    return lines


def run_time_line(status: str, seconds: float, this_process: float | None) -> str:
    """"run completed in 101.6 s of training (59.3 s in this process)": the total over every process of a
    resumed run (summary.json `seconds`), and this process's share when it is not all of it."""
    line = f"run {status} in {seconds:.1f} s of training"
    if this_process is not None and abs(this_process - seconds) >= 0.05:
        line += f" ({this_process:.1f} s in this process, the rest before a resume)"
    return line


def silence_broken(stream: TextIO) -> None:
    """Point a stream whose reader is gone at /dev/null, so later writes (and the interpreter's final
    flush) succeed silently instead of raising EIO/EPIPE."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)
    try:
        stream.flush()  # what was buffered now goes to /dev/null
    except (OSError, ValueError):
        pass


def safe_write(stream: TextIO, text: str) -> bool:
    """Write and flush; on a gone terminal or pipe, silence the stream. Returns False when it was lost."""
    try:
        stream.write(text)
        stream.flush()
        return True
    except (OSError, ValueError):
        silence_broken(stream)
        return False


class HeadlessPrinter:
    """An event sink that prints. `live` (default: stdout is a terminal) enables the progress line."""

    def __init__(self, out: TextIO | None = None, live: bool | None = None):
        self.out = out or sys.stdout
        self.live = self.out.isatty() if live is None else live
        self._progress_shown = False
        self.summary = SummaryBuilder()  # folds the same events, for the end-of-run comparison

    def _line(self, text: str) -> None:
        clear = "\r\x1b[2K" if self._progress_shown else ""
        self._progress_shown = False
        safe_write(self.out, clear + text + "\n")

    def __call__(self, e: ev.Event) -> None:
        self.summary.consume(e)
        handler = getattr(self, f"_on_{e.type}", None)
        if handler is not None:
            handler(e)

    def _on_run_started(self, e: ev.RunStarted) -> None:
        if e.resumed and (Path(e.run_dir) / EVENTS).is_file():
            self.summary = rebuild_summary(Path(e.run_dir))  # the rungs before the interruption, for the table
        env = e.environment
        what = "resumed" if e.resumed else "started"
        self._line(f"run {e.name} {what} on {env.get('device_name', env.get('device'))} "
                   f"(torch {env.get('torch')}, {env.get('threads')} threads): {phases_text(len(e.phases))} of "
                   f"{rung_count(e.rungs)}" + modes_note(env))

    def _on_phase_started(self, e: ev.PhaseStarted) -> None:
        extra = ""
        if e.teacher:
            t = e.teacher
            extra = f"; teacher: {t.get('source')} rung {t.get('rung')}"
            if t.get("test_acc") is not None:
                extra += f" (test {t['test_acc']:.3f}, sparsity {t['sparsity'] * 100:.2f}%)"
        self._line(f"-- {e.phase} phase: {e.arch}, {e.prunable_weights:,} prunable weights{extra}")
        choice = choice_line(e.teacher, self.summary.records("teacher"), self.summary.stops)
        if choice:
            self._line(f"   {choice}")
        self._line(HEADER)

    def _on_epoch_finished(self, e: ev.EpochFinished) -> None:
        if not self.live:
            return
        self._progress_shown = safe_write(
            self.out, f"\r\x1b[2K  {e.phase} rung {e.rung} epoch {e.epoch}/{e.epochs}  loss {e.train_loss:.4f}  "
                      f"acc {e.train_acc:.3f}  lr {e.lr:.2g}")

    def _on_rung_finished(self, e: ev.RungFinished) -> None:
        self._line(rung_row(e.phase, e.record))
        if e.record.macs is not None:
            self._line(compute_line(e.record))

    def _on_stop_fired(self, e: ev.StopFired) -> None:
        tag = "STOP" if e.active else "shadow"
        self._line(f"  [{tag}] {e.criterion} fired at {e.phase} rung {e.rung} -> keep rung {e.selected_rung}: "
                   f"{e.reason}")
        d = e.details
        if d.get("selected_test_acc") is not None and "rungs_trained" in d:
            self._line(f"         keeps test {d['selected_test_acc']:.3f} at {100 * d['selected_sparsity']:.2f}% "
                       f"sparsity; cost {d['rungs_trained']}/{d['rungs_full']} rungs, {d['epochs_trained']:.0f}/"
                       f"{d['epochs_full']:.0f} epochs, {d['density_epochs_trained']:.1f}/"
                       f"{d['density_epochs_full']:.1f} density-weighted epochs")
        macs = saving_text(d.get("train_macs_spent"), d.get("train_macs_full"))
        if macs:
            self._line(f"         compute {macs}")

    def _on_layer_collapse(self, e: ev.LayerCollapse) -> None:
        self._line(f"  [{e.level.upper()}] " + collapse_text(e))

    def _on_phase_finished(self, e: ev.PhaseFinished) -> None:
        for line in phase_done_lines(e.phase, e.best_rung, e.rungs_trained, e.stopped_early, e.verdict):
            self._line(line)

    def _on_warning(self, e: ev.Warning) -> None:
        self._line(f"warning: {e.message}")

    def _on_log(self, e: ev.Log) -> None:
        self._line(e.message)

    def _on_run_finished(self, e: ev.RunFinished) -> None:
        for line in criteria_lines(self.summary.summary()) + run_compute_line(self.summary.summary()):
            self._line(line)
        self._line(run_time_line(e.status, self.summary.seconds, self.summary.seconds_this_process))

    def _on_run_failed(self, e: ev.RunFailed) -> None:
        self._line(f"run failed: {e.error}")

    def _on_run_interrupted(self, e: ev.RunInterrupted) -> None:
        self._line(f"run interrupted: {e.reason}")
