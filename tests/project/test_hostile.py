"""The hostile-input round (issue 18): each defect class it found, held by a test that fails without its fix.

Classes: files outside the run destroyed by `-o`; a run's own files overwritten; resume shortening
history; a run tied to the folder it was started from; hangs (FIFOs, unbounded sizes and keys,
`compare --tui` without a terminal, `watch` of a killed or deleted run); tracebacks where one line is
promised. Table and verdicts: docs/reliability.md, "Hostile-input round".
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import sys
import threading
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from fake_files import TINY, fake_run
from relhelp import metrics, one_line_exit_2, sets, snapshot_tree
from shared_runs import build_once

from dsd_tui import profile as profile_mod
from dsd_tui.cli import main
from dsd_tui.record import events as ev
from dsd_tui.record.rundir import RunDir
from dsd_tui.runner import RunSession

NO_USER = "~nosuchuser-dsd-tui-test"
SMALL = [*TINY, "model.hidden=[32, 32]"]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def feed_fifo_later(path: Path, data: bytes, after: float = 20.0) -> threading.Thread:
    """A code path that opens the FIFO blocks until a writer comes: this writer comes late, so a broken
    fix fails the test (wrong message) instead of hanging the suite. Once the command is refused, the
    writer is let go by opening the FIFO for reading here."""
    def write():
        if stop.wait(after):
            return
        with open(path, "wb") as f:
            f.write(data)
    stop = threading.Event()
    t = threading.Thread(target=write, daemon=True)
    t.stop = stop
    t.start()
    return t


# ---------------------------------------------------------------- files outside the run, and the run's own

@pytest.mark.parametrize("command, name", [("export", "out.json"), ("plot", "fig.png")])
def test_export_or_plot_to_a_fifo_is_refused_and_the_fifo_stays(tmp_path, command, name):
    run = fake_run(tmp_path)
    fifo = tmp_path / name
    os.mkfifo(fifo)
    one_line_exit_2(invoke(command, str(run), "-o", str(fifo)), "FIFO")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_export_to_a_character_device_is_refused(tmp_path):
    run = fake_run(tmp_path)
    link = tmp_path / "null.json"
    link.symlink_to("/dev/null")
    one_line_exit_2(invoke("export", str(run), "-o", str(link)), "character device")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and link.is_symlink()


def test_export_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    run = fake_run(tmp_path)
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "summary-copy.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    result = invoke("export", str(run), "-o", str(link))
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["schema"] == "dsd_tui.summary/1"


@pytest.mark.parametrize("owned", ["events.jsonl", "summary.json", "profile.toml", "checkpoints/teacher-rung00.pt",
                                   "state/latest.pt"])
def test_no_command_overwrites_a_file_the_run_owns(tmp_path, owned):
    run = fake_run(tmp_path)
    (run / "summary.json").write_text("{}")
    before = snapshot_tree(tmp_path)
    one_line_exit_2(invoke("export", str(run), "-o", str(run / owned)), "must not be overwritten")
    assert snapshot_tree(tmp_path) == before


def test_the_run_owned_file_is_found_through_a_symlink_too(tmp_path):
    run = fake_run(tmp_path)
    (tmp_path / "sneaky.json").symlink_to(run / "events.jsonl")
    before = snapshot_tree(tmp_path)
    one_line_exit_2(invoke("export", str(run), "-o", str(tmp_path / "sneaky.json"), "--format", "csv"))
    assert snapshot_tree(tmp_path) == before


def test_a_full_stdout_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    """`dsd-tui export RUN > /dev/full`: the real command in this process, its stdout on the real device."""
    run = fake_run(tmp_path)
    with open("/dev/full", "w") as full:
        monkeypatch.setattr(sys, "stdout", full)
        with pytest.raises(SystemExit) as ended:
            main.main(["export", str(run)], prog_name="dsd-tui")
        monkeypatch.undo()
    err = capsys.readouterr().err
    assert ended.value.code == 2, err
    assert err.count("\n") == 1 and err.startswith("dsd-tui: ") and "No space left" in err, err


# ---------------------------------------------------------------- durability of the log

def test_the_event_log_is_fsynced_before_the_summary_at_each_rung_end(tmp_path, monkeypatch):
    run = fake_run(tmp_path)
    order = []
    real_fsync = os.fsync

    def fsync(fd):
        order.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real_fsync(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    rd = RunDir(run)
    try:
        rd(ev.EpochFinished(phase="teacher", rung=0, epoch=1, epochs=1, train_loss=1.0, train_acc=0.5, lr=0.1,
                            seconds=0.1))
        assert "events.jsonl" not in order  # epoch ticks are not made durable one by one
        rd(ev.RungFinished(phase="teacher", rung=0, record={"rung": 0, "val_acc": 0.5}))
    finally:
        rd.close()
    assert "events.jsonl" in order
    summary_write = next(i for i, n in enumerate(order) if n.startswith(".summary.json"))
    assert order.index("events.jsonl") < summary_write, order


# ---------------------------------------------------------------- resume never shortens history

def interrupted_run(out: Path, after: tuple[str, int]) -> Path:
    """A real tiny run stopped (resumably) once the rung `after` finished; returns its directory."""
    prof = profile_mod.load(None, SMALL)
    session = RunSession.new(prof, str(out))

    def stop_there(e):
        if isinstance(e, ev.RungFinished) and (e.phase, e.rung) == after:
            session.stop_after_rung.set()
    session.sink.sinks.append(stop_there)
    assert session.run() == "interrupted"
    return session.path


@pytest.fixture(scope="module")
def mid_student(tmp_path_factory):
    """Started from a relative --out in one folder: the teacher ladder done, student rung 0 done. Built once
    per test run (shared_runs.py), not once per xdist worker; read-only (every test takes a copy)."""
    def build(base: Path) -> None:
        old = os.getcwd()
        os.chdir(base)
        try:
            interrupted_run(Path("runs"), ("student", 0))
        finally:
            os.chdir(old)
    (run,) = (build_once(tmp_path_factory, "hostile-mid-student", build) / "runs").iterdir()
    return run


def copy_run(run: Path, where: Path) -> Path:
    shutil.copytree(run, where)
    return where


def cut_events(run: Path, keep) -> None:
    """Keep only the event lines for which keep(event dict) is true, in order, up to the first false one."""
    lines = (run / "events.jsonl").read_text().splitlines(keepends=True)
    kept = []
    for line in lines:
        if not keep(json.loads(line)):
            break
        kept.append(line)
    (run / "events.jsonl").write_text("".join(kept))


def test_a_log_shorter_than_the_state_is_refused_and_nothing_changes(mid_student, tmp_path):
    run = copy_run(mid_student, tmp_path / "run")
    cut_events(run, lambda e: not (e["type"] == "phase_started" and e.get("phase") == "student"))
    before = snapshot_tree(run)
    one_line_exit_2(invoke("resume", str(run), "--no-tui"), "lacks", "student rung")
    assert snapshot_tree(run) == before


def test_a_log_shorter_than_the_summary_is_refused(mid_student, tmp_path):
    run = copy_run(mid_student, tmp_path / "run")
    (run / "state" / "latest.pt").unlink()
    cut_events(run, lambda e: e["type"] != "rung_finished")  # no rung left in the log; summary.json has them
    before = snapshot_tree(run)
    one_line_exit_2(invoke("resume", str(run), "--no-tui"), "summary.json")
    assert snapshot_tree(run) == before


def test_a_missing_state_over_finished_rungs_is_refused_not_restarted(mid_student, tmp_path):
    run = copy_run(mid_student, tmp_path / "run")
    (run / "state" / "latest.pt").unlink()
    before = snapshot_tree(run)
    one_line_exit_2(invoke("resume", str(run), "--no-tui"), "state/latest.pt", "missing")
    assert snapshot_tree(run) == before


@pytest.mark.parametrize("edit,keys", [("run.seed", "run.seed"), ("prune.rungs", "prune.rungs")])
def test_an_edited_profile_is_refused_naming_the_changed_keys(mid_student, tmp_path, edit, keys):
    run = copy_run(mid_student, tmp_path / "run")
    prof = profile_mod.load(str(run / "profile.toml"))
    section, key = edit.split(".")
    prof = prof.replace(section, **{key: getattr(getattr(prof, section), key) + 1})
    (run / "profile.toml").write_text(prof.to_toml())
    before = snapshot_tree(run)
    one_line_exit_2(invoke("resume", str(run), "--no-tui"), "changed since the run started", keys)
    assert snapshot_tree(run) == before


def test_a_moved_student_phase_run_resumes_from_another_folder_with_its_own_teacher(mid_student, tmp_path,
                                                                                     monkeypatch, keep_signal_handlers):
    """Started from a relative --out elsewhere, moved, resumed from a third folder: the student's teacher is
    read from the run's own checkpoints, and the run ends as the uninterrupted one does."""
    run = copy_run(mid_student, tmp_path / "moved" / "run")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = invoke("resume", str(run), "--no-tui")
    assert result.exit_code == 0, (result.stderr, result.exception)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    student = next(p for p in summary["phases"] if p["name"] == "student")
    assert Path(student["teacher"]["path"]).parent == run / "checkpoints"
    full = interrupted_or_full(tmp_path / "full")
    assert metrics(summary)["phases"] == metrics(full)["phases"]


