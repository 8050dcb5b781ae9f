"""`dsd-tui watch --once | --no-tui`: a run or a sweep followed as plain text, without a terminal.

For scripts, CI logs and SSH sessions without a TTY. `--once` prints the current state and exits:
for a run, the fold of its events.jsonl (header, one row per rung, stops, verdicts, where it is
now); for a sweep, its status table. `--no-tui` prints the same and then follows the run as the
headless view does (`HeadlessPrinter`, fed by new lines of events.jsonl) until the run ends, or a
sweep's table whenever it changes until no ladder is queued or running. Only whole lines are
written, never escape codes; nothing is written into the run directory.

A run killed with SIGKILL (or a power cut) writes no end event. Its writer held an exclusive lock
on events.jsonl (record/rundir.py); when no event has arrived for `PROBE_AFTER_S`, the follower
checks that lock once (a non-blocking shared lock, released at once) and stops following a run
that nobody writes any more. (A `dsd-tui resume` that starts in the microseconds the probe holds
its shared lock is refused as "in use" and simply has to be run again.)
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from dsd_tui.headless import (
    HEADER,
    HeadlessPrinter,
    compute_line,
    run_compute_line,
    run_time_line,
    rung_row,
    safe_write,
)
from dsd_tui.record.rundir import EVENTS, writer_alive
from dsd_tui.record.summary import SummaryBuilder
from dsd_tui.stops.criteria_table import comparison_rows, format_table
from dsd_tui.stops.teacher_choice import choice_line
from dsd_tui.stops.verdicts import describe, one_line
from dsd_tui.tui.feed import EventFollower

POLL_S = 1.0  # seconds between reads of events.jsonl while following
PROBE_AFTER_S = 10.0  # seconds without an event before checking that a writer still holds the run
END_EVENTS = frozenset({"run_finished", "run_failed", "run_interrupted"})
FINAL = frozenset({"completed", "stopped", "failed", "interrupted"})


def state_text(b: SummaryBuilder, run_dir: Path) -> str:
    """The run as it stands: one line per rung of each phase (* = best validation rung), the stops
    that fired, the phase verdicts, and where the ladder is now (or how it ended)."""
    env = b.environment or {}
    lines = [f"run {b.name or run_dir.name} ({run_dir}): {b.status}"
             + (f" on {env.get('device_name', env.get('device'))}, torch {env.get('torch')}" if env else "")]
    for p in (b.phases[name] for name in b.planned_phases or list(b.phases) if name in b.phases):
        lines.append(f"-- {p.name} phase: {p.arch}, {p.prunable_weights or 0:,} prunable weights")
        choice = choice_line(p.teacher, b.records("teacher"), b.stops) if p.name == "student" else None
        if choice:
            lines.append(f"   {choice}")
        lines.append(HEADER)
        for r in p.rungs:
            lines.append(rung_row(p.name, r, best=r.rung == p.best_rung))
            if r.macs is not None:
                lines.append(compute_line(r))
        for st in b.stops:
            if st.phase == p.name:
                tag = "STOP" if st.active else "shadow"
                lines.append(f"  [{tag}] {st.criterion} fired at rung {st.rung} -> keep rung "
                             f"{st.selected_rung}: {st.reason}")
        if p.verdict is not None:
            lines += [f"   verdict: {one_line(p.name, p.verdict)}", describe(p.name, p.verdict)]
    if b.status == "running":
        cur = b.current
        if cur.phase:
            now = f"now: {cur.phase} rung {cur.rung}"
            if cur.epochs:
                now += f", epoch {cur.epoch}/{cur.epochs}"
            if cur.train_loss is not None:
                now += f", train loss {cur.train_loss:.4f}, acc {cur.train_acc:.3f}"
            lines.append(now)
    else:
        s = b.summary()  # the criteria table reads the JSON summary (stops/criteria_table.py)
        rows = comparison_rows(s)
        if rows and s["status"] in ("completed", "stopped"):
            lines.append("-- stop criteria vs the ladder's best (trainings = rungs trained / full ladder)")
            lines.append(format_table(rows))
            lines += run_compute_line(s)
        ending = {"failed": s.get("error", ""), "interrupted": s.get("interrupted", "")}.get(s["status"], "")
        if s["status"] in ("completed", "stopped"):
            lines.append(run_time_line(s["status"], s.get("seconds") or 0.0, s.get("seconds_this_process")))
        else:
            lines.append(f"run {s['status']}" + (f": {ending}" if ending else ""))
    return "\n".join(lines)


def watch_run_text(run_dir: Path, follow: bool, out: TextIO | None = None, poll_s: float = POLL_S,
                   probe_after_s: float = PROBE_AFTER_S) -> str:
    """Print the run's state; with `follow`, then its new events until it ends. Returns its status."""
    out = out or sys.stdout
    follower = EventFollower(Path(run_dir) / EVENTS)
    builder = SummaryBuilder()
    for e in follower.poll():
        builder.consume(e)
    safe_write(out, state_text(builder, Path(run_dir)) + "\n")
    if not follow or builder.status in FINAL:
        return builder.status
    printer = HeadlessPrinter(out, live=False)
    printer.summary = builder  # the end-of-run table needs the rungs printed above
    quiet_since = time.monotonic()
    while True:
        events = follower.poll()
        for e in events:
            printer(e)
            if e.type in END_EVENTS:
                return builder.status
        if events:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= probe_after_s:
            if not writer_alive(Path(run_dir)):
                safe_write(out, f"no process writes this run any more (killed?); it can be continued with "
                                f"`dsd-tui resume {run_dir}`\n")
                return builder.status
            quiet_since = time.monotonic()
        time.sleep(poll_s)


def watch_sweep_text(sweep_dir: Path, follow: bool, out: TextIO | None = None, poll_s: float = 5.0) -> None:
    """Print the sweep's status table; with `follow`, again whenever it changes, until every ladder ended."""
    from dsd_tui.study import sweep_index as idx
    from dsd_tui.study import sweep_table
    out = out or sys.stdout
    last = None
    while True:
        index = idx.read_index(sweep_dir)
        states = [sweep_table.ladder_state(sweep_dir, lad) for lad in index["ladders"]]
        text = sweep_table.table(sweep_dir, index)
        if text != last:
            safe_write(out, text + "\n")
            last = text
        if not follow or all(st["status"] in FINAL for st in states):
            return
        time.sleep(poll_s)
