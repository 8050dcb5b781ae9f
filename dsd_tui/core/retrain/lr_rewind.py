"""lr-rewind (the paper's): each pruned rung retrains from the weights the cut left, restarting the dense
rung's learning-rate schedule (Renda et al., ICLR 2020)."""
from dsd_tui.core.retrain import RETRAIN_MODES
from dsd_tui.core.retrain._base import RetrainMode


class LrRewind(RetrainMode):
    summary = "retrain from the pruned weights with the dense rung's learning-rate schedule (the paper's)"


RETRAIN_MODES.register("lr-rewind", LrRewind())