def interrupted_or_full(out: Path) -> dict:
    prof = profile_mod.load(None, SMALL)
    session = RunSession.new(prof, str(out))
    assert session.run() == "completed"
    return json.loads((session.path / "summary.json").read_text())


# ---------------------------------------------------------------- hangs

def test_a_fifo_as_profile_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "p.toml"
    os.mkfifo(fifo)
    writer = feed_fifo_later(fifo, b"[run\n")
    result = invoke("run", str(fifo), "--no-tui", "--out", str(tmp_path / "out"))
    writer.stop.set()
    one_line_exit_2(result, "FIFO")
    assert not (tmp_path / "out").exists()


def test_a_fifo_as_teacher_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "teacher.pt"
    os.mkfifo(fifo)
    writer = feed_fifo_later(fifo, b"not a checkpoint")
    result = invoke("run", "--no-tui", "--out", str(tmp_path / "out"), *sets(f"distill.teacher='{fifo}'", *SMALL))
    writer.stop.set()
    one_line_exit_2(result, "FIFO")
    assert not (tmp_path / "out").exists()


def test_a_huge_profile_is_refused_without_reading_it_whole(tmp_path):
    big = tmp_path / "big.toml"
    with open(big, "wb") as f:  # valid TOML: a tiny run (so that, read whole, it would end soon), then 2 MB of comments
        f.write(b"[prune]\nrungs = 1\n[train]\ndense_epochs = 1\nepochs = 1\n[distill]\nenabled = false\n")
        f.write(b"# padding\n" * 200_000)
    one_line_exit_2(invoke("run", str(big), "--no-tui", "--out", str(tmp_path / "out")), "bytes")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key", ["train.epochs=1000000000", "train.dense_epochs=1000000000",
                                 "prune.rewind_epoch=1000000000", "data.synthetic_size=1000000000",
                                 "data.val_size=1000000000000", "distill.temperature=1e300", "train.lr=1e300",
                                 "stop.patience=1000000000", f"model.hidden=[{', '.join(['8'] * 65)}]"])
