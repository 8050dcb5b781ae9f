"""weight-rewind: each pruned rung restarts from the dense rung's weights at one point (Frankle et al.'s
rewinding): the initial weights (prune.rewind_epoch = 0), the end of a dense epoch (rewind_epoch) or a
dense training step (prune.rewind_step; He et al. 2022 rewind to step 1000 on CIFAR). The rewind
weights are part of the resume state, so a resumed run rewinds to the same point."""
from dsd_tui.core.retrain import RETRAIN_MODES
from dsd_tui.core.retrain._base import RetrainMode, weights_copy


class WeightRewind(RetrainMode):
    summary = "retrain pruned rungs from the dense rung's weights at prune.rewind_epoch / rewind_step"
    keeps_rewind_state = True

    def initial_rewind_state(self, prune, model):
        return weights_copy(model) if prune.rewind_epoch == 0 and prune.rewind_step == 0 else None

    def start_rung(self, prune, model, rewind_state, reinit_seed: int) -> None:
        if rewind_state is not None:
            model.load_state_dict(rewind_state)

    def rewind_epoch(self, prune, rung: int) -> int | None:
        return prune.rewind_epoch if rung == 0 and not prune.rewind_step else None

    def rewind_point(self, prune, steps_per_epoch: int) -> tuple[int, int] | None:
        step = prune.rewind_step
        if not step:
            return None
        return (step - 1) // steps_per_epoch + 1, (step - 1) % steps_per_epoch + 1

    def check(self, prune, train) -> str | None:
        if prune.rewind_epoch > train.dense_epochs:
            return (f"prune.rewind_epoch = {prune.rewind_epoch}: beyond the {train.dense_epochs} dense epochs; "
                    f"use 0..{train.dense_epochs}")
        return None

    def check_data(self, prune, train, steps_per_epoch: int) -> str | None:
        steps = train.dense_epochs * steps_per_epoch
        if prune.rewind_step > steps:
            return (f"prune.rewind_step = {prune.rewind_step}: the dense rung has only {steps} steps "
                    f"({train.dense_epochs} epochs of {steps_per_epoch}); use 1..{steps} or more "
                    f"train.dense_epochs")
        return None


RETRAIN_MODES.register("weight-rewind", WeightRewind())
