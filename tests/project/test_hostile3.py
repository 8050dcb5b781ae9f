"""The third hostile round (issue 27): concurrency, files that do not know their run, unbounded reads, closed
terminals, the Python API. Each defect class is held by tests that fail without its fix.
Table and verdicts: docs/reliability.md, "Third hostile round".
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from relhelp import one_line_exit_2, snapshot_tree

from dsd_tui.cli import main
from dsd_tui.record.rundir import RunDir, atomic_write_text, is_own_temp
from dsd_tui.runner import RunSession
from dsd_tui.study import study_figure, study_file
from dsd_tui.study import sweep as sweep_mod
from dsd_tui.study.sweep_lock import SweepBusy, SweepLock

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

ONE = ["prune.rungs=1", "train.dense_epochs=1", "train.epochs=1", "model.hidden=[16, 16]", "entropy.enabled=false",
       "distill.enabled=false"]
GRID = "prune.criterion=magnitude"


def one_ladder_sweep(out: Path):
    """The smallest sweep there is: one grid value, one seed, one short ladder (not run yet)."""
    plan = sweep_mod.plan_sweep(None, ONE, [GRID], "0", str(out))
    sweep_mod.prepare(*plan)
    return plan[4][0]


def interrupted_ladder(out: Path):
    """The one-ladder sweep's ladder (its plan entry), run until its first rung finished and then stopped, as a
    driver that went away leaves it (resumable)."""
    ladder = one_ladder_sweep(out)
    session = RunSession.at(out / ladder.name, ladder.profile)
    session.stop_after_rung.set()
    assert session.run() == "interrupted"
    return ladder


# ---------------------------------------------------------------- 1. data loss: one owner per folder
# (a second driver refused, and the lock of a running driver: tests/study/test_sweep_driver.py, on a fake Ray)

def test_the_sweep_lock_is_exclusive_and_goes_away_with_its_holder(tmp_path):
    with SweepLock(tmp_path):
        with pytest.raises(SweepBusy):
            SweepLock(tmp_path).acquire()
    with SweepLock(tmp_path):  # released: the next driver gets it
        pass


def test_a_sweep_rerun_resumes_a_ladder_with_finished_rungs_and_no_state_and_deletes_nothing(tmp_path):
    out = tmp_path / "sweep"
    ladder = interrupted_ladder(out)
    path = out / ladder.name
    (path / "state" / "latest.pt").unlink()  # lost: resume refuses, so must the sweep
    before = snapshot_tree(path)
    assert sweep_mod.next_step(path) == "resume"  # was "restart": rmtree of the finished rung
    result = sweep_mod.run_ladder(str(path), ladder.profile, resume=True)  # what the Ray task runs
    assert result["status"] == "failed" and "missing, but the run has finished work" in result["error"]
    assert snapshot_tree(path) == before


def test_a_ladder_killed_before_its_first_event_is_cleared_only_when_it_holds_nothing_else(tmp_path):
    out = tmp_path / "sweep"
    ladder = one_ladder_sweep(out)
    path = out / ladder.name
    for sub in ("checkpoints", "state"):
        (path / sub).mkdir(parents=True)
    (path / "profile.toml").write_text(ladder.profile.to_toml())
    (path / "events.jsonl").write_bytes(b"")
    assert sweep_mod.next_step(path) == "restart"
    (path / "checkpoints" / "mine.txt").write_text("a user's file")
    assert sweep_mod.next_step(path) == "resume"  # resume's rules: one line, nothing deleted
    result = sweep_mod.run_ladder(str(path), ladder.profile, resume=True)
    assert result["status"] == "failed" and "event log is empty" in result["error"]
    assert (path / "checkpoints" / "mine.txt").read_text() == "a user's file"
    (path / "checkpoints" / "mine.txt").unlink()
    (path / "state" / ".latest.pt.dsd-tui-abcd1234.tmp").write_bytes(b"torn")  # a killed write of its own
    assert sweep_mod.next_step(path) == "restart"
    sweep_mod.clear_fresh_ladder(path)
    assert not path.exists()


def test_a_ladder_whose_log_another_process_holds_is_left_alone(tmp_path):
    out = tmp_path / "sweep"
    ladder = one_ladder_sweep(out)
    path = out / ladder.name
    (path / "profile.toml").parent.mkdir(parents=True)
    (path / "profile.toml").write_text(ladder.profile.to_toml())
    held = RunDir(path)  # a run starting: its log is open and locked, still empty
    try:
        assert sweep_mod.next_step(path) == "busy"
    finally:
        held.close()
    assert sweep_mod.next_step(path) == "restart"


def test_resume_cleans_only_its_own_temporary_files(tmp_path):
    from fake_files import fake_run
    run = fake_run(tmp_path)
    notes = [run / ".notes.tmp", run / "checkpoints" / ".notes.tmp", run / "state" / ".my.draft.tmp",
             run / ".summary.json.abcd1234.tmp"]  # the last: an old-style name, not ours by the rule
    for n in notes:
        n.write_text("the user's")
    ours = [run / ".summary.json.dsd-tui-abcd_123.tmp", run / "state" / ".latest.pt.dsd-tui-zz99zz99.tmp",
            run / "exports" / ".export.dsd-tui-k1ll3d00.tmp"]  # the last: a model export killed mid-write
    (run / "exports").mkdir()
    for o in ours:
        o.write_bytes(b"torn")
    RunDir(run).close()  # what run, resume and every sweep ladder open
    assert all(n.read_text() == "the user's" for n in notes)
    assert not any(o.exists() for o in ours)
    assert is_own_temp(".summary.json.dsd-tui-abcd_123.tmp") and not is_own_temp(".notes.tmp")


def test_the_atomic_writer_names_its_temporary_files_by_the_rule(tmp_path, monkeypatch):
    import os as os_mod
    seen = []
    real = os_mod.replace
    monkeypatch.setattr(os_mod, "replace", lambda a, b: (seen.append(Path(a).name), real(a, b)))
    atomic_write_text(tmp_path / "summary.json", "{}")
    assert len(seen) == 1 and is_own_temp(seen[0]), seen


def test_the_monitors_model_export_names_its_temporary_file_by_the_rule(tmp_path, monkeypatch):
    """The `e` menu's export (export/run_exports.py) writes a temporary file, then links it into place: a
    kill in between must leave a name that the next resume cleans."""
    import os as os_mod

    import dsd_tui
    from dsd_tui.export.run_exports import export_rung
    from dsd_tui.record.rundir import rebuild_summary
    run = Path(dsd_tui.run(None, ["prune.rungs=1", "train.epochs=1", "train.dense_epochs=1", "distill.enabled=false",
                                  "data.train_size=200", "data.val_size=50"], out=tmp_path)["run_dir"])
    linked = []
    real = os_mod.link
    monkeypatch.setattr(os_mod, "link", lambda a, b: (linked.append(Path(a).name), real(a, b)))
    export_rung(run, rebuild_summary(run), "teacher", 0)
    assert linked and is_own_temp(linked[0]), linked


STUDY = """
description = "one-ladder study"
profile = "quickstart"
seeds = [0]
[set.prune]
rungs = 1
[set.train]
dense_epochs = 1
epochs = 1
[set.model]
hidden = [16, 16]
[set.entropy]
enabled = false
[grid.prune]
criterion = ["magnitude"]
"""


def test_plot_of_a_study_never_replaces_a_file_the_user_did_not_name(tmp_path):
    pytest.importorskip("ray")
    pytest.importorskip("matplotlib")
    path = tmp_path / "one.toml"
    path.write_text(STUDY)
    out = tmp_path / "sweep"
    study = study_file.load(str(path))
    plan = sweep_mod.plan_sweep(study.profile, study.overrides, study.grid, "0", str(out))
    sweep_mod.prepare(*plan)
    for ladder in plan[4]:
        assert RunSession.at(out / ladder.name, ladder.profile).run() == "completed"
    assert CliRunner().invoke(main, ["sweep", str(path), "--out", str(out), "--table-every", "0"]).exit_code == 0
    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "report.md").write_text("my report")
    (rep / "report.table.md").write_text("my table")
    one_line_exit_2(CliRunner().invoke(main, ["plot", str(out), "-o", str(rep / "report.png")]),
                    "report.table.md", "not written by dsd-tui")
    assert not (rep / "report.png").exists() and (rep / "report.table.md").read_text() == "my table"
    (rep / "report.table.md").unlink()
    for _ in range(2):  # the second time, the table is ours and is replaced
        drawn = CliRunner().invoke(main, ["plot", str(out), "-o", str(rep / "report.png")])
        assert drawn.exit_code == 0, drawn.output
    assert (rep / "report.md").read_text() == "my report"
    assert (rep / "report.table.md").read_text().startswith(study_figure.TABLE_MARK)


# ---------------------------------------------------------------- 2. silent wrong answers: a run's files know their run

def interrupted_run(out: Path, *overrides: str, when=None) -> Path:
    """A short run stopped resumably: after its first rung, or (`when(event)`) at the batch after that event."""
    from dsd_tui import profile as profile_mod
    session = RunSession.new(profile_mod.load(None, [*ONE, *overrides]), str(out))
    if when is None:
        session.stop_after_rung.set()
    else:
        session.sink.sinks.append(lambda e: session.stop_now.set() if when(e) else None)
    assert session.run() == "interrupted"
    return session.path


def test_a_state_file_from_another_run_is_refused_naming_both(tmp_path):
    a = interrupted_run(tmp_path / "a")
    b = interrupted_run(tmp_path / "b", "run.seed=1")
    (a / "state" / "latest.pt").write_bytes((b / "state" / "latest.pt").read_bytes())
    before = snapshot_tree(a)
    line = one_line_exit_2(CliRunner().invoke(main, ["resume", str(a)]), "belongs to another run",
                           f"{a}/state/latest.pt", f"{a}/events.jsonl")
    assert "run id" in line
    assert snapshot_tree(a) == before


def test_the_same_profile_started_twice_is_two_runs(tmp_path):
    a = interrupted_run(tmp_path / "a")
    b = interrupted_run(tmp_path / "b")  # same profile, same seed: only the start time differs
    (a / "state" / "latest.pt").write_bytes((b / "state" / "latest.pt").read_bytes())
    one_line_exit_2(CliRunner().invoke(main, ["resume", str(a)]), "belongs to another run")


def test_state_and_checkpoints_carry_the_run_identity_from_the_log(tmp_path):
    import torch

    from dsd_tui.record import run_identity
    from dsd_tui.record.rundir import read_events
    a = interrupted_run(tmp_path / "a")
    want = run_identity.id_from_log(read_events(a / "events.jsonl"))
    state = torch.load(a / "state" / "latest.pt", weights_only=True)
    ck = torch.load(a / "checkpoints" / "teacher-rung00.pt", weights_only=True)
    assert state["run_id"] == want and ck["run_id"] == want and (ck["phase"], ck["rung"]) == ("teacher", 0)
    assert CliRunner().invoke(main, ["resume", str(a)]).exit_code == 0  # its own files resume


def test_an_old_state_without_identity_still_resumes(tmp_path):
    import torch
    a = interrupted_run(tmp_path / "a")
    state = torch.load(a / "state" / "latest.pt", weights_only=True)
    del state["run_id"]
    torch.save(state, a / "state" / "latest.pt")
    result = CliRunner().invoke(main, ["resume", str(a)])
    assert result.exit_code == 0, result.output


def test_a_swapped_teacher_checkpoint_is_refused_when_the_student_resumes(tmp_path):
    import shutil

    import torch
    a = interrupted_run(tmp_path / "a", "distill.enabled=true", "distill.teacher=best",
                        when=lambda e: e.type == "rung_finished" and e.phase == "student")
    state = torch.load(a / "state" / "latest.pt", weights_only=True)
    assert state["cursor"]["phase"] == "student"
    chosen = a / state["teacher_path"]
    other = next(p for p in sorted((a / "checkpoints").glob("teacher-rung*.pt")) if p != chosen)
    shutil.copyfile(other, chosen)  # another rung's weights under the chosen rung's name
    before = snapshot_tree(a)
    one_line_exit_2(CliRunner().invoke(main, ["resume", str(a)]), chosen.name, "swapped")
    assert snapshot_tree(a) == before
    foreign = interrupted_run(tmp_path / "b", "distill.enabled=true", "distill.teacher=best",
                              when=lambda e: e.type == "rung_finished" and e.phase == "student")
    shutil.copyfile(foreign / "checkpoints" / chosen.name, chosen)  # the same rung of another run
    one_line_exit_2(CliRunner().invoke(main, ["resume", str(a)]), "a checkpoint of another run")


def test_data_files_swapped_for_others_of_the_same_shape_are_refused_on_resume(tmp_path):
    from conftest import write_cifar
    root = write_cifar(tmp_path / "cifar", "cifar10", n_train=60, n_test=20, seed=0)
    cifar = [f"data.path={root}", "data.dataset=cifar10", "data.val_size=10", "data.train_size=0",
             "model.arch=vgg", "model.depth=1", "model.width_exp=2"]
    a = interrupted_run(tmp_path / "runs", *cifar)
    write_cifar(tmp_path / "cifar", "cifar10", n_train=60, n_test=20, seed=1)  # same shape, other images
    before = snapshot_tree(a)
    one_line_exit_2(CliRunner().invoke(main, ["resume", str(a)]), "differs from the data the run started with",
                    "data.path", f"{a}/events.jsonl")
    assert snapshot_tree(a) == before
    write_cifar(tmp_path / "cifar", "cifar10", n_train=60, n_test=20, seed=0)  # put back: it resumes
    result = CliRunner().invoke(main, ["resume", str(a)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", ["compare", "aggregate-like", "plot"])
def test_a_ladder_named_twice_is_counted_once(tmp_path, command):
    from relhelp import headless_run

    from dsd_tui.study import sweep_index as idx
    run = headless_run(tmp_path / "runs", *ONE)
    link = tmp_path / "link"
    link.symlink_to(run)
    runs = idx.collect([str(run), str(run), str(link)])
    assert [len(g.runs) for g in idx.group(runs)] == [1]
    if command == "compare":
        result = CliRunner().invoke(main, ["compare", "--json", str(run), str(run), str(link)])
        assert result.exit_code == 0, result.output
        assert '"n": 2' not in result.output and result.output.count(run.name) >= 1
        out = tmp_path / "sweep"
        ladder = one_ladder_sweep(out)
        assert RunSession.at(out / ladder.name, ladder.profile).run() == "completed"
        twice = idx.group(idx.collect([str(out), str(out)]))
        assert [len(g.runs) for g in twice] == [1]
    elif command == "plot":
        pytest.importorskip("matplotlib")
        result = CliRunner().invoke(main, ["plot", str(run), str(link), "-o", str(tmp_path / "f.png")])
        assert result.exit_code == 0, result.output
    else:
        from dsd_tui.study import aggregate as agg_mod
        assert len(idx.group(runs)) == 1 and len(idx.group(runs)[0].runs) == 1
        agg_mod.aggregate(idx.group(runs))


# ---------------------------------------------------------------- 3. runs in threads; 7. the API's argument types

def test_a_second_concurrent_api_run_in_one_process_is_refused(tmp_path):
    import threading

    import dsd_tui
    from dsd_tui.errors import UsageError
    started, release = threading.Event(), threading.Event()
    results = {}

    def first_on_event(e):
        if e.type == "rung_started":
            started.set()
            release.wait(60)

    def first():
        results["first"] = dsd_tui.run(None, ONE, out=tmp_path / "a", on_event=first_on_event)

    t = threading.Thread(target=first, name="first-run")
    t.start()
    assert started.wait(60)
    try:
        with pytest.raises(UsageError, match="another dsd_tui run is going in this process .*first-run"):
            dsd_tui.run(None, ONE, out=tmp_path / "b")
        with pytest.raises(UsageError, match="another dsd_tui run is going"):
            dsd_tui.resume(tmp_path / "nowhere")
    finally:
        release.set()
        t.join(120)
    assert results["first"]["status"] == "completed"
    assert not (tmp_path / "b").exists(), "the refused run wrote nothing"
    assert dsd_tui.run(None, ONE, out=tmp_path / "b")["status"] == "completed"  # once the first has returned


@pytest.mark.parametrize("kwargs, words", [
    ({"overrides": "prune.rungs=1"}, "overrides must be a list"),
    ({"overrides": [b"prune.rungs=1"]}, "overrides must be a list"),
    ({"overrides": 5}, "overrides must be a list"),
    ({"out": b"x"}, "out must be a str or a pathlib.Path"),
    ({"on_event": 5}, "on_event must be a function"),
    ({"progress": "yes"}, "progress must be True or False"),
    ({"profile": 3}, "profile must be"),
])
def test_api_arguments_of_the_wrong_type_are_refused_before_any_folder_exists(tmp_path, monkeypatch, kwargs, words):
    import dsd_tui
    monkeypatch.chdir(tmp_path)
    kwargs = {"out": tmp_path / "runs", **kwargs}
    with pytest.raises(TypeError, match=words) as info:
        dsd_tui.run(**kwargs)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == [], "nothing was written"


def test_api_resume_checks_its_argument_types():
    import dsd_tui
    for kwargs in ({"run_dir": b"x"}, {"run_dir": 5}, {"run_dir": "x", "on_event": 5}):
        with pytest.raises(TypeError, match="must be"):
            dsd_tui.resume(**kwargs)


def test_a_sweep_refuses_a_name_registered_from_python(tmp_path):
    import torch.nn as nn

    import dsd_tui
    from dsd_tui.core.archs import ARCHITECTURES
    dsd_tui.register_model("i27-python-only", lambda num_classes, input_shape: nn.Sequential(
        nn.Flatten(), nn.Linear(int(torch_prod(input_shape)), num_classes)))
    try:
        result = CliRunner().invoke(main, ["sweep", "--grid", "model.arch=mlp,i27-python-only", "--seeds", "0",
                                           "--out", str(tmp_path / "s"), "--dry-run"])
        one_line_exit_2(result, "model.arch = 'i27-python-only'", "registered from Python", "Ray workers")
        assert not (tmp_path / "s").exists()
    finally:
        ARCHITECTURES.unregister("i27-python-only")


def torch_prod(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


# ---------------------------------------------------------------- 5. terminals and encodings

def _dsd(*args: str, **kw):
    import subprocess
    import sys

    from relhelp import env
    return subprocess.run([sys.executable, "-m", "dsd_tui", *args], env=env(), capture_output=True, timeout=300, **kw)


@pytest.mark.parametrize("args", [["profiles"], ["profiles", "--json"], ["studies"], ["--help"]])
def test_a_reader_that_goes_away_ends_the_command_quietly_with_0(args):
    import subprocess
    import sys

    from relhelp import env
    p = subprocess.Popen([sys.executable, "-m", "dsd_tui", *args], env=env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()  # `| head -1` that has already quit: every write is EPIPE
    err = p.stderr.read()
    assert p.wait(60) == 0, err
    assert err == b""


@pytest.mark.parametrize("closed", ["stdin", "stdout", "stderr", "all"])
def test_closed_standard_streams_are_handled_as_no_terminal(tmp_path, closed):
    import subprocess
    import sys

    from relhelp import env
    code = ("import os, sys\n"
            f"for fd in {[0, 1, 2] if closed == 'all' else [['stdin', 'stdout', 'stderr'].index(closed)]}:\n"
            "    os.close(fd)\n"
            "os.execv(sys.executable, [sys.executable, '-m', 'dsd_tui', *sys.argv[1:]])\n")
    out = tmp_path / "runs"
    args = ["run", *[a for s in ONE for a in ("--set", s)], "--out", str(out)]  # no --no-tui: no terminal, headless
    r = subprocess.run([sys.executable, "-c", code, *args], env=env(), capture_output=False, timeout=300,
                       stdin=subprocess.DEVNULL if closed in ("stdout", "stderr") else None,
                       stdout=subprocess.DEVNULL if closed in ("stdin", "stderr") else None,
                       stderr=subprocess.PIPE if closed in ("stdin", "stdout") else None)
    assert r.returncode == 0, r.stderr
    if r.stderr is not None:
        assert b"Traceback" not in r.stderr, r.stderr
    (run,) = out.iterdir()
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    if closed not in ("stderr", "all"):
        return  # the one-line error below goes to stderr: only a closed stderr can break it
    # a bad input with stderr closed is still exit 2, not a crash (exit 1)
    r = subprocess.run([sys.executable, "-c", code, "export", str(tmp_path / "nowhere")], env=env(), timeout=120,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert r.returncode == 2


@pytest.mark.parametrize("key, value", [
    ("run.out", "x\x00y"), ("data.path", "x\x00y"), ("distill.teacher", "/tmp/x\x00y.pt"),
    ("run.out", "o\udcff"), ("data.path", "/tmp/\udcff"), ("distill.teacher", "/tmp/\udcff.pt"),
])
def test_nul_or_non_utf8_bytes_in_a_path_key_are_one_line(tmp_path, monkeypatch, key, value):
    monkeypatch.chdir(tmp_path)
    profile = tmp_path / "p.toml"
    section, name = key.split(".")
    import tomli_w
    try:
        profile.write_text(tomli_w.dumps({section: {name: value}}))
    except UnicodeEncodeError:  # a surrogate cannot be in a file: it comes from the command line
        profile.write_text("")
        line = one_line_exit_2(invoke_run(str(profile), "--set", f"{key}={value}"), key)
    else:
        line = one_line_exit_2(invoke_run(str(profile)), key)
    assert "NUL" in line or "not UTF-8" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.toml"], "nothing was left behind"


def test_nul_or_non_utf8_in_out_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for out in ("a\x00b", "o\udcff"):
        one_line_exit_2(invoke_run("--out", out), "--out")
    assert list(tmp_path.iterdir()) == []
    import dsd_tui
    from dsd_tui.errors import UsageError
    with pytest.raises(UsageError, match="NUL"):
        dsd_tui.run(None, ONE, out="a\x00b")
    assert list(tmp_path.iterdir()) == []


def invoke_run(*args: str):
    return CliRunner().invoke(main, ["run", "--no-tui", *[a for s in ONE for a in ("--set", s)], *args])


@pytest.mark.parametrize("setting, words", [("run.device=cpu\n", "run.device"), ("run.name=x\n", "run.name"),
                                            ("run.device=cuda:0\n", "run.device")])
def test_a_trailing_newline_does_not_pass_validation(tmp_path, monkeypatch, setting, words):
    monkeypatch.chdir(tmp_path)
    one_line_exit_2(invoke_run("--set", setting), words)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- 6. sweeps interrupted

def test_a_sigterm_to_a_sweep_driver_on_real_ray_stops_it_resumably_with_130(tmp_path):
    """Needs Ray: `ray.init` installs Ray's own SIGTERM handler (an exit with Ray's stack dump) after the driver
    installed its own, and `ray.cancel(force=True)` kills a worker in the middle of a real ladder. The driver's
    logic (both signals, SIGINT ignored by a background shell, the cancel, the re-run) is tested against a fake
    Ray in tests/study/test_sweep_driver.py."""
    import signal
    import subprocess
    import sys

    from relhelp import env, wait_for

    from dsd_tui.record.rundir import read_events
    pytest.importorskip("ray")
    out = tmp_path / "sweep"
    long = [*ONE[1:], "prune.rungs=30", "train.epochs=20"]  # long enough to be stopped mid-way
    args = ["sweep", "--grid", GRID, "--seeds", "0", "--out", str(out), "--table-every", "0", "--num-cpus", "1"]
    for s in long:
        args += ["--set", s]
    p = subprocess.Popen([sys.executable, "-m", "dsd_tui", *args], env=env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        def a_rung_finished():
            ladders = [d for d in out.glob("*") if (d / "events.jsonl").is_file()] if out.is_dir() else []
            return ladders and any(e.type == "rung_finished" for e in read_events(ladders[0] / "events.jsonl"))
        assert wait_for(a_rung_finished, timeout=240), "the ladder never finished a rung"
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    import re
    # Ray's own start-up log lines (timestamped) aside, the driver says one line
    lines = [ln for ln in err.decode().strip().splitlines() if not re.match(r"\d{4}-\d\d-\d\d ", ln)]
    assert p.returncode == 130, err
    assert len(lines) == 1 and "run the same command again" in lines[0] and "Traceback" not in err.decode(), err
    index = json.loads((out / "sweep.json").read_text())
    assert [lad["status"] for lad in index["ladders"]] == ["interrupted"]
    ladder = out / index["ladders"][0]["name"]
    assert sweep_mod.next_step(ladder) == "resume"
    assert (ladder / "state" / "latest.pt").is_file()


# ---------------------------------------------------------------- 4. bounded reading

def zip_bomb_checkpoint(path: Path, inflated: int = 256 << 20) -> None:
    """A torch.save zip whose pickle entry is compressed: a few hundred KB on disk, `inflated` bytes read."""
    import io
    import zipfile

    import torch
    buf = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(2)}}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w") as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = data + b"\x00" * inflated  # padding after the pickle's STOP: unpickling reads it all
                z.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED)
            else:
                z.writestr(info, data)


def test_a_zip_bomb_teacher_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import resource
    monkeypatch.chdir(tmp_path)
    bomb = tmp_path / "teacher.pt"
    zip_bomb_checkpoint(bomb)
    assert bomb.stat().st_size < 2 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    line = one_line_exit_2(invoke_run("--set", "distill.enabled=true", "--set", f"distill.teacher={bomb}"),
                           "teacher.pt", "compressed", "refused before reading it")
    assert "Traceback" not in line
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 128, f"reading the refused file grew the process by {grown_mb:.0f} MB"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["teacher.pt"]


def test_a_zip_bomb_resume_state_is_refused_and_nothing_changes(tmp_path):
    a = interrupted_run(tmp_path / "a")
    zip_bomb_checkpoint(a / "state" / "latest.pt", 64 << 20)
    before = snapshot_tree(a)
    one_line_exit_2(CliRunner().invoke(main, ["resume", str(a)]), "latest.pt", "compressed")
    assert snapshot_tree(a) == before


def test_real_checkpoints_pass_the_size_check(tmp_path):
    from dsd_tui.record.rundir import safe_torch_load
    a = interrupted_run(tmp_path / "a")
    for f in [*(a / "checkpoints").glob("*.pt"), a / "state" / "latest.pt"]:
        assert isinstance(safe_torch_load(f), dict)


def deep(n: int = 100_000) -> str:
    return "[" * n + "]" * n


def test_deeply_nested_json_is_one_line_for_every_reader(tmp_path):
    from fake_files import fake_run
    run = fake_run(tmp_path)
    with open(run / "events.jsonl", "a") as f:
        f.write('{"type": "log", "time": 1.0, "message": ' + deep() + "}\n")
    for args in (["export", str(run)], ["compare", str(run), str(run)], ["resume", str(run)],
                 ["watch", "--no-tui", str(run)]):
        one_line_exit_2(CliRunner().invoke(main, args), "nested too deeply")
    import dsd_tui
    from dsd_tui.errors import UsageError
    with pytest.raises(UsageError, match="nested too deeply"):
        dsd_tui.load_summary(run)


def test_a_deep_or_misshapen_sweep_index_or_summary_is_one_line(tmp_path):
    out = tmp_path / "sweep"
    ladder = interrupted_ladder(out)
    path = out / ladder.name
    from dsd_tui.study import sweep_table
    for bad in (deep(), "[1, 2]", '{"phases": 5}', '{"phases": [{"rungs": 3}]}', '{"phases": [5]}',
                '{"phases": [], "profile": []}'):
        (path / "summary.json").write_text(bad)
        shown = sweep_table.table(out)  # the row without its numbers, no traceback
        assert "criterion=magnitude" in shown and shown.endswith("1 ladders: 1 pending"), shown
    from dsd_tui.record import resume_check
    for bad in (deep(), '{"phases": [{"name": ["x"], "rungs": [{"rung": "1"}]}]}'):
        (path / "summary.json").write_text(bad)
        assert resume_check._summary_on_disk(path) is None or bad.startswith("{")
        result = CliRunner().invoke(main, ["resume", str(path), "--no-tui"])
        # the log is the truth: the first resume completes the ladder, the second says it already finished
        assert result.exit_code in (0, 2) and (result.exception is None or isinstance(result.exception, SystemExit)), (
            result.output)
    (out / "sweep.json").write_text(deep())
    for args in (["aggregate", str(out)], ["compare", str(out)], ["watch", "--once", str(out)]):
        one_line_exit_2(CliRunner().invoke(main, args), "RecursionError")


def test_a_huge_grid_is_refused_in_one_line_without_expanding_it(tmp_path):
    import time
    t0 = time.perf_counter()
    values = ",".join(str(i) for i in range(1000))
    result = CliRunner().invoke(main, ["sweep", "--grid", f"train.epochs={values}", "--grid",
                                       f"train.dense_epochs={values}", "--dry-run", "--out", str(tmp_path / "s")])
    one_line_exit_2(result, "1,000,000 ladders", "more than the 10,000")
    assert time.perf_counter() - t0 < 10
    assert not (tmp_path / "s").exists()
    one_line_exit_2(CliRunner().invoke(main, ["sweep", "--seeds", ",".join(map(str, range(20000))), "--dry-run"]),
                    "ladders")


def test_long_ladder_names_are_bounded_and_kept_apart(tmp_path):
    from dsd_tui.study.grid import MAX_NAME, ladder_name
    settings = {f"train.key{i}": "v" * 40 for i in range(10)}
    a = ladder_name(settings, 0)
    b = ladder_name({**settings, "train.key9": "w" * 40}, 0)
    assert len(a) <= MAX_NAME and len(b) <= MAX_NAME and a != b and a.endswith("__seed-0")
    assert ladder_name({"prune.criterion": "magnitude"}, 1) == "prune.criterion-magnitude__seed-1"  # unchanged
    keys = ["train.lr=0.001,0.002", "train.momentum=0.8,0.9", "train.weight_decay=0.0001,0.0002",
            "prune.rate=0.1,0.2", "data.noise=0.1,0.2", "data.batch_size=32,64", "data.val_size=100,200",
            "distill.temperature=2.0,4.0", "distill.alpha=0.5,0.7", "train.lr_gamma=0.1,0.2"]  # 10 keys, 1,024 ladders
    names = [p.name for p in sweep_mod.plan_sweep(None, [], keys, "0", str(tmp_path / "s"))[4]]
    assert len(names) == 1024 == len(set(names)) and max(map(len, names)) <= MAX_NAME


# ---------------------------------------------------------------- 9. the host's CPU kernels in the environment

def test_the_environment_records_the_cpu_its_kernels_and_the_blas(tmp_path):
    import subprocess
    import sys

    import torch
    from relhelp import env, headless_run
    run = headless_run(tmp_path / "runs", *ONE)
    recorded = json.loads((run / "summary.json").read_text())["environment"]
    assert recorded["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert isinstance(recorded["cpu"], str) and recorded["cpu"]
    assert recorded["blas"] and recorded["blas"] in torch.__config__.show()
    code = "import torch; from dsd_tui.core.environment import environment; " \
           "print(environment(torch.device('cpu'), 1)['cpu_capability'])"
    forced = subprocess.run([sys.executable, "-c", code], env={**env(), "ATEN_CPU_CAPABILITY": "default"},
                            capture_output=True, text=True, timeout=120)
    assert forced.stdout.strip() == "DEFAULT", forced.stderr  # what decides the CPU numerics is what is recorded


def test_out_inside_another_runs_folders_is_refused(tmp_path):
    from fake_files import fake_run
    run = fake_run(tmp_path)
    before = snapshot_tree(run)
    for sub in ("checkpoints", "state", "state/deeper"):
        one_line_exit_2(invoke_run("--out", str(run / sub)), "inside the run directory")
    assert snapshot_tree(run) == before and not (run / "state" / "deeper").exists()


def test_the_sweep_lock_file_cannot_be_overwritten_by_an_output(tmp_path):
    from fake_files import fake_run
    run = fake_run(tmp_path / "r")
    out = tmp_path / "sweep"
    one_ladder_sweep(out)
    with SweepLock(out):
        one_line_exit_2(CliRunner().invoke(main, ["export", str(run), "-o", str(out / "sweep.lock")]), "sweep.lock")


def test_a_cifar_label_too_big_for_int64_is_one_line(tmp_path, monkeypatch):
    import pickle

    import numpy as np
    from conftest import write_cifar
    monkeypatch.chdir(tmp_path)
    root = write_cifar(tmp_path / "cifar", "cifar10", n_train=60, n_test=20)
    batch = root / "cifar-10-batches-py" / "data_batch_1"
    entry = pickle.loads(batch.read_bytes())
    entry["labels"][0] = 2 ** 70
    batch.write_bytes(pickle.dumps({"data": np.asarray(entry["data"]), "labels": entry["labels"]}))
    one_line_exit_2(invoke_run("--set", "data.dataset=cifar10", "--set", f"data.path={root}", "--out",
                               str(tmp_path / "runs")), "data_batch_1", "cannot be used")
    assert not (tmp_path / "runs").exists()