def test_numeric_keys_are_bounded(key):
    """Checked on the profile itself: without the bound, the same command would start a run of a billion
    epochs (the hang it guards against) instead of failing. test_bad_input holds the CLI's one line."""
    with pytest.raises(profile_mod.ProfileError, match=key.split("=")[0].replace(".", r"\.")):
        profile_mod.load(None, [key])


def test_compare_tui_without_a_terminal_refuses_instead_of_spinning(tmp_path, monkeypatch):
    import dsd_tui.tui.screens.compare as compare_screen

    def no_app(*_a, **_k):  # what spun at 100% CPU without a terminal; here it fails the test instead
        raise AssertionError("compare --tui started the full-screen app without a terminal")
    monkeypatch.setattr(compare_screen, "compare_app", no_app)
    run = fake_run(tmp_path)
    one_line_exit_2(invoke("compare", str(run), "--tui"), "needs a terminal")


def watch_header(run: Path, setup) -> tuple[str | None, str]:
    """The real watch app on `run`: `setup(screen)` runs once it is up, then the liveness check; returns
    what the screen says (its `gone` state and the header line)."""
    from tui_support import screen_text

    from dsd_tui.tui.app import watch_monitor
    app = watch_monitor(run)

    from tui_support import wait_for

    async def main():
        async with app.run_test(size=(100, 24)) as pilot:
            screen = app.screen
            assert await wait_for(pilot, lambda: "quickstart" in screen_text(app).splitlines()[0], 60)  # drawn
            setup(screen)
            screen.check_alive()
            # the header says what check_alive found (60 s only guards against a hang)
            await wait_for(pilot, lambda: (screen.gone or "ETA") in screen_text(app).splitlines()[0], 60)
            return screen.gone, screen_text(app).splitlines()[0]
    return asyncio.run(main())


