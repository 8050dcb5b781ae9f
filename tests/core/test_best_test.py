"""The exact-reproduction switch: `distill.teacher = "best-test"` (the authors pick the teacher on the
test set and train on every image), explicit in the profile and marked in the summary."""
import json
from pathlib import Path

from click.testing import CliRunner

from dsd_tui.cli import main

SHORT = ("prune.rungs=2", "train.dense_epochs=2", "train.epochs=1", "model.hidden=[32]", "entropy.enabled=false")


def _run(tmp_path, *extra, code=0):
    sets = [a for o in SHORT + extra for a in ("--set", o)]
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path), *sets])
    assert result.exit_code == code, result.output
    return result


def test_best_test_without_a_validation_split_trains_on_everything_and_says_so(tmp_path, keep_signal_handlers):
    result = _run(tmp_path, "data.val_size=0", "distill.teacher=best-test", "data.train_size=1597")
    run = Path(result.output.splitlines()[0])
    summary = json.loads((run / "summary.json").read_text())
    data = summary["data"]
    assert data["selection"] == "test" and data["val"] == 0 and data["val_is_test"] is True
    assert (data["train"], data["test"]) == (1597, 200)  # nothing held out for validation
    teacher_rungs = summary["phases"][0]["rungs"]
    assert all(r["val_acc"] == r["test_acc"] for r in teacher_rungs)
    best = max(teacher_rungs, key=lambda r: (r["test_acc"], r["rung"]))
    info = summary["phases"][1]["teacher"]
    assert info["source"] == "best-test" and info["rung"] == best["rung"] and info["test_acc"] == best["test_acc"]
    events = [json.loads(ln) for ln in (run / "events.jsonl").read_text().splitlines()]
    assert any(e["type"] == "warning" and "test set is used for selection" in e["message"] for e in events)


def test_best_test_with_a_validation_split_picks_on_test_accuracy(tmp_path, keep_signal_handlers):
    # a tiny validation split and a large lr: here the best-validation and best-test rungs differ
    result = _run(tmp_path, "distill.teacher=best-test", "prune.rungs=3", "train.dense_epochs=3", "train.lr=0.03",
                  "data.val_size=10")
    summary = json.loads((Path(result.output.splitlines()[0]) / "summary.json").read_text())
    assert summary["data"]["selection"] == "test" and summary["data"]["val"] == 10
    rungs = summary["phases"][0]["rungs"]
    best_test = max(rungs, key=lambda r: (r["test_acc"], r["rung"]))["rung"]
    assert best_test != summary["phases"][0]["best_rung"]  # the best-validation rung
    assert summary["phases"][1]["teacher"]["rung"] == best_test


def test_no_validation_split_without_saying_best_test_is_refused(tmp_path):
    result = _run(tmp_path / "out", "data.val_size=0", code=2)
    assert 'data.val_size = 0 leaves no validation split' in result.output and 'best-test' in result.output
    assert not (tmp_path / "out").exists()
