"""Files a run reads cannot run code (checkpoints, resume state, teacher, CIFAR pickles), and run
names cannot place a run outside its output folder."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from conftest import write_cifar
from fake_files import TINY, fake_run
from relhelp import sets, snapshot_tree

from dsd_tui.cli import main
from dsd_tui.core.cifar_files import read_pickle
from dsd_tui.profile import ProfileError
from dsd_tui.profile import load as load_profile
from dsd_tui.record.rundir import RunDirError, new_run_dir, safe_torch_load


class Payload:
    """Unpickling this calls open(marker, "w"): harmless, but proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def evil_checkpoint(path: Path, marker: Path) -> Path:
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": Payload(marker)}, path)
    return path


def test_the_payload_really_runs_code_with_plain_loaders(tmp_path):
    """The control: without the safe loaders these files would execute their payload."""
    marker = tmp_path / "pwned"
    torch.load(evil_checkpoint(tmp_path / "ck.pt", marker), weights_only=False)
    assert marker.exists()
    marker.unlink()
    (tmp_path / "batch").write_bytes(pickle.dumps({"data": Payload(marker)}, protocol=2))
    pickle.loads((tmp_path / "batch").read_bytes())
    assert marker.exists()


def test_safe_torch_load_refuses_a_pickle_with_code(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(RunDirError, match="not a readable checkpoint"):
        safe_torch_load(evil_checkpoint(tmp_path / "ck.pt", marker))
    assert not marker.exists()


def test_cifar_reader_refuses_a_pickle_with_code(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "batch").write_bytes(pickle.dumps({"data": Payload(marker)}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="open"):
        read_pickle(tmp_path / "batch")
    assert not marker.exists()


def _teacher(tmp, marker):
    evil_checkpoint(tmp / "teacher.pt", marker)
    return ["run", "--no-tui", "--out", str(tmp / "out"), *sets(f"distill.teacher='{tmp / 'teacher.pt'}'", *TINY)]


def _state(tmp, marker):
    run = fake_run(tmp)
    evil_checkpoint(run / "state" / "latest.pt", marker)
    return ["resume", str(run), "--no-tui"]


def _cifar(tmp, marker):
    base = write_cifar(tmp / "data") / "cifar-10-batches-py"
    (base / "data_batch_1").write_bytes(pickle.dumps({"data": Payload(marker), "labels": []}, protocol=2))
    return ["run", "--no-tui", "--out", str(tmp / "out"),
            *sets("data.dataset='cifar10'", f"data.path='{tmp / 'data'}'", "model.arch='vgg'", *TINY)]


@pytest.mark.parametrize("make", [_teacher, _state, _cifar], ids=["teacher", "resume-state", "cifar-batch"])
def test_cli_refuses_files_carrying_code(make, tmp_path):
    marker = tmp_path / "pwned"
    args = make(tmp_path, marker)
    before = snapshot_tree(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not marker.exists()
    assert snapshot_tree(tmp_path) == before


@pytest.mark.parametrize("name", ["../escape", "/etc/x", "a/b", ".hidden", "..", "-rf", "x" * 65, "a\nb", ""])
def test_run_names_cannot_escape_the_output_folder(name, tmp_path):
    with pytest.raises(ProfileError):
        load_profile(None, [f"run.name={name!r}".replace("'", '"')])
    with pytest.raises(RunDirError):
        new_run_dir(tmp_path / "out", name)
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path / "out"), "--set",
                                       f"run.name={name!r}".replace("'", '"'), *sets(*TINY)])
    assert result.exit_code == 2
    assert not any(tmp_path.rglob("*"))