def test_watch_shows_a_killed_run_as_not_running(tmp_path):
    run = fake_run(tmp_path)  # "running", and no process holds it: what a SIGKILL leaves
    gone, header = watch_header(run, lambda s: None)
    assert gone == "not running" and "not running" in header and "ETA" not in header


def test_watch_shows_a_run_held_by_its_process_as_live(tmp_path):
    run = fake_run(tmp_path)
    holder = RunDir(run)  # the lock a running process holds
    try:
        gone, header = watch_header(run, lambda s: None)
    finally:
        holder.close()
    assert gone is None and "ETA" in header


def test_watch_shows_a_deleted_run_as_deleted(tmp_path):
    run = fake_run(tmp_path)
    gone, header = watch_header(run, lambda s: (run / "events.jsonl").unlink())
    assert gone == "log deleted" and "log deleted" in header


# ---------------------------------------------------------------- one line instead of a traceback

def test_unknown_users_home_is_one_line_everywhere(tmp_path, cifar10_dir):
    run = fake_run(tmp_path)
    out = ["--no-tui", "--out", str(tmp_path / "out")]
    cases = [
        (["run", f"{NO_USER}/p.toml", *out], "profile"),
        (["run", *out, *sets("data.dataset='cifar10'", f"data.path='{NO_USER}/data'", *SMALL)], "data.path"),
        (["run", *out, *sets(f"distill.teacher='{NO_USER}/t.pt'", *SMALL)], "distill.teacher"),
        (["run", "--no-tui", "--out", f"{NO_USER}/runs", *sets(*SMALL)], "--out"),
        (["export", str(run), "-o", f"{NO_USER}/s.json"], "-o"),
    ]
    before = snapshot_tree(tmp_path)
    for args, where in cases:
        one_line_exit_2(invoke(*args), where, "no such user")
    assert snapshot_tree(tmp_path) == before and not (tmp_path / "out").exists()
    assert not Path(NO_USER).exists()


def test_a_device_torch_cannot_use_here_is_one_line(tmp_path):
    if torch.backends.mps.is_available():
        pytest.skip("this machine has MPS: the device is usable")
    one_line_exit_2(invoke("run", "--no-tui", "--out", str(tmp_path / "out"), *sets("run.device='mps'", *SMALL)),
                    "run.device")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key", ["model.arch='vgg'", "distill.arch='resnet18'"])
def test_an_architecture_that_cannot_take_the_data_is_refused_before_the_run_dir(tmp_path, key):
    one_line_exit_2(invoke("run", "--no-tui", "--out", str(tmp_path / "out"), *sets(key, *SMALL)),
                    key.split("=")[0], "cannot take")
    assert not (tmp_path / "out").exists()


INCOMPLETE = ['{"type": "rung_finished", "time": 1.0}',
              '{"type": "rung_finished", "time": 1.0, "phase": "teacher", "rung": 0, "record": 5}',
              '{"type": "phase_started", "time": 1.0, "phase": "teacher"}',
              '{"type": "run_finished", "time": "soon", "status": "completed", "seconds": 1}']


