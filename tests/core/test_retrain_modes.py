"""The non-default retraining modes as in the work they come from (He et al., ICML 2022, on OpenLTH):
finetune at lr 1e-3 by default, and weight-rewind to a training step, not only to an epoch."""
import json
from pathlib import Path

import torch
from click.testing import CliRunner

from dsd_tui.cli import main
from dsd_tui.profile import Profile

# quickstart with 1,000 training samples at batch 128: 8 steps per epoch. Pruned rungs train 0 epochs,
# so rung 1's checkpoint holds exactly the weights it rewound to, under its mask.
REWIND = ("prune.retrain=weight-rewind", "prune.rungs=1", "train.dense_epochs=2", "train.epochs=0",
          "model.hidden=[32]", "distill.enabled=false", "entropy.enabled=false")


def _run(tmp_path, *extra, code=0):
    sets = [a for o in extra for a in ("--set", o)]
    result = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path), *sets])
    assert result.exit_code == code, result.output
    return result


def _rung1(tmp_path, *extra):
    run = Path(_run(tmp_path, *REWIND, *extra).output.splitlines()[0])
    return torch.load(run / "checkpoints" / "teacher-rung01.pt", weights_only=True)["state_dict"]


def _equal(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_weight_rewind_to_a_step(tmp_path, keep_signal_handlers):
    step8 = _rung1(tmp_path / "s8", "prune.rewind_step=8")  # the last step of epoch 1
    epoch1 = _rung1(tmp_path / "e1", "prune.rewind_epoch=1")
    assert _equal(step8, epoch1)  # step 8 is the end of epoch 1: the same weights
    step3 = _rung1(tmp_path / "s3", "prune.rewind_step=3")
    step4 = _rung1(tmp_path / "s4", "prune.rewind_step=4")
    init = _rung1(tmp_path / "e0", "prune.rewind_epoch=0")
    assert not _equal(step3, step8) and not _equal(step3, step4) and not _equal(step3, init)
    step11 = _rung1(tmp_path / "s11", "prune.rewind_step=11")  # epoch 2, step 3
    assert not _equal(step11, step3) and not _equal(step11, epoch1)


def test_a_rewind_step_beyond_the_dense_rung_is_refused_before_anything_is_written(tmp_path):
    result = _run(tmp_path / "out", *REWIND, "prune.rewind_step=17", code=2)
    assert "prune.rewind_step = 17: the dense rung has only 16 steps" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    both = _run(tmp_path / "out", *REWIND, "prune.rewind_step=3", "prune.rewind_epoch=1", code=2)
    assert "set only one of them" in both.output


def test_finetune_runs_its_pruned_rungs_at_lr_1e_3_by_default(tmp_path, keep_signal_handlers):
    assert Profile().prune.finetune_lr == 1e-3
    result = _run(tmp_path, "prune.retrain=finetune", "train.lr=0.01", "prune.rungs=1", "train.dense_epochs=1",
                  "train.epochs=1", "model.hidden=[32]", "distill.enabled=false", "entropy.enabled=false")
    run = Path(result.output.splitlines()[0])
    epochs = [json.loads(ln) for ln in (run / "events.jsonl").read_text().splitlines()]
    lrs = {e["rung"]: e["lr"] for e in epochs if e["type"] == "epoch_finished"}
    assert lrs == {0: 0.01, 1: 1e-3}


def test_the_ladder_asks_the_registry_for_the_mode_and_the_profile_lists_its_names(tmp_path, keep_signal_handlers):
    """A mode registered from Python (its own start weights and learning rate) is what the ladder uses, and
    the profile's error for an unknown mode lists the registry's names."""
    from dsd_tui.core.retrain import RETRAIN_MODES, RetrainMode
    from dsd_tui.registry import PYTHON

    class Halve(RetrainMode):  # pruned rungs restart from half the trained weights, at lr 0.005
        def start_rung(self, prune, model, rewind_state, reinit_seed):
            with torch.no_grad():
                for p in model.parameters():
                    p.mul_(0.5)

        def schedule(self, prune, train, rung):
            return (0.005, []) if rung else (train.lr, train.milestones)

    RETRAIN_MODES.register("test-halve", Halve(), origin=PYTHON)
    try:
        result = _run(tmp_path / "h", "prune.retrain=test-halve", "prune.rungs=1", "train.dense_epochs=1",
                      "train.epochs=0", "model.hidden=[32]", "distill.enabled=false", "entropy.enabled=false")
    finally:
        RETRAIN_MODES.unregister("test-halve")
    run = Path(result.output.splitlines()[0])
    dense = torch.load(run / "checkpoints" / "teacher-rung00.pt", weights_only=True)["state_dict"]
    rung1 = torch.load(run / "checkpoints" / "teacher-rung01.pt", weights_only=True)
    for name, mask in rung1["masks"].items():  # 0 epochs: the rung's weights are its start weights
        kept = mask.bool()
        assert torch.equal(rung1["state_dict"][name][kept], dense[name][kept] * 0.5)
    bad = _run(tmp_path / "bad", "prune.retrain=test-halve", code=2)
    assert all(n in bad.output for n in RETRAIN_MODES.names()) and "test-halve" not in bad.output.split(":")[-1]
