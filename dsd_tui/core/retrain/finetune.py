"""finetune: each pruned rung retrains from the weights the cut left at the constant prune.finetune_lr
(no milestones), as He et al. (ICML 2022) fine-tune."""
from dsd_tui.core.retrain import RETRAIN_MODES
from dsd_tui.core.retrain._base import RetrainMode


class Finetune(RetrainMode):
    summary = "retrain pruned rungs at the constant prune.finetune_lr"

    def schedule(self, prune, train, rung: int) -> tuple[float, list[int]]:
        return (prune.finetune_lr, []) if rung > 0 else (train.lr, train.milestones)


RETRAIN_MODES.register("finetune", Finetune())
