"""The headless view of a sweep: a line per finished ladder and a fixed-width status table.

Both read what the ladders wrote (sweep.json and each run's summary.json), so the table is the
same from the driver, from `dsd-tui watch SWEEP_DIR` on a finished sweep, or from a TUI screen.
"""
from __future__ import annotations

import json
from pathlib import Path

from dsd_tui.errors import UsageError
from dsd_tui.paths import MAX_RECORD_BYTES, read_bounded
from dsd_tui.record.rundir import SUMMARY
from dsd_tui.record.rung import RungRecord
from dsd_tui.record.summary import PhaseSummary
from dsd_tui.study import sweep_index as idx
from dsd_tui.study.grid import value_text


def read_summary(run_dir: Path) -> dict:
    """The run's summary.json as last written (cheap while it runs); {} when there is none yet, or when it is
    not a regular file or is too big to be one (never opened, so a FIFO cannot block the table)."""
    try:
        summary = json.loads(read_bounded(Path(run_dir) / SUMMARY, "summary", MAX_RECORD_BYTES))
    except (OSError, ValueError, UsageError, RecursionError):
        return {}
    return summary if usable(summary) else {}


def usable(summary) -> bool:
    """Does the summary have the shape the table reads (a dict; phases a list of phase dicts whose rungs parse)?
    One of another shape (edited, or not a summary) is shown as no summary, not a traceback."""
    if not isinstance(summary, dict) or not isinstance(summary.get("phases", []), list):
        return False
    if not isinstance(summary.get("profile", {}), dict) or not isinstance(summary.get("profile", {}).get("prune", {}),
                                                                         dict):
        return False
    try:
        for p in summary.get("phases", []):
            PhaseSummary.from_json(p)
    except (TypeError, KeyError, AttributeError, ValueError):
        return False
    return True


def best(summary: dict, phase: str) -> RungRecord | None:
    """The rung record at the phase's best-validation rung (summary.json parsed into the typed records)."""
    for p in (PhaseSummary.from_json(p) for p in summary.get("phases", [])):
        if p.name == phase and p.best_rung is not None:
            return next((r for r in p.rungs if r.rung == p.best_rung), None)
    return None


def where(summary: dict) -> tuple[str, str]:
    """(phase, 'rung/total') of the last finished rung."""
    phases = summary.get("phases", [])
    last = PhaseSummary.from_json(phases[-1]) if phases else None
    if last is None or not last.rungs:
        return "", ""
    total = summary.get("profile", {}).get("prune", {}).get("rungs", "?")
    return last.name, f"{last.rungs[-1].rung}/{total}"


def settings_text(entry: dict) -> str:
    return " ".join(f"{k.split('.')[-1]}={value_text(v)}" for k, v in entry["settings"].items()) or "-"


def _acc(rec: RungRecord | None) -> str:
    if rec is None or rec.test_acc is None:
        return "  -  "
    return f"{rec.test_acc:.3f}"


def finished_line(sweep_dir: Path, entry: dict) -> str:
    summary = read_summary(Path(sweep_dir) / entry["name"])
    what = f"{settings_text(entry)} seed={entry['seed']}: {entry['status']}"
    if entry.get("seconds") is not None:
        what += f" in {entry['seconds']:.1f} s"
    if entry["status"] == "failed":
        return what + f": {entry.get('error') or summary.get('error', '')}"
    parts = []
    for phase in ("teacher", "student"):
        rec = best(summary, phase)
        if rec is not None:
            parts.append(f"{phase} test {rec.test_acc:.3f} at {rec.sparsity * 100:.2f}%")
    return what + ("; best-val " + ", ".join(parts) if parts else "")


HEADER = f"{'settings':<28} {'seed':>4} {'status':<11} {'phase':<8} {'rung':>6} {'T test':>6} {'S test':>6} {'sec':>7}"


def ladder_status(entry: dict, summary: dict) -> str:
    """The ladder's own summary is the truth (sweep.json may be stale after a driver died), except that
    a worker killed mid-run leaves 'running' there, which the driver recorded as failed."""
    if not summary:
        return "queued" if entry["status"] == "running" else entry["status"]
    if entry["status"] == "failed" and summary.get("status") == "running":
        return "failed"
    return summary.get("status", entry["status"])


def ladder_state(sweep_dir: Path, entry: dict) -> dict:
    """What the table shows for one ladder: settings, seed, status, phase, rung, best accuracies, seconds."""
    summary = read_summary(Path(sweep_dir) / entry["name"])
    phase, rung = where(summary)
    return {"name": entry["name"], "settings": settings_text(entry), "seed": entry["seed"],
            "status": ladder_status(entry, summary),
            "phase": phase, "rung": rung, "teacher": _acc(best(summary, "teacher")),
            "student": _acc(best(summary, "student")), "seconds": entry.get("seconds")}


def row(st: dict) -> str:
    sec = "" if st["seconds"] is None else f"{st['seconds']:.1f}"
    return (f"{st['settings'][:28]:<28} {st['seed']:>4} {st['status']:<11} {st['phase']:<8} {st['rung']:>6} "
            f"{st['teacher']:>6} {st['student']:>6} {sec:>7}")


def table(sweep_dir: Path, index: dict | None = None) -> str:
    """The status table: one row per ladder (T/S test = test accuracy at the best-validation rung)."""
    index = index or idx.read_index(sweep_dir)
    states = [ladder_state(sweep_dir, lad) for lad in index["ladders"]]
    counts: dict = {}
    for st in states:
        counts[st["status"]] = counts.get(st["status"], 0) + 1
    tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return "\n".join([HEADER] + [row(st) for st in states] + [f"{len(states)} ladders: {tally}"])
