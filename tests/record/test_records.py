"""The typed records at the disk edge: a real run's records are built once, complete, with the keys in the
order summary.json and events.jsonl have always had; an older log (records without the later keys, a key
from a newer version, an empty verdict) reads back and is written out unchanged."""
from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner
from conftest import short_overrides

from dsd_tui.cli import main
from dsd_tui.record.rundir import EVENTS, read_events, rebuild_summary
from dsd_tui.record.rung import MACS_KEYS, MEASURED_KEYS, OVERLAP_KEYS, RungRecord
from dsd_tui.record.summary import PhaseSummary, StopEntry, SummaryBuilder
from dsd_tui.record.verdict import Verdict


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run whose stop criteria fire (recorded as alerts), so that summary.json has stop entries."""
    out = tmp_path_factory.mktemp("records")
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(out), *short_overrides(
        "stop.min_delta=1.0", "stop.patience=1", "stop.smooth=1")])
    assert result.exit_code == 0, result.output
    return next(out.glob("*/summary.json")).parent


def test_a_run_builds_each_rung_record_once_complete_and_in_the_files_key_order(run):
    events = read_events(run / EVENTS)
    finished = [e for e in events if e.type == "rung_finished"]
    records = [e.record for e in finished]
    assert records and all(isinstance(r, RungRecord) for r in records)
    for e, r in zip(finished, records):  # nothing is added after the record is built: every field is set
        assert r.seconds is not None and r.regime is not None and r.layer_sparsity
        # as read from the file: the issue-23 compute keys come after the older ones (additive)
        overlap = OVERLAP_KEYS if e.phase == "student" else ()
        assert r.json_keys == MEASURED_KEYS + ("regime",) + MACS_KEYS + overlap
        with pytest.raises(dataclasses.FrozenInstanceError):
            r.regime = "patched"  # type: ignore[misc]
    summary = json.loads((run / "summary.json").read_text())
    for phase in summary["phases"]:
        assert list(phase) == ["name", "arch", "best_rung", "rungs", "rungs_trained", "stopped_early",
                               "prunable_weights", "layer_weights", *(["teacher"] if phase["name"] == "student"
                                                                      else []), "verdict"]
        for r in phase["rungs"]:  # the order summary.json has always had (0.x)
            assert list(r) == ["rung", "sparsity", "remaining_weights", "train_acc", "train_acc_clean",
                               "train_loss", "val_acc", "val_acc_clean", "val_loss", "test_acc", "test_loss",
                               "entropy", "entropy_mean", "epochs", "learning_distance", "seconds",
                               "layer_sparsity", "peak_rss_mb", "regime", "dense_macs", "macs", "train_macs",
                               "cumulative_train_macs", *(["teacher_overlap", "layer_teacher_overlap"]
                                                          if phase["name"] == "student" else [])]
    assert summary["stops"] and list(summary["stops"][0])[:7] == [
        "phase", "rung", "criterion", "reason", "selected_rung", "active", "action"]
    # the same numbers read back through the typed records, then written again: the same file
    built = rebuild_summary(run)
    teacher = built.phases["teacher"]
    assert isinstance(teacher, PhaseSummary) and isinstance(teacher.verdict, Verdict)
    assert isinstance(built.stops[0], StopEntry) and built.stops[0].details["rungs_trained"] >= 1
    assert teacher.best_rung == max(teacher.rungs, key=lambda r: (r.val_acc, r.rung)).rung
    assert json.dumps({**built.summary(), "run_dir": summary["run_dir"]}, indent=2) + "\n" == \
        (run / "summary.json").read_text()


def test_an_older_log_reads_back_and_writes_out_unchanged(finished_run, tmp_path):
    run = finished_run
    lines = []
    for line in (run / EVENTS).read_text().splitlines():
        d = json.loads(line)
        if d["type"] == "rung_finished":  # a log from before these keys existed, and one key from a newer one
            for key in ("layer_sparsity", "peak_rss_mb", "regime", "learning_distance", "seconds"):
                del d["record"][key]
            d["record"]["from_the_future"] = [1, 2]
        if d["type"] == "phase_finished":
            d["verdict"] = {}
        lines.append(json.dumps(d, separators=(",", ":")))
    old = tmp_path / EVENTS
    old.write_text("\n".join(lines) + "\n")
    events = read_events(old)
    assert [json.dumps(e.to_dict(), separators=(",", ":")) for e in events] == lines
    record = next(e.record for e in events if e.type == "rung_finished")
    assert record.regime is None and record.seconds is None and record.extra == {"from_the_future": [1, 2]}
    assert all(e.verdict is None for e in events if e.type == "phase_finished")
    summary = rebuild_summary(run).summary()  # the real run, then the same fold over the old log
    b = SummaryBuilder()
    for e in events:
        b.consume(e)
    old_phase = b.summary()["phases"][0]
    assert "verdict" not in old_phase and "verdict" in summary["phases"][0]
    assert [list(r) for r in old_phase["rungs"]] == [list(json.loads(line)["record"]) for line in lines
                                                    if '"rung_finished"' in line][:len(old_phase["rungs"])]


def test_the_ladder_emits_records_built_once_and_the_checkpoint_keeps_the_entropy_counters(tmp_path,
                                                                                          keep_signal_handlers):
    """Live, before any JSON: each rung_finished carries a RungRecord the ladder built complete (no key order
    read from a file), and the counters measure() returned with it are in that rung's checkpoint."""
    from dsd_tui import profile as profile_mod
    from dsd_tui.record.rundir import safe_torch_load
    from dsd_tui.runner import RunSession

    seen = []
    prof = profile_mod.load(None, ["prune.rungs=1", "train.dense_epochs=1", "train.epochs=1",
                                   "distill.enabled=false", "run.keep_checkpoints='all'"])
    session = RunSession.new(prof, str(tmp_path), sinks=[lambda e: seen.append(e) if e.type == "rung_finished"
                                                         else None])
    assert session.run() == "completed"
    assert [e.record.rung for e in seen] == [0, 1]
    for e in seen:
        r = e.record
        assert r.json_keys is None and r.regime in ("memorising", "critical", "recovered", "collapsing")
        assert r.to_json() == json.loads((session.path / "summary.json").read_text())["phases"][0]["rungs"][r.rung]
        counts = safe_torch_load(session.rundir.checkpoint_path("teacher", r.rung))["entropy_counts"]
        assert set(counts["on"]) == set(r.entropy) and counts["samples"] > 0
