"""learning_distance in every rung record: recomputed by hand from a real ladder's checkpoints, shown in the
CSV export, and the same after a resume mid-rung."""
import csv
import io
import json

import pytest
import torch
from click.testing import CliRunner

from dsd_tui.cli import main
from dsd_tui.core.models import MLP


@pytest.fixture
def finished(finished_run):
    """The shared short quickstart run (conftest.py): MLP on digits, both phases, lr-rewind, a checkpoint
    for every rung."""
    return finished_run


def weights(ck: dict) -> dict:
    return {k: v for k, v in ck["state_dict"].items() if k.endswith("weight")}


def test_learning_distance_is_the_l2_between_a_rungs_start_and_final_prunable_weights(finished):
    summary = json.loads((finished / "summary.json").read_text())
    prof = summary["profile"]
    assert (prof["data"]["dataset"], prof["model"]["arch"], prof["prune"]["retrain"]) == ("digits", "mlp", "lr-rewind")
    assert prof["distill"].get("student_init", "teacher") == "teacher"
    rungs = range(prof["prune"]["rungs"] + 1)
    for phase in summary["phases"]:
        cks = [torch.load(finished / "checkpoints" / f"{phase['name']}-rung{k:02d}.pt", weights_only=True)
               for k in rungs]
        records = {r["rung"]: r for r in phase["rungs"]}
        assert sorted(records) == list(rungs)
        # rung 0 starts at the seeded initialisation (the ladder seeds seed·1000 + 1 for the teacher; the
        # student, by default distill.student_init = "teacher", starts from that same dense init); digits
        # are 8×8 = 64 inputs, 10 classes
        torch.manual_seed(prof["run"]["seed"] * 1000 + 1)
        init = {k: v for k, v in MLP(64, prof["model"]["hidden"], 10).state_dict().items() if k.endswith("weight")}
        final = weights(cks[0])
        expected = torch.sqrt(sum(((final[k] - init[k]).double() ** 2).sum() for k in final)).item()
        assert records[0]["learning_distance"] == pytest.approx(expected, rel=1e-6)
        # rung k ≥ 1 (lr-rewind) starts from rung k-1's weights under rung k's mask
        for k in rungs[1:]:
            prev, now, mask = weights(cks[k - 1]), weights(cks[k]), cks[k]["masks"]
            expected = torch.sqrt(sum(((now[n] - prev[n] * mask[n]).double() ** 2).sum() for n in now)).item()
            assert records[k]["learning_distance"] == pytest.approx(expected, rel=1e-6), (phase["name"], k)
            assert records[k]["learning_distance"] > 0


def test_learning_distance_is_a_csv_export_column(finished):
    result = CliRunner().invoke(main, ["export", str(finished), "--format", "csv"])
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.output)))
    summary = json.loads((finished / "summary.json").read_text())
    by_key = {(p["name"], r["rung"]): r["learning_distance"] for p in summary["phases"] for r in p["rungs"]}
    assert len(rows) == len(by_key) == 2 * (summary["profile"]["prune"]["rungs"] + 1)  # both phases, every rung
    for row in rows:
        assert float(row["learning_distance"]) == pytest.approx(by_key[(row["phase"], int(row["rung"]))])


def test_aggregate_and_compare_read_it(finished, tmp_path):
    result = CliRunner().invoke(main, ["compare", str(finished), "--metric", "learning_distance"])
    assert result.exit_code == 0, result.output
