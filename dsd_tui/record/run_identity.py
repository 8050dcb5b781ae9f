"""A run's identity, carried by its resume state and every checkpoint, and its data's fingerprint.

Why a module of its own: a `state/latest.pt` copied from another run, a checkpoint swapped for another rung's,
or data files swapped for others of the same shape used to be read without a word, and the run went on with
numbers that were not its own. So every file the run writes for itself carries `run_id` (a hash of the
resolved profile and the run's first start time, both in the first `run_started` event of events.jsonl) and,
for checkpoints, its phase and rung; the first `run_started` event records the data's fingerprint (a hash of
every split's inputs and labels as loaded). Reading checks them against the log: a foreign, swapped or
inconsistent file is refused in one line naming both files, before anything is changed. Files written before
these keys existed carry none and are accepted as they were.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from dsd_tui.errors import UsageError
from dsd_tui.record import events as ev

RUN_ID = "run_id"  # the key in the state and checkpoint dicts


def run_id(profile: dict, started: float) -> str:
    """16 hex digits of sha256 over the resolved profile (canonical JSON) and the first start time (epoch s)."""
    text = json.dumps(profile, sort_keys=True, separators=(",", ":")) + "|" + repr(float(started))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def first_start(events: list[ev.Event]) -> ev.RunStarted | None:
    return next((e for e in events if isinstance(e, ev.RunStarted)), None)


def id_from_log(events: list[ev.Event]) -> str | None:
    """The run's identity as its log records it (None before the first event)."""
    first = first_start(events)
    if first is None or not isinstance(first.profile, dict):
        return None
    return run_id(first.profile, first.time)


def data_fingerprint(bundle) -> str:
    """blake2b (16 bytes) of every split's inputs, labels and clean labels as loaded (dtype, shape, bytes):
    other files of the same shape, another noise draw or another split give another fingerprint."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(bundle.name).encode())
    for split in (bundle.train, bundle.val, bundle.test):
        for t in (split.x, split.y, split.y_clean):
            t = t.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.numpy().tobytes() if t.numel() else b"")
    return "blake2b:" + h.hexdigest()


def check_state(path: Path, state: dict, events: list[ev.Event]) -> None:
    """The resume state must be this run's (its run_id that of the log's first run_started event)."""
    have = state.get(RUN_ID) if isinstance(state, dict) else None
    want = id_from_log(events)
    if have is None or want is None or have == want:
        return
    raise UsageError(f"{path}/state/latest.pt: belongs to another run (run id {have}; {path}/events.jsonl records "
                     f"{want}); nothing was changed: put back this run's own state file, or start a new run")


def check_data(path: Path, events: list[ev.Event], fingerprint: str, where: str) -> None:
    """The data read now must be the data the run started with (the first run_started event's fingerprint)."""
    first = first_start(events)
    recorded = (first.data or {}).get("fingerprint") if first is not None and isinstance(first.data, dict) else None
    if recorded is None or recorded == fingerprint:
        return
    raise UsageError(f"{where}: the data read now ({fingerprint}) differs from the data the run started with "
                     f"({recorded}, in {path}/events.jsonl); nothing was changed: put back the run's data files")


def check_checkpoint(path: Path, ck: dict, want_id: str | None, phase: str, rung: int | None = None) -> None:
    """A checkpoint of this run must carry this run's id and the phase (and rung) it is read as."""
    have = ck.get(RUN_ID) if isinstance(ck, dict) else None
    if have is not None and want_id is not None and have != want_id:
        raise UsageError(f"{path}: a checkpoint of another run (run id {have}; this run's events.jsonl records "
                         f"{want_id}); put back this run's own file")
    if not isinstance(ck, dict) or RUN_ID not in ck:
        return  # written before checkpoints carried their identity
    if ck.get("phase") != phase or (rung is not None and ck.get("rung") != rung):
        raise UsageError(f"{path}: holds {ck.get('phase')} rung {ck.get('rung')}, but is read as {phase} rung "
                         f"{rung} (its name and events.jsonl); it was swapped: put back this run's own file")
