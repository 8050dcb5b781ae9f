"""Before `resume` touches a run: do its files agree? If not, one line saying what disagrees.

Why a module of its own: a resume must never shorten or rewrite recorded history. Its three records
are written in a fixed order at every rung end (events.jsonl appended and fsynced, then summary.json
and the resume state), so on a healthy run the log is never behind the other two. When it is (a
truncated or restored-from-backup log, a lost state/latest.pt, an edited profile.toml), continuing
would rebuild summary.json from the short log, restart from teacher rung 0 over finished rungs, or
mix two settings in one run. `check` finds each case before anything is opened for writing, so a
refused resume changes nothing (docs/reliability.md, "Resume never shortens history").
"""
from __future__ import annotations

import json
from pathlib import Path

from dsd_tui.errors import UsageError
from dsd_tui.paths import MAX_RECORD_BYTES, read_bounded
from dsd_tui.record import events as ev
from dsd_tui.record.rundir import CHECKPOINTS, STATE, SUMMARY
from dsd_tui.record.summary import SummaryBuilder


def flat(tree: dict, prefix: str = "") -> dict:
    """{"section.key": value} of a profile dict (lists compared as JSON, so tuples equal lists)."""
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = json.dumps(v, sort_keys=True)
    return out


def changed_keys(recorded: dict, now: dict) -> list[str]:
    a, b = flat(recorded), flat(now)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def check_profile(path: Path, events: list[ev.Event], profile_now: dict) -> None:
    """profile.toml must still be the profile the run started with (its first run_started event)."""
    first = next((e for e in events if isinstance(e, ev.RunStarted)), None)
    if first is None or not isinstance(first.profile, dict):
        return  # killed before its first event: nothing was computed with any setting yet
    changed = changed_keys(first.profile, profile_now)
    if changed:
        shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
        raise UsageError(f"{path}/profile.toml: changed since the run started ({shown}); a resumed run must keep its "
                         f"settings: put the file back, or start a new run with the new settings")


def _recorded_rungs(builder: SummaryBuilder, phase: str) -> set[int]:
    return {r.rung for r in builder.records(phase)}


def _summary_on_disk(path: Path) -> dict | None:
    """summary.json as written, None when missing or unreadable; a FIFO, a device or a file too big to be a
    summary is one line (UsageError) before it is opened, rather than a resume that blocks on it."""
    try:
        data = json.loads(read_bounded(path / SUMMARY, "summary", MAX_RECORD_BYTES))
    except (OSError, ValueError, RecursionError):  # RecursionError: nested thousands deep, no summary is
        return None
    return data if isinstance(data, dict) else None


def check_history(path: Path, builder: SummaryBuilder, state: dict | None) -> None:
    """The log must hold every rung that summary.json or the resume state says is finished, and a run
    with finished rungs must still have its resume state."""
    where = f"{path}/events.jsonl"
    disk = _summary_on_disk(path)
    if disk is not None:
        for ph in disk.get("phases") or []:
            if not isinstance(ph, dict) or not isinstance(ph.get("rungs"), list):
                continue
            if not isinstance(ph.get("name"), str):
                continue
            on_disk = {r.get("rung") for r in ph["rungs"] if isinstance(r, dict) and isinstance(r.get("rung"), int)}
            missing = sorted(on_disk - _recorded_rungs(builder, ph["name"]))
            if missing:
                raise UsageError(f"{where}: lacks {ph.get('name')} rung(s) {_span(missing)} that summary.json records "
                                 f"(the log was truncated or replaced); nothing was changed: restore the log, or "
                                 f"start a new run")
    if state is None:
        done = [f"{ph} rung {r}" for ph in ("teacher", "student") for r in sorted(_recorded_rungs(builder, ph))]
        checkpoints = sorted(p.name for p in (path / CHECKPOINTS).glob("*.pt"))
        if done or checkpoints:
            what = done[-1] if done else checkpoints[-1]
            raise UsageError(f"{path}/{STATE}: missing, but the run has finished work ({what}); resuming "
                             f"would start again from teacher rung 0 over it; nothing was changed: restore the "
                             f"state file, or start a new run")
        return
    cursor = state.get("cursor") if isinstance(state, dict) else None
    if not isinstance(cursor, dict):
        raise UsageError(f"{path}/{STATE}: holds no cursor; not a dsd_tui resume state")
    for phase in cursor.get("phases_done") or []:
        if not builder.records(phase):
            raise UsageError(f"{where}: holds no {phase} rung, but the resume state says the {phase} phase finished "
                             f"(the log was truncated or replaced); nothing was changed: restore the log, or start a "
                             f"new run")
    phase, rung = cursor.get("phase", "teacher"), int(cursor.get("rung", 0))
    needed = set(range(rung + (1 if cursor.get("rung_done") else 0)))
    missing = sorted(needed - _recorded_rungs(builder, phase))
    if missing:
        raise UsageError(f"{where}: lacks {phase} rung(s) {_span(missing)} that the resume state has finished (the "
                         f"log was truncated or replaced); resuming would lose them; nothing was changed: restore the "
                         f"log, or start a new run")


def _span(rungs: list[int]) -> str:
    return str(rungs[0]) if len(rungs) == 1 else f"{rungs[0]}-{rungs[-1]}" if rungs == list(
        range(rungs[0], rungs[-1] + 1)) else ", ".join(map(str, rungs))