@pytest.mark.parametrize("line", INCOMPLETE)
@pytest.mark.parametrize("command", ["export", "compare", "plot", "resume", "watch"])
def test_an_incomplete_event_line_is_one_line_naming_it(tmp_path, command, line):
    run = fake_run(tmp_path)
    with open(run / "events.jsonl", "a") as f:
        f.write(line + "\n")
    args = {"plot": ["plot", str(run), "-o", str(tmp_path / "f.png")], "resume": ["resume", str(run), "--no-tui"]}
    before = snapshot_tree(tmp_path)
    one_line_exit_2(invoke(*args.get(command, [command, str(run)])), "events.jsonl", "line 2")
    assert snapshot_tree(tmp_path) == before


@pytest.mark.parametrize("index", [{"ladders": 5}, {"ladders": [7]}, {"ladders": [{"name": "../x"}]},
                                   {"ladders": [{"name": "a", "settings": {}, "status": "done"}], "grid": []},
                                   {"ladders": [{"name": "a", "settings": {}, "status": "done"}]}])  # no seed
@pytest.mark.parametrize("command", ["aggregate", "compare", "plot", "watch", "watch --once"])
def test_a_malformed_sweep_index_is_one_line(tmp_path, command, index, monkeypatch):
    import dsd_tui.tui.screens.sweep as sweep_screen

    def no_app(*_a, **_k):  # without a terminal the app would spin: fail the test instead of hanging it
        raise AssertionError("watch started the sweep table on a damaged sweep.json")
    monkeypatch.setattr(sweep_screen, "watch_sweep", no_app)
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    full = {"schema": "dsd_tui.sweep/1", "grid": {}, "seeds": [0], **index}
    (sweep / "sweep.json").write_text(json.dumps(full))
    args = (["plot", str(sweep), "-o", str(tmp_path / "f.png")] if command == "plot"
            else ["watch", str(sweep), "--once"] if command == "watch --once" else [command, str(sweep)])
    one_line_exit_2(invoke(*args), "sweep.json")


def test_compare_does_not_suggest_the_metric_it_rejected(tmp_path):
    from tui_support import recorded_run
    empty = one_line_exit_2(invoke("compare", str(fake_run(tmp_path)), "--metric", "test_acc"))
    assert "no run here finished a rung" in empty and "try" not in empty  # no metric it could suggest
    (tmp_path / "rec").mkdir()
    line = one_line_exit_2(invoke("compare", str(recorded_run(tmp_path / "rec")), "--metric", "gpu_peak_mb"))
    assert "try" in line and "gpu_peak_mb" not in line.split("try", 1)[1] and "test_acc" in line  # what it has


def test_a_failed_first_write_does_not_claim_a_previous_version(tmp_path, monkeypatch):
    import errno

    from dsd_tui.record.rundir import WriteFailed
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    rundir = RunDir(run)

    def disk_full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "replace", disk_full)
    try:
        with pytest.raises(WriteFailed, match="nothing was written") as failed:
            rundir.save_checkpoint("teacher", 0, {"rung": 0})
    finally:
        rundir.close()
    assert "previous version" not in str(failed.value)


# ---------------------------------------------------------------- an empty event log (left from the round)

EMPTY_LOGS = {"0 bytes": b"", "blank lines": b"  \n\n\t\n", "a torn first line": b'{"type": "run_sta'}
EMPTY_READERS = {
    "export": lambda run, tmp: ["export", str(run)],
    "export csv": lambda run, tmp: ["export", str(run), "--format", "csv"],
    "export layers-csv": lambda run, tmp: ["export", str(run), "--format", "layers-csv", "-o", str(tmp / "l.csv")],
    "export tensorboard": lambda run, tmp: ["export", str(run), "--format", "tensorboard", "-o", str(tmp / "tb")],
    "export wandb": lambda run, tmp: ["export", str(run), "--format", "wandb", "-o", str(tmp / "wb")],
    "compare": lambda run, tmp: ["compare", str(run)],
    "plot": lambda run, tmp: ["plot", str(run), "-o", str(tmp / "f.png")],
    "resume": lambda run, tmp: ["resume", str(run), "--no-tui"],
    "watch": lambda run, tmp: ["watch", str(run)],
    "watch --once": lambda run, tmp: ["watch", str(run), "--once"],
    "watch --no-tui": lambda run, tmp: ["watch", str(run), "--no-tui"],
}


