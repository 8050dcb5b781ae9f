"""Pruning criteria (`prune.criterion`): what a rung ranks the kept weights by, smaller pruned first.

One module per bundled criterion (magnitude.py, gradient.py, random.py) registers it in `CRITERIA`;
installed packages add more through the entry-point group `dsd_tui.criteria`, and Python code through
`CRITERIA.register(name, fn, origin=PYTHON)`. Every criterion, bundled or not, is called the same way
by `cut` (`_base.py`): dsd_tui decides which weights are in scope (`prune.scope`, `prune.output_layer`),
ranks only the still-kept weights (a pruned weight stays pruned, whatever its score), and seeds and
restores the global RNG around the call, so a resumed run cuts the same weights and the rest of the
run draws the same numbers. The plugin contract and its checks are `_plugin.py`; the preflight check
of a profile's criterion is `_check.py`.
"""
from __future__ import annotations

from dsd_tui.core.criteria._plugin import adapt
from dsd_tui.registry import Registry

CRITERIA = Registry("pruning criterion", package=__name__, group="dsd_tui.criteria", adapt=adapt,
                     python_api="dsd_tui.register_criterion")

from dsd_tui.core.criteria._base import Criterion, CutRequest, cut, once, score_batch  # noqa: E402 - after CRITERIA
from dsd_tui.core.criteria._check import check_criterion, check_profile_criterion  # noqa: E402

__all__ = ["CRITERIA", "Criterion", "CutRequest", "cut", "once", "score_batch", "check_criterion",
           "check_profile_criterion"]
