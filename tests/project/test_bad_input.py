"""Every kind of bad input gets one line on stderr (what, where, how to fix), exit code 2, no
traceback, and leaves nothing written or changed on disk."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_cifar
from fake_files import TINY, checkpoint_bytes, fake_run
from relhelp import sets, snapshot_tree

from dsd_tui.cli import main
from dsd_tui.core.models import MLP, VGGLike
from dsd_tui.record.rundir import new_run_dir


def unwritable_out(tmp: Path) -> str:
    """A folder no run can be created in (root ignores permissions, so use /sys for root)."""
    if os.geteuid() == 0:
        return "/sys/dsd-tui-test-out"
    ro = tmp / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    return str(ro / "runs")


# Each case: (name, setup(tmp) -> CLI args). `tmp` is snapshotted before and after the command.
def case_malformed_toml(tmp):
    (tmp / "p.toml").write_text("[run\nname = 'x'\n")
    return ["run", str(tmp / "p.toml"), "--no-tui", "--out", str(tmp / "out")]


def case_unknown_section(tmp):
    (tmp / "p.toml").write_text("[bogus]\nx = 1\n")
    return ["run", str(tmp / "p.toml"), "--no-tui", "--out", str(tmp / "out")]


def case_unknown_key(tmp):
    (tmp / "p.toml").write_text("[train]\nepochz = 3\n")
    return ["run", str(tmp / "p.toml"), "--no-tui", "--out", str(tmp / "out")]


def case_wrong_type(tmp):
    return ["run", "--no-tui", "--out", str(tmp / "out"), *sets('train.epochs="three"')]


def case_out_of_range(tmp):
    return ["run", "--no-tui", "--out", str(tmp / "out"), *sets("data.noise=1.5")]


def case_unknown_bundled_profile(tmp):
    return ["run", "no-such-profile", "--no-tui", "--out", str(tmp / "out")]


def cifar_args(tmp, path, dataset="cifar10"):
    return ["run", "--no-tui", "--out", str(tmp / "out"),
            *sets(f"data.dataset='{dataset}'", f"data.path='{path}'", "model.arch='vgg'", "data.val_size=10",
                  *TINY)]


def case_missing_data_dir(tmp):
    return cifar_args(tmp, tmp / "nowhere")


def case_unreadable_data_dir(tmp):
    (tmp / "afile").write_text("not a folder")
    return cifar_args(tmp, tmp / "afile")


def case_cifar_files_missing(tmp):
    base = write_cifar(tmp / "data") / "cifar-10-batches-py"
    (base / "data_batch_3").unlink()
    return cifar_args(tmp, tmp / "data")


def case_cifar_file_truncated(tmp):
    base = write_cifar(tmp / "data") / "cifar-10-batches-py"
    raw = (base / "data_batch_2").read_bytes()
    (base / "data_batch_2").write_bytes(raw[: len(raw) // 2])
    return cifar_args(tmp, tmp / "data")


def case_cifar_other_dataset(tmp):
    write_cifar(tmp / "data", "cifar100")  # cifar-100-python/ where cifar10 is asked for
    return cifar_args(tmp, tmp / "data")


def case_cifar_other_dataset_renamed(tmp):
    write_cifar(tmp / "data", "cifar100")  # CIFAR-100 content under CIFAR-10 names
    base = tmp / "data" / "cifar-10-batches-py"
    (tmp / "data" / "cifar-100-python").rename(base)
    for i in range(1, 6):
        (base / f"data_batch_{i}").write_bytes((base / "train").read_bytes())
    (base / "test_batch").write_bytes((base / "test").read_bytes())
    return cifar_args(tmp, tmp / "data")


def case_corrupt_state(tmp):
    run = fake_run(tmp, state=b"PK\x03\x04 this is not a checkpoint")
    return ["resume", str(run), "--no-tui"]


def case_truncated_teacher(tmp):
    raw = checkpoint_bytes(MLP(64, [512, 512], 10), arch="mlp")
    (tmp / "teacher.pt").write_bytes(raw[: len(raw) // 3])
    return ["run", "--no-tui", "--out", str(tmp / "out"), *sets(f"distill.teacher='{tmp / 'teacher.pt'}'", *TINY)]


def case_teacher_other_class_count(tmp):
    (tmp / "teacher.pt").write_bytes(checkpoint_bytes(MLP(64, [512, 512], 5), arch="mlp"))
    return ["run", "--no-tui", "--out", str(tmp / "out"), *sets(f"distill.teacher='{tmp / 'teacher.pt'}'", *TINY)]


def case_teacher_other_arch(tmp):
    (tmp / "teacher.pt").write_bytes(checkpoint_bytes(VGGLike(1, 0, 10), arch="vgg"))
    return ["run", "--no-tui", "--out", str(tmp / "out"), *sets(f"distill.teacher='{tmp / 'teacher.pt'}'", *TINY)]


def case_output_not_writable(tmp):
    return ["run", "--no-tui", "--out", unwritable_out(tmp), *sets(*TINY)]


def case_out_is_a_run_dir(tmp):
    run = fake_run(tmp)
    return ["run", "--no-tui", "--out", str(run), *sets(*TINY)]


def case_resume_not_a_run(tmp):
    (tmp / "folder").mkdir()
    return ["resume", str(tmp / "folder"), "--no-tui"]


def case_watch_not_a_run(tmp):
    (tmp / "folder").mkdir()
    return ["watch", str(tmp / "folder")]


def case_export_not_a_run(tmp):
    (tmp / "folder").mkdir()
    return ["export", str(tmp / "folder")]


def case_resume_finished_run(tmp):
    return ["resume", str(fake_run(tmp, finished=True)), "--no-tui"]


CASES = {name[5:]: fn for name, fn in dict(globals()).items() if name.startswith("case_")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_one_line_exit_2_nothing_written(case, tmp_path):
    args = CASES[case](tmp_path)
    before = snapshot_tree(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (result.output, result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dsd-tui: "), result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert result.stdout == ""
    assert snapshot_tree(tmp_path) == before, "bad input must leave every file as it was"
    assert not (tmp_path / "out").exists()


def test_an_existing_run_directory_is_never_reused(tmp_path):
    start = time.time()
    first = new_run_dir(tmp_path, "quickstart", start)
    (first / "profile.toml").write_text("kept")
    second = new_run_dir(tmp_path, "quickstart", start)
    assert second != first and second.parent == tmp_path
    assert (first / "profile.toml").read_text() == "kept"
