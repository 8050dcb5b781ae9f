"""What a retraining mode decides, with the defaults of lr-rewind (the paper's): every rung retrains from
the pruned weights with the dense rung's learning-rate schedule, and nothing is rewound."""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: reading a profile's retraining mode imports no torch
    from torch import nn


class RetrainMode:
    """The hooks of one mode; a mode module subclasses this and overrides what it changes."""

    summary = ""  # one line for the profile docs
    keeps_rewind_state = False  # the rewind weights are part of the resume state

    def initial_rewind_state(self, prune, model: nn.Module) -> dict | None:
        """The rewind weights known when the phase's network is built (its initial weights), or None."""
        return None

    def start_rung(self, prune, model: nn.Module, rewind_state: dict | None, reinit_seed: int) -> None:
        """Set the weights a pruned rung retrains from, right after the cut (the ladder zeroes the pruned
        ones afterwards). `reinit_seed` is the rung's own seed for a fresh draw."""

    def schedule(self, prune, train, rung: int) -> tuple[float, list[int]]:
        """(learning rate, milestones) of a rung."""
        return train.lr, train.milestones

    def rewind_epoch(self, prune, rung: int) -> int | None:
        """The epoch of this rung at whose end the rewind weights are taken (None: none)."""
        return None

    def rewind_point(self, prune, steps_per_epoch: int) -> tuple[int, int] | None:
        """The dense-rung (epoch, step within it), both 1-based, whose weights are the rewind weights."""
        return None

    def check(self, prune, train) -> str | None:
        """A problem of the profile for this mode (one line, without the source), or None."""
        return None

    def check_data(self, prune, train, steps_per_epoch: int) -> str | None:
        """A problem only the data can show (the number of steps of the dense rung), or None."""
        return None


def weights_copy(model: nn.Module) -> dict:
    return copy.deepcopy(model.state_dict())