@pytest.mark.parametrize("content", EMPTY_LOGS.values(), ids=EMPTY_LOGS.keys())
@pytest.mark.parametrize("command", EMPTY_READERS)
def test_an_empty_event_log_is_one_line_for_every_reader(tmp_path, command, content):
    """What a run killed between creating its folder and its first event leaves: not a `running` run with no
    phases (nor a resume that starts it over unchecked), but one line saying so; nothing is written."""
    run = fake_run(tmp_path)
    (run / "events.jsonl").write_bytes(content)
    before = snapshot_tree(tmp_path)
    one_line_exit_2(invoke(*EMPTY_READERS[command](run, tmp_path)), "events.jsonl", "event log is empty",
                    "never started", f"dsd-tui run {run / 'profile.toml'}")
    assert snapshot_tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [run.name]  # no -o file or folder made either


def test_an_empty_log_is_refused_by_the_python_api_too(tmp_path):
    import dsd_tui
    run = fake_run(tmp_path)
    (run / "events.jsonl").write_bytes(b"")
    with pytest.raises(dsd_tui.UsageError, match="event log is empty"):
        dsd_tui.load_summary(run)


def test_an_empty_log_held_by_its_process_is_a_starting_run(tmp_path):
    """Control: the log is opened (and locked) before the first event is written, so a run that is starting has
    an empty log for a moment; read then, it is what it is: running, no phases yet."""
    run = fake_run(tmp_path)
    (run / "events.jsonl").write_bytes(b"")
    holder = RunDir(run)
    try:
        result = invoke("export", str(run))
    finally:
        holder.close()
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "running" and summary["phases"] == []


def test_a_missing_event_log_says_so(tmp_path):
    run = fake_run(tmp_path)
    (run / "events.jsonl").unlink()
    for args in (["export", str(run)], ["resume", str(run), "--no-tui"], ["watch", str(run), "--once"]):
        one_line_exit_2(invoke(*args), "no events.jsonl", "never started")


def test_a_sweep_ladder_with_an_empty_log_is_left_out_and_restarted(tmp_path):
    """In a sweep, a ladder killed before its first event is one that never started: compare and aggregate
    leave it out (as a ladder not started yet), and the next `dsd-tui sweep` restarts it."""
    from dsd_tui.study.sweep import next_step
    from dsd_tui.study.sweep_index import sweep_runs
    sweep = tmp_path / "sweep"
    done = fake_run(sweep, finished=True).rename(sweep / "a")
    empty = fake_run(tmp_path / "b").rename(sweep / "b")
    (empty / "events.jsonl").write_bytes(b"")
    ladders = [{"name": n, "settings": {"run.seed": i}, "seed": i, "status": "running"} for i, n in enumerate("ab")]
    (sweep / "sweep.json").write_text(json.dumps({"schema": "dsd_tui.sweep/1", "grid": {"run.seed": [0, 1]},
                                                  "seeds": [0, 1], "ladders": ladders}))
    assert [r.path.name for r in sweep_runs(sweep)] == [done.name]
    assert next_step(empty) == "restart" and next_step(done) == "skip"


# ---------------------------------------------------------------- a non-finite teacher (left from the round)

@pytest.mark.parametrize("poison", [float("nan"), float("inf")])
def test_a_non_finite_teacher_is_refused_before_the_run_dir(tmp_path, poison):
    """Accepted, it made the student's loss NaN at its first batch and the divergence message blamed train.lr."""
    from fake_files import checkpoint_bytes

    from dsd_tui.core.models import MLP
    model = MLP(64, [32, 32], 10)
    name = next(k for k in model.state_dict() if k.endswith("weight") and k != next(iter(model.state_dict())))
    with torch.no_grad():
        model.state_dict()[name].view(-1)[3] = poison
    teacher = tmp_path / "teacher.pt"
    teacher.write_bytes(checkpoint_bytes(model, arch="mlp"))
    line = one_line_exit_2(invoke("run", "--no-tui", "--out", str(tmp_path / "out"),
                                  *sets(f"distill.teacher='{teacher}'", *SMALL)),
                           "distill.teacher", str(teacher), repr(name), "non-finite")
    assert "train.lr" not in line
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- study files and the other files read whole

