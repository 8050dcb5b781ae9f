"""What a ladder costs and how its masks move (issue 23), checked on real short ladders.

The quickstart MLP (digits) and ResNet-18 (3×32×32 images) run through the CLI; every figure the run
records is recomputed here independently: forward MACs from the checkpoints' masks and the layers'
output shapes (conv arithmetic, not the hooks the engine uses), training MACs from the samples seen,
the teacher's forwards charged once to the student's first rung, the teacher–student IoU from both
checkpoints' masks, the per-rung masks files against the checkpoints, and the exports' columns.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from shared_runs import printed, shared_headless_run

from dsd_tui.cli import main
from dsd_tui.record.masks_file import FORMAT, load_masks, pack_bits, unpack_bits
from dsd_tui.record.overlap import random_iou
from dsd_tui.record.rundir import masks_name
from dsd_tui.study.seed_overlap import rung_overlaps

TRAIN = 400  # data.train_size: samples seen per epoch
MLP = ["--set", "prune.rungs=3", "--set", "train.dense_epochs=2", "--set", "train.epochs=1",
       "--set", f"data.train_size={TRAIN}", "--set", "model.hidden=[64, 64]",
       # min_delta = 1: no rung improves, so early-stop fires at rung `patience` (= 2) in both phases
       "--set", "stop.min_delta=1.0", "--set", "stop.patience=2", "--set", "stop.smooth=1",
       "--set", 'stop.active="early-stop"', "--set", 'stop.active_student="early-stop"']


def run(out: Path, *args: str) -> tuple[str, dict, Path]:
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.splitlines()[0])
    return result.output, json.loads((run_dir / "summary.json").read_text()), run_dir


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    """`run(..., *MLP)`, built once per test run (shared_runs.py), not once per xdist worker; read-only."""
    run_dir = shared_headless_run(tmp_path_factory, "macs-mlp", *MLP[1::2])
    return printed(run_dir), json.loads((run_dir / "summary.json").read_text()), run_dir


def checkpoint(run_dir: Path, phase: str, rung: int) -> dict:
    return torch.load(run_dir / "checkpoints" / f"{phase}-rung{rung:02d}.pt", weights_only=True)


def records(summary: dict, phase: str) -> list[dict]:
    return next(p for p in summary["phases"] if p["name"] == phase)["rungs"]


def linear_macs(masks: dict) -> tuple[int, int]:
    """(kept, dense) MACs per sample of an MLP: a Linear on one vector applies each weight once."""
    return sum(int(m.sum()) for m in masks.values()), sum(m.numel() for m in masks.values())


def test_mlp_macs_equal_the_checkpoints_kept_weights(mlp):
    _out, summary, run_dir = mlp
    for phase in ("teacher", "student"):
        for r in records(summary, phase):
            kept, dense = linear_macs(checkpoint(run_dir, phase, r["rung"])["masks"])
            assert (r["macs"], r["dense_macs"]) == (kept, dense)
            assert r["macs"] == r["remaining_weights"]  # every MLP weight is applied once per sample


def test_teacher_train_macs_are_three_forwards_per_sample_seen(mlp):
    _out, summary, _ = mlp
    total = 0
    for r in records(summary, "teacher"):
        assert r["train_macs"] == 3 * r["macs"] * r["epochs"] * TRAIN
        total += r["train_macs"]
        assert r["cumulative_train_macs"] == total


def test_the_students_cached_teacher_logits_are_charged_once_to_its_first_rung(mlp):
    _out, summary, run_dir = mlp
    student = next(p for p in summary["phases"] if p["name"] == "student")
    teacher_kept, _ = linear_macs(checkpoint(run_dir, "teacher", student["teacher"]["rung"])["masks"])
    rungs = student["rungs"]
    assert rungs[0]["train_macs"] == 3 * rungs[0]["macs"] * rungs[0]["epochs"] * TRAIN + teacher_kept * TRAIN
    for r in rungs[1:]:  # digits are not augmented: the logits were computed once, before rung 0
        assert r["train_macs"] == 3 * r["macs"] * r["epochs"] * TRAIN
    assert rungs[-1]["cumulative_train_macs"] == sum(r["train_macs"] for r in rungs)


def test_stop_entries_carry_the_macs_spent_and_the_full_ladders(mlp):
    out, summary, _ = mlp
    for phase in ("teacher", "student"):
        entry = next(s for s in summary["stops"] if s["phase"] == phase and s["criterion"] == "early-stop")
        rungs = records(summary, phase)
        assert entry["rung"] == 2
        assert entry["train_macs_spent"] == rungs[2]["cumulative_train_macs"]
        # the full ladder (rungs 0..3) trained here (action "alert"): its estimate from rung 2 is close to it
        assert entry["train_macs_full"] == pytest.approx(rungs[-1]["cumulative_train_macs"], rel=0.01)
        assert entry["train_macs_spent"] < entry["train_macs_full"]
        verdict = next(p for p in summary["phases"] if p["name"] == phase)["verdict"]
        assert verdict["train_macs"] == rungs[-1]["cumulative_train_macs"]
    assert "compute " in out and "training (saves " in out  # the headless view prices each stop
    assert "-- training compute: " in out and "train MACs" in out  # the end-of-run report
    r = records(summary, "teacher")[2]  # each rung's line: an MLP's speed-up is its compression ratio
    ratio = f"×{r['dense_macs'] / r['macs']:.3g}"
    assert f"(speed-up {ratio} of dense " in out and f"compression {ratio}); " in out


def test_tensorboard_and_wandb_get_the_compute_scalars(mlp):
    from dsd_tui.export.scalars import points
    from dsd_tui.record.rundir import read_events
    _out, summary, run_dir = mlp
    tags = {p.tag: p.value for e in read_events(run_dir / "events.jsonl") for p in points(e, summary["profile"])
            if p.step == 1}
    student = records(summary, "student")[1]
    assert tags["teacher/train_macs"] == records(summary, "teacher")[1]["train_macs"]
    assert tags["student/teacher_overlap"] == student["teacher_overlap"]
    assert {"teacher/macs", "teacher/dense_macs", "teacher/cumulative_train_macs"} <= set(tags)
    assert any(t.startswith("student/layer_teacher_overlap/") for t in tags)


def test_the_monitor_header_shows_the_runs_training_compute_and_the_newest_speedup(mlp):
    import asyncio

    from dsd_tui.record.compute_text import si
    from dsd_tui.tui.app import DsdApp
    from dsd_tui.tui.screens.monitor import MonitorScreen
    _out, summary, run_dir = mlp
    total = sum(p["rungs"][-1]["cumulative_train_macs"] for p in summary["phases"])
    newest = records(summary, "student")[-1]
    app = DsdApp(MonitorScreen(events_path=run_dir / "events.jsonl"))

    async def main():
        async with app.run_test(size=(200, 40)) as pilot:
            await pilot.pause(0.3)
            header = str(app.query_one("#header")._shown)
            assert f"train {si(total)} · fwd ×{newest['dense_macs'] / newest['macs']:.3g}" in header
    asyncio.run(main())


def test_teacher_overlap_is_the_iou_of_both_checkpoints_masks(mlp):
    _out, summary, run_dir = mlp
    for r in records(summary, "student"):
        t = checkpoint(run_dir, "teacher", r["rung"])["masks"]
        s = checkpoint(run_dir, "student", r["rung"])["masks"]
        inter = sum(int((t[n].bool() & s[n].bool()).sum()) for n in t)
        union = sum(int((t[n].bool() | s[n].bool()).sum()) for n in t)
        assert r["teacher_overlap"] == pytest.approx(inter / union, abs=1e-12)
        for n in t:
            layer = int((t[n].bool() & s[n].bool()).sum()) / int((t[n].bool() | s[n].bool()).sum())
            assert r["layer_teacher_overlap"][n] == pytest.approx(layer, abs=1e-12)
    assert records(summary, "student")[0]["teacher_overlap"] == 1.0  # both dense
    assert all("teacher_overlap" not in r for r in records(summary, "teacher"))


def test_every_rung_has_a_masks_file_equal_to_its_checkpoints_masks(mlp):
    _out, summary, run_dir = mlp
    for phase in ("teacher", "student"):
        for r in records(summary, phase):
            raw = torch.load(run_dir / masks_name(phase, r["rung"]), weights_only=True)
            assert raw["format"] == FORMAT and (raw["phase"], raw["rung"]) == (phase, r["rung"])
            masks = load_masks(run_dir / masks_name(phase, r["rung"]))
            saved = checkpoint(run_dir, phase, r["rung"])["masks"]
            assert set(masks) == set(saved)
            assert all(torch.equal(masks[n], saved[n].bool()) for n in saved)


def test_the_exports_have_the_compute_columns(mlp):
    _out, summary, run_dir = mlp
    rows = list(csv.DictReader(io.StringIO(
        CliRunner().invoke(main, ["export", str(run_dir), "--format", "csv"]).output)))
    assert [int(r["train_macs"]) for r in rows] == [r["train_macs"] for p in summary["phases"] for r in p["rungs"]]
    assert {"macs", "dense_macs", "cumulative_train_macs", "teacher_overlap"} <= set(rows[0])
    layers = list(csv.DictReader(io.StringIO(
        CliRunner().invoke(main, ["export", str(run_dir), "--format", "layers-csv"]).output)))
    student = [r for r in layers if r["phase"] == "student" and r["rung"] == "1"]
    want = records(summary, "student")[1]["layer_teacher_overlap"]
    assert {r["layer"]: float(r["teacher_overlap"]) for r in student} == pytest.approx(want)


def test_masks_files_outlive_best_last_checkpoints_and_give_the_seeds_overlap(tmp_path, mlp):
    _out, _summary, first = mlp
    _o, summary, other = run(tmp_path, *MLP, "--set", "run.seed=1", "--set", "run.keep_checkpoints=best-last",
                             "--set", "distill.enabled=false")
    assert not (other / "checkpoints" / "teacher-rung02.pt").exists()  # neither best nor last
    assert all((other / masks_name("teacher", k)).is_file() for k in range(4))
    pairs, chance = rung_overlaps([first, other], "teacher", 2)
    a, b = load_masks(first / masks_name("teacher", 2)), load_masks(other / masks_name("teacher", 2))
    inter = sum(int((a[n] & b[n]).sum()) for n in a)
    union = sum(int((a[n] | b[n]).sum()) for n in a)
    assert pairs == [pytest.approx(inter / union)]
    kept_a, kept_b = ({n: int(m.sum()) for n, m in x.items()} for x in (a, b))
    assert chance == [pytest.approx(random_iou({n: m.numel() for n, m in a.items()}, kept_a, kept_b))]
    assert 0.0 < pairs[0] < 1.0  # two seeds (different inits) keep different weights
    # `aggregate` puts them beside each rung's metrics, and each stop's MACs saving beside its cost
    from dsd_tui.study import aggregate as agg
    from dsd_tui.study import sweep_index as idx
    result = agg.aggregate_group(idx.Group("g", {}, [idx.load_run(first), idx.load_run(other)]))
    teacher = result["phases"]["teacher"]
    metrics = next(r for r in teacher["rungs"] if r["rung"] == 2)["metrics"]
    assert metrics["seed_overlap"]["mean"] == pytest.approx(pairs[0]) and metrics["seed_overlap"]["n"] == 1
    assert metrics["seed_overlap_random"]["mean"] == pytest.approx(chance[0])
    savings = [1 - s["train_macs_spent"] / s["train_macs_full"] for r in (first, other)
               for s in json.loads((r / "summary.json").read_text())["stops"]
               if s["phase"] == "teacher" and s["criterion"] == "early-stop"]
    assert teacher["stops"]["early-stop"]["train_macs_saving"]["mean"] == pytest.approx(sum(savings) / 2)


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def resnet18_positions(image: int) -> dict[str, int]:
    """Output positions per sample of each prunable weight of the CIFAR ResNet-18 (core/models.py), by conv
    arithmetic: a 3×3/1 stem, a 3×3/2 max-pool, four stages of two blocks (strides 1, 2, 2, 2)."""
    size = conv_out(image, 3, 1, 1)
    out = {"conv1.weight": size * size}
    size = conv_out(size, 3, 2, 1)  # max-pool
    for stage, stride in enumerate((1, 2, 2, 2), 1):
        inside = conv_out(size, 3, stride, 1)
        for block in (0, 1):
            prefix = f"layer{stage}.{block}"
            out[f"{prefix}.conv1.weight"] = inside * inside
            out[f"{prefix}.conv2.weight"] = inside * inside
            if block == 0 and stage > 1:
                short = conv_out(size, 1, stride, 0)
                out[f"{prefix}.shortcut.0.weight"] = short * short
        size = inside
    out["fc.weight"] = 1
    return out


def few_images(path, seed):
    """CIFAR-shaped 3×32×32 images as a Python-registered data set: 48 to train on (validation carved from
    them) and 16 to test on, where the bundled synthetic set evaluates at least 256 test images a rung (the
    bulk of a ResNet-18 rung on the CPU; the MACs do not depend on the samples)."""
    gen = torch.Generator().manual_seed(seed)
    return {"train": (torch.randn(48, 3, 32, 32, generator=gen), torch.randint(0, 10, (48,), generator=gen)),
            "test": (torch.randn(16, 3, 32, 32, generator=gen), torch.randint(0, 10, (16,), generator=gen)),
            "num_classes": 10}


@pytest.fixture
def few_images_registered():
    from dsd_tui import register_dataset
    from dsd_tui.core.datasets import DATASETS
    register_dataset("macs-few-images", few_images)
    yield "macs-few-images"
    DATASETS.unregister("macs-few-images")


def test_resnet18_macs_follow_the_conv_output_shapes(tmp_path, few_images_registered):
    samples = 32
    _out, summary, run_dir = run(
        tmp_path, "--set", f"data.dataset={few_images_registered}", "--set", f"data.train_size={samples}",
        "--set", "data.val_size=16", "--set", "model.arch=resnet18", "--set", "prune.rungs=1",
        "--set", "train.epochs=1", "--set", "train.dense_epochs=1", "--set", "data.batch_size=16",
        "--set", "distill.enabled=false", "--set", "entropy.enabled=false",
        # plain SGD keeps no optimizer state: resume states of 45 MB instead of Adam's 135 MB to write
        "--set", "train.optimizer=sgd", "--set", "train.momentum=0")
    positions = resnet18_positions(32)
    for r in records(summary, "teacher"):
        masks = checkpoint(run_dir, "teacher", r["rung"])["masks"]
        assert set(masks) == set(positions)
        assert r["dense_macs"] == sum(masks[n].numel() * p for n, p in positions.items())
        assert r["macs"] == sum(int(masks[n].sum()) * p for n, p in positions.items())
        assert r["train_macs"] == 3 * r["macs"] * r["epochs"] * samples
    dense, pruned = records(summary, "teacher")
    assert pruned["macs"] < dense["macs"] == dense["dense_macs"]


def test_an_augmented_students_teacher_runs_once_per_sample_seen(tmp_path):
    """With augmentation the teacher's logits are computed per batch: charged at every rung, and the stop's
    full-ladder price counts them for the rungs not trained."""
    samples = 64
    _out, summary, run_dir = run(
        tmp_path, "--set", "data.dataset=synthetic", "--set", f"data.synthetic_size={samples}",
        "--set", "data.val_size=32", "--set", "data.augment=crop-flip", "--set", "model.hidden=[16]",
        "--set", "prune.rungs=2", "--set", "train.epochs=1", "--set", "train.dense_epochs=1",
        "--set", "data.batch_size=32", "--set", "entropy.enabled=false",
        "--set", "stop.min_delta=1.0", "--set", "stop.patience=1", "--set", "stop.smooth=1",
        "--set", 'stop.active="early-stop"', "--set", 'stop.active_student="early-stop"')
    student = next(p for p in summary["phases"] if p["name"] == "student")
    teacher_kept, _ = linear_macs(checkpoint(run_dir, "teacher", student["teacher"]["rung"])["masks"])
    for r in student["rungs"]:
        assert r["train_macs"] == 3 * r["macs"] * r["epochs"] * samples + teacher_kept * r["epochs"] * samples
    entry = next(s for s in summary["stops"] if s["phase"] == "student" and s["criterion"] == "early-stop")
    fired = student["rungs"][entry["rung"]]
    untrained = [k for k in range(entry["rung"] + 1, 3)]
    assert untrained  # fired before the last rung: the full price estimates the rest
    assert entry["train_macs_full"] == fired["cumulative_train_macs"] + sum(
        round(3 * fired["macs"] * 0.8 ** (k - entry["rung"]) * samples) + teacher_kept * samples for k in untrained)


def test_bit_packing_round_trips_any_size():
    gen = torch.Generator().manual_seed(0)
    for shape in [(1,), (7,), (8,), (9,), (3, 5, 2), (64, 3, 3, 3)]:
        mask = torch.rand(shape, generator=gen) > 0.5
        bits = pack_bits(mask)
        assert bits.dtype == torch.uint8 and bits.numel() == -(-mask.numel() // 8)
        assert torch.equal(unpack_bits(bits, shape), mask)
    assert pack_bits(torch.tensor([True, False, False, False, False, False, False, True])).tolist() == [129]


def test_the_random_baseline_is_what_random_masks_give():
    gen = torch.Generator().manual_seed(0)
    size, p, q = 200_000, 0.3, 0.6
    a, b = torch.rand(size, generator=gen) < p, torch.rand(size, generator=gen) < q
    measured = float((a & b).sum()) / float((a | b).sum())
    assert random_iou({"w": size}, {"w": int(a.sum())}, {"w": int(b.sum())}) == pytest.approx(measured, abs=0.005)


TINY = ["prune.rungs=3", "train.dense_epochs=2", "train.epochs=1", f"data.train_size={TRAIN}", "data.val_size=60",
        "model.hidden=[64, 64]", "stop.smooth=1"]
COMPUTE_KEYS = ("dense_macs", "macs", "train_macs", "cumulative_train_macs", "teacher_overlap",
                "layer_teacher_overlap", "train_macs_spent", "train_macs_full")


def interrupted_in_the_student_phase(runs: Path):
    """A run stopped after student rung 0 (its teacher logits computed, charged to rung 0)."""
    from dsd_tui import profile as profile_mod
    from dsd_tui.runner import RunSession

    def stop(e):
        if e.type == "rung_finished" and e.phase == "student" and e.rung == 0:
            session.stop_after_rung.set()
    session = RunSession.new(profile_mod.load(None, TINY), str(runs), sinks=[stop])
    assert session.run() == "interrupted"
    return session.path


def test_a_resumed_student_charges_its_teacher_once_and_ends_with_the_same_compute(tmp_path, keep_signal_handlers):
    from dsd_tui import profile as profile_mod
    from dsd_tui.api import load_summary
    from dsd_tui.runner import RunSession
    path = interrupted_in_the_student_phase(tmp_path / "cut")
    assert RunSession.resume_from(str(path)).run() == "completed"  # the resume computes the logits again
    whole = RunSession.new(profile_mod.load(None, TINY), str(tmp_path / "whole"))
    assert whole.run() == "completed"
    got, want = load_summary(path), load_summary(whole.path)
    for a, b in zip(got["phases"], want["phases"]):
        assert [{k: r.get(k) for k in COMPUTE_KEYS} for r in a["rungs"]] == \
            [{k: r.get(k) for k in COMPUTE_KEYS} for r in b["rungs"]]
    student = got["phases"][1]["rungs"]
    assert all(r["train_macs"] == 3 * r["macs"] * r["epochs"] * TRAIN for r in student[1:])  # charged once
    assert [(s["train_macs_spent"], s["train_macs_full"]) for s in got["stops"]] == \
        [(s["train_macs_spent"], s["train_macs_full"]) for s in want["stops"]]


def strip_compute(value):
    if isinstance(value, dict):
        return {k: strip_compute(v) for k, v in value.items() if k not in COMPUTE_KEYS}
    if isinstance(value, list):
        return [strip_compute(v) for v in value]
    return value


def test_a_run_from_before_the_compute_fields_resumes_and_gets_them_on_its_new_rungs(tmp_path, keep_signal_handlers):
    from dsd_tui.api import load_summary
    from dsd_tui.runner import RunSession
    path = interrupted_in_the_student_phase(tmp_path / "old")
    lines = (path / "events.jsonl").read_text().splitlines()  # as an older version wrote them
    (path / "events.jsonl").write_text("".join(json.dumps(strip_compute(json.loads(x))) + "\n" for x in lines))
    (path / "summary.json").write_text(json.dumps(strip_compute(json.loads((path / "summary.json").read_text()))))
    assert RunSession.resume_from(str(path)).run() == "completed"
    summary = load_summary(path)
    teacher, student = summary["phases"]
    assert all("macs" not in r for r in teacher["rungs"] + student["rungs"][:1])  # written unchanged
    for r in student["rungs"][1:]:  # new rungs: counted, but the phase's earlier rungs are unknown
        assert r["train_macs"] == 3 * r["macs"] * r["epochs"] * TRAIN and r["cumulative_train_macs"] is None
    assert "verdict" in student and student["verdict"].get("train_macs") is None
