"""reinit: each pruned rung restarts from a fresh random init (drawn from the rung's own seed) under its
mask: the random-reinitialisation control of the lottery-ticket literature."""
from dsd_tui.core.retrain import RETRAIN_MODES
from dsd_tui.core.retrain._base import RetrainMode


class Reinit(RetrainMode):
    summary = "retrain pruned rungs from a fresh random init"

    def start_rung(self, prune, model, rewind_state, reinit_seed: int) -> None:
        import torch

        from dsd_tui.core.models import reinitialise  # torch only when a rung starts
        torch.manual_seed(reinit_seed)
        reinitialise(model)


RETRAIN_MODES.register("reinit", Reinit())
