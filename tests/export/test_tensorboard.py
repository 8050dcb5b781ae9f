"""TensorBoard: `export --format tensorboard` and the live sink write what TensorBoard's own reader reads
back as the run's numbers (rung as step, profile as hyperparameters); the same events give the same
scalars; a resumed live run holds each point once."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tui_support import recorded_run

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.record.rundir import rebuild_summary
from dsd_tui.runner import RunSession

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

TINY = ["prune.rungs=2", "train.dense_epochs=2", "train.epochs=1", "data.train_size=300", "data.val_size=60",
        "model.hidden=[64, 64]"]


def read_back(folder: Path) -> tuple[dict, EventAccumulator]:
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(s.step, s.value, s.wall_time) for s in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}, acc


def export(run: Path, out: Path) -> dict:
    result = CliRunner().invoke(main, ["export", str(run), "--format", "tensorboard", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return read_back(out)[0]


def test_export_reads_back_as_the_summary(tmp_path):
    run = recorded_run(tmp_path)
    scalars = export(run, tmp_path / "tb")
    summary = rebuild_summary(run).summary()
    f32 = np.float32
    for phase in summary["phases"]:
        name = phase["name"]
        for field in ("test_acc", "val_acc", "train_acc", "train_loss", "test_loss", "sparsity", "entropy_mean"):
            assert [(s, v) for s, v, _ in scalars[f"{name}/{field}"]] == \
                [(r["rung"], f32(r[field])) for r in phase["rungs"]], (name, field)
        for layer in phase["rungs"][0]["entropy"]:
            assert [v for _, v, _ in scalars[f"{name}/entropy/{layer}"]] == [f32(r["entropy"][layer])
                                                                               for r in phase["rungs"]]
        # per epoch: the dense rung's 3 epochs, then 2 per pruning rung, numbered through the phase
        assert [s for s, _, _ in scalars[f"{name}/epoch/train_loss"]] == list(range(1, 3 + 2 * 4 + 1))
    _, acc = read_back(tmp_path / "tb")
    hp = acc.summary_metadata["_hparams_/session_start_info"].plugin_data.content
    assert b"train.lr" in hp and b"prune.rungs" in hp and b"quickstart" in hp
    again = export(run, tmp_path / "tb")  # the same run again: replaced, the same scalars
    assert again == scalars
    assert len(list((tmp_path / "tb").iterdir())) == 1


def test_export_refuses_a_folder_of_other_files_and_needs_o(tmp_path):
    run = recorded_run(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(main, ["export", str(run), "--format", "tensorboard", "-o", str(tmp_path / "mine")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "holds other files" in result.stderr
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    result = CliRunner().invoke(main, ["export", str(run), "--format", "tensorboard"])
    assert result.exit_code == 2 and "-o DIR" in result.stderr


def test_live_sink_across_a_resume_matches_the_export(tmp_path, keep_signal_handlers):
    prof = profile_mod.load(None, TINY)

    def stop_after_teacher_rung_1(e):
        if e.type == "rung_finished" and e.phase == "teacher" and e.rung == 1:
            session.stop_after_rung.set()
    result = CliRunner().invoke(main, ["run", "--no-tui", "--tensorboard", "--out", str(tmp_path / "runs"),
                                       "--set", "prune.rungs=0", "--set", "distill.enabled=false",
                                       *[a for o in TINY[1:] for a in ("--set", o)]])
    assert result.exit_code == 0, result.output
    first = Path(result.stdout.splitlines()[0])
    assert profile_mod.load(str(first / "profile.toml")).run.tensorboard  # the flag is the profile key
    live, _ = read_back(first / "tensorboard")
    assert [s for s, _, _ in live["teacher/test_acc"]] == [0]

    session = RunSession.new(prof.replace("run", tensorboard=True), str(tmp_path / "runs"),
                             sinks=[stop_after_teacher_rung_1])
    assert session.run() == "interrupted"
    result = CliRunner().invoke(main, ["resume", "--no-tui", str(session.path)])
    assert result.exit_code == 0, result.output
    live, _ = read_back(session.path / "tensorboard")
    assert live == export(session.path, tmp_path / "tb")
    assert [s for s, _, _ in live["student/test_acc"]] == [0, 1, 2]
    assert [s for s, _, _ in live["teacher/epoch/train_loss"]] == [1, 2, 3, 4]  # each epoch once


def test_without_tensorboard_installed_one_line_and_nothing_written(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "torch.utils.tensorboard", None)  # as if not installed
    run = recorded_run(tmp_path)
    result = CliRunner().invoke(main, ["export", str(run), "--format", "tensorboard", "-o", str(tmp_path / "tb")])
    assert result.exit_code == 2 and "pip install 'dsd-tui[tensorboard]'" in result.stderr
    assert not (tmp_path / "tb").exists()
    result = CliRunner().invoke(main, ["run", "--no-tui", "--tensorboard", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "tensorboard" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_symlinked_output_or_live_folder_is_written_through_and_the_link_stays(tmp_path, keep_signal_handlers):
    """`-o LINK` (a link to a TensorBoard log folder) and a RUN_DIR/tensorboard that is a link: written through,
    the link kept, nothing but event files touched in the target (issue 27: both were tracebacks)."""
    run = recorded_run(tmp_path)
    (tmp_path / "shared-tb").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "shared-tb")
    scalars = export(run, tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and read_back(tmp_path / "shared-tb")[0] == scalars

    live_target = tmp_path / "live-target"
    live_target.mkdir()
    (live_target / "notes.txt").write_text("mine")
    prof = profile_mod.load(None, ["prune.rungs=1", "train.epochs=1", "train.dense_epochs=1", "run.tensorboard=true",
                                   "distill.enabled=false"])
    session = RunSession.new(prof, str(tmp_path / "runs"))
    (session.path / "tensorboard").symlink_to(live_target)
    assert session.run() in ("completed", "stopped")
    assert (session.path / "tensorboard").is_symlink() and (live_target / "notes.txt").read_text() == "mine"
    assert "teacher/test_acc" in read_back(live_target)[0]


def test_a_full_disk_is_one_line_and_leaves_no_half_export(tmp_path):
    """The file-size limit makes the event file's write fail as a full disk does: one line, exit 1, nothing of
    the export left (issue 27: two tracebacks before)."""
    import os
    import resource
    import signal
    import subprocess
    import sys
    run = recorded_run(tmp_path)

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2_000, 2_000))
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "dsd_tui", "export", str(run), "--format", "tensorboard", "-o",
                           str(tmp_path / "tb")], env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True,
                          text=True, preexec_fn=limit, timeout=300)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "free space" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if "tb" in p.name) == []
