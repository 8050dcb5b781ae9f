"""`export --format wandb`: an offline W&B run whose history holds the run's numbers against a step
metric per phase, with the profile as its config. Offline only: nothing leaves the machine."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from tui_support import recorded_run

from dsd_tui.cli import main
from dsd_tui.record.rundir import rebuild_summary

pytest.importorskip("wandb")
from wandb.proto import wandb_internal_pb2 as pb  # noqa: E402


def records(path: Path) -> list:
    """The records of a .wandb transaction log: a 7-byte W&B header, then LevelDB-log records in 32 KiB
    blocks (4-byte CRC, 2-byte little-endian length, 1-byte type: 1 full, 2 first, 3 middle, 4 last)."""
    data, pos, block, buf, out = path.read_bytes(), 7, 32768, b"", []
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = block - pos % block
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        if left < 7 or (length == 0 and kind == 0):
            pos += left
            continue
        buf += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            rec = pb.Record()
            rec.ParseFromString(buf)
            out.append(rec)
            buf = b""
    return out


def test_offline_wandb_run_holds_the_ladders(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    run = recorded_run(tmp_path)
    result = CliRunner().invoke(main, ["export", str(run), "--format", "wandb", "-o", str(tmp_path / "wb")])
    assert result.exit_code == 0, result.output
    local = Path(result.stdout.splitlines()[-1])
    assert local.parent == tmp_path / "wb" / "wandb" and local.name.startswith("offline-run-")
    assert f"wandb sync {local}" in result.stderr
    import wandb
    wandb.teardown()  # the W&B service writes its files in the background: let it finish, as at process exit
    recs = records(next(local.glob("*.wandb")))
    history = [{i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
               for r in recs if r.WhichOneof("record_type") == "history"]
    summary = rebuild_summary(run).summary()
    for phase in summary["phases"]:
        name = phase["name"]
        got = [(h[f"{name}/rung"], h[f"{name}/test_acc"], h[f"{name}/sparsity"]) for h in history
               if f"{name}/test_acc" in h]
        assert got == [(r["rung"], r["test_acc"], r["sparsity"]) for r in phase["rungs"]]
        epochs = [h[f"{name}-epoch/epoch"] for h in history if f"{name}-epoch/train_loss" in h]
        assert epochs == list(range(1, 3 + 2 * 4 + 1))
    metrics = {m.glob_name or m.name: m.step_metric for r in recs if r.WhichOneof("record_type") == "metric"
               for m in [r.metric]}
    assert metrics.get("teacher/*") == "teacher/rung" and metrics.get("student/*") == "student/rung"
    config = {u.key: json.loads(u.value_json) for r in recs if r.WhichOneof("record_type") in ("run", "config")
              for u in (r.run.config.update if r.WhichOneof("record_type") == "run" else r.config.update)}
    assert config["train.lr"] == summary["profile"]["train"]["lr"]
    assert config["prune.rungs"] == summary["profile"]["prune"]["rungs"]


def history(local_dirs) -> list[dict]:
    out = []
    for local in local_dirs:
        for r in records(next(local.glob("*.wandb"))):
            if r.WhichOneof("record_type") == "history":
                out.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item})
    return out


@pytest.mark.parametrize("same_second", [False, True], ids=["later", "same-second"])
def test_live_sink_across_a_resume_logs_each_point_once(tmp_path, monkeypatch, keep_signal_handlers, same_second):
    """Once a process is warm (torch, the data) the interrupted run lasts under a second, so its resume may
    start W&B within the same second: W&B then names the second folder `offline-run-<second>-<id>-1`.
    `same_second` makes that certain by freezing the start time W&B names its folders by."""
    from dsd_tui import profile as profile_mod
    from dsd_tui.runner import RunSession
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    if same_second:
        from wandb.sdk import wandb_init
        monkeypatch.setattr(wandb_init, "time", SimpleNamespace(time=lambda: 1_800_000_000.0))
    prof = profile_mod.load(None, ["prune.rungs=1", "train.dense_epochs=2", "train.epochs=1", "data.train_size=200",
                                   "data.val_size=50", "model.hidden=[32]", "distill.enabled=false", "run.wandb=true"])

    def stop_after_rung_0(e):
        if e.type == "rung_finished" and e.rung == 0:
            session.stop_after_rung.set()
    session = RunSession.new(prof, str(tmp_path / "runs"), sinks=[stop_after_rung_0])
    assert session.run() == "interrupted"
    assert RunSession.resume_from(str(session.path)).run() == "completed"
    folders = sorted((session.path / "wandb").glob("offline-run-*"))
    assert len(folders) == 2 and len({next(f.glob("run-*.wandb")).name for f in folders}) == 1  # one W&B run id
    import wandb
    wandb.teardown()  # the W&B service writes its files in the background: let it finish, as at process exit
    rows = history(folders)
    summary = rebuild_summary(session.path).summary()
    got = [(h["teacher/rung"], h["teacher/test_acc"]) for h in rows if "teacher/test_acc" in h]
    assert got == [(r["rung"], r["test_acc"]) for r in summary["phases"][0]["rungs"]]
    assert [h["teacher-epoch/epoch"] for h in rows if "teacher-epoch/train_loss" in h] == [1, 2, 3]
    assert [h["_step"] for h in rows] == list(range(5))  # W&B's step goes on across the resume


@pytest.mark.parametrize("mode,words", [("bogus", "W&B takes one of"), ("online", "wandb login")])
def test_a_mode_wandb_cannot_run_in_is_one_line_and_nothing_written(tmp_path, monkeypatch, mode, words):
    """WANDB_MODE=bogus, or online without an API key: one line, exit 2, for the export and a live run alike."""
    monkeypatch.setenv("WANDB_MODE", mode)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    run = recorded_run(tmp_path)
    export = CliRunner().invoke(main, ["export", str(run), "--format", "wandb", "-o", str(tmp_path / "wb")])
    assert export.exit_code == 2 and words in export.output and export.output.count("\n") == 1, export.output
    assert not (tmp_path / "wb").exists()
    live = CliRunner().invoke(main, ["run", "--no-tui", "--wandb", "--out", str(tmp_path / "runs"),
                                     "--set", "prune.rungs=1", "--set", "train.epochs=1"])
    assert live.exit_code == 2 and words in live.output, live.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