STUDY = b"profile = 'quickstart'\nseeds = [0]\n[grid.prune]\nrate = [0.2, 0.3]\n"


def test_a_fifo_as_study_file_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "study.toml"
    os.mkfifo(fifo)
    writer = feed_fifo_later(fifo, STUDY)
    result = invoke("sweep", str(fifo), "--dry-run", "--out", str(tmp_path / "sweep"))
    writer.stop.set()
    one_line_exit_2(result, "study", "FIFO", str(fifo))
    assert not (tmp_path / "sweep").exists()


def test_a_huge_study_file_is_refused_without_reading_it_whole(tmp_path):
    big = tmp_path / "study.toml"
    big.write_bytes(STUDY + b"# padding\n" * 200_000)  # a valid study, 2 MB
    one_line_exit_2(invoke("sweep", str(big), "--dry-run", "--out", str(tmp_path / "sweep")), "study", "bytes",
                    str(big))
    assert not (tmp_path / "sweep").exists()


def a_sweep(tmp_path: Path, ladder: str = "a") -> Path:
    sweep = tmp_path / "sweep"
    fake_run(sweep, finished=True).rename(sweep / ladder)
    (sweep / "sweep.json").write_text(json.dumps({"schema": "dsd_tui.sweep/1", "grid": {}, "seeds": [0],
                                                  "ladders": [{"name": ladder, "settings": {}, "seed": 0,
                                                                              "status": "done"}]}))
    return sweep


def test_a_fifo_as_sweep_index_is_refused_without_blocking(tmp_path):
    sweep = a_sweep(tmp_path)
    (sweep / "sweep.json").unlink()
    os.mkfifo(sweep / "sweep.json")
    writer = feed_fifo_later(sweep / "sweep.json", b"{}")
    result = invoke("aggregate", str(sweep), "--out", str(tmp_path / "agg"))
    writer.stop.set()
    one_line_exit_2(result, "FIFO", "sweep.json")
    assert not (tmp_path / "agg").exists()


@pytest.mark.parametrize("command", ["aggregate", "compare", "plot", "watch --once"])
def test_a_huge_sweep_index_is_refused_without_reading_it_whole(tmp_path, command):
    from dsd_tui.paths import MAX_RECORD_BYTES
    sweep = a_sweep(tmp_path)
    with open(sweep / "sweep.json", "r+b") as f:  # sparse: its size, without the disk space or the writing
        f.truncate(MAX_RECORD_BYTES + 1)
    args = {"plot": ["plot", str(sweep), "-o", str(tmp_path / "f.png")],
            "watch --once": ["watch", str(sweep), "--once"]}
    one_line_exit_2(invoke(*args.get(command, [command, str(sweep)])), "sweep.json", "bytes")


def test_a_fifo_as_summary_is_refused_by_resume_without_blocking(tmp_path):
    run = fake_run(tmp_path)
    os.mkfifo(run / "summary.json")
    writer = feed_fifo_later(run / "summary.json", b"{}")
    result = invoke("resume", str(run), "--no-tui")
    writer.stop.set()
    one_line_exit_2(result, "FIFO", "summary.json")
    assert stat.S_ISFIFO(os.lstat(run / "summary.json").st_mode)


def test_the_sweep_table_skips_a_fifo_summary_without_blocking(tmp_path):
    sweep = a_sweep(tmp_path)
    os.mkfifo(sweep / "a" / "summary.json")
    writer = feed_fifo_later(sweep / "a" / "summary.json", b"{}")
    result = invoke("watch", str(sweep), "--once")
    assert writer.is_alive(), "the table waited for the FIFO's writer"  # it never opened the FIFO
    writer.stop.set()
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "a" in result.stdout
