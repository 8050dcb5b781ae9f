"""The CSR-kernel spy shared by test_sparse_auto and test_sparse_kernels: which layers each rung put on the
sparse kernels, seen through the one function that puts them there (`speed.modes.sparse_linears`)."""
from __future__ import annotations

import contextlib

import pytest

from dsd_tui.speed import modes as speed_mod


@contextlib.contextmanager
def csr_spy():
    """Record, per rung, the layers the run put on CSR kernels (None: the rung never asked for them)."""
    used = []
    real = speed_mod.sparse_linears

    @contextlib.contextmanager
    def spy(model, opt):
        with real(model, opt) as names:
            used.append(tuple(names))
            yield names

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(speed_mod, "sparse_linears", spy)
        yield used
