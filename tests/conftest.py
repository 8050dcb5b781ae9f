"""Shared test helpers: short real ladders and tiny CIFAR files in the real on-disk format."""
from __future__ import annotations

import os
import pickle
import signal
from pathlib import Path

# The suite's expectations were derived on the CPU and every bundled profile says device = "auto": on a GPU
# host the tests would train on CUDA. Hide the GPUs before torch is imported (and so from every subprocess
# the tests start), unless DSD_TUI_TEST_GPU=1 asks for them.
if os.environ.get("DSD_TUI_TEST_GPU") != "1":
    os.environ["CUDA_VISIBLE_DEVICES"] = ""

import numpy as np
import pytest
import torch
from shared_runs import (
    build_finished_run,
    build_once,
    build_recorded_sweep,
    copy_shared,
    fingerprint,
    finished_run_dir,
    printed,
)

torch.set_num_threads(1)

SHORT = ("prune.rungs=2", "train.dense_epochs=3", "train.epochs=2")


def short_overrides(*extra: str) -> list[str]:
    out = []
    for item in SHORT + extra:
        out += ["--set", item]
    return out


def write_cifar(root: Path, dataset: str = "cifar10", n_train: int = 60, n_test: int = 20, seed: int = 0) -> Path:
    """Tiny CIFAR files with the real python-pickle layout (pickled dicts: "data" N×3072 uint8 and a label list)."""
    rng = np.random.default_rng(seed)
    if dataset == "cifar10":
        folder, label_key, classes = root / "cifar-10-batches-py", "labels", 10
        per = n_train // 5
        files = {f"data_batch_{i}": per for i in range(1, 6)}
        files["test_batch"] = n_test
    else:
        folder, label_key, classes = root / "cifar-100-python", "fine_labels", 100
        files = {"train": n_train, "test": n_test}
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in files.items():
        entry = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 label_key: [int(v) for v in rng.integers(0, classes, n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    meta = "batches.meta" if dataset == "cifar10" else "meta"
    key = "label_names" if dataset == "cifar10" else "fine_label_names"
    with open(folder / meta, "wb") as f:
        pickle.dump({key: [f"c{i}".encode() for i in range(classes)]}, f)
    return root


class _Numpy1Pickler(pickle._Pickler):
    """Pickles numpy arrays as numpy 1.x did (`numpy.core.multiarray._reconstruct`), whatever numpy runs here:
    the module path of the CIFAR-100N labels file as distributed."""

    def save_global(self, obj, name=None):
        core = getattr(np, "_core", None) or np.core
        if obj is core.multiarray._reconstruct:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


class _Numpy1PickleModule:
    Pickler = _Numpy1Pickler
    Unpickler = pickle.Unpickler


def cifar100_train_labels(root: Path) -> np.ndarray:
    with open(root / "cifar-100-python" / "train", "rb") as f:
        return np.array(pickle.load(f)["fine_labels"], dtype=np.int64)


def write_cifar100n_labels(path: Path, clean: np.ndarray, noise: float = 0.4, seed: int = 0,
                           numpy1: bool = True) -> np.ndarray:
    """A CIFAR-100N-style labels file (torch.save of a dict of numpy arrays `clean_label`, `noisy_label`),
    by default pickled with numpy 1.x's module path as the distributed CIFAR-100_human.pt is; about `noise`
    of the labels moved to another class. Returns the noisy labels."""
    rng = np.random.default_rng(seed)
    noisy = clean.copy()
    moved = rng.random(len(clean)) < noise
    noisy[moved] = (clean[moved] + rng.integers(1, 100, int(moved.sum()))) % 100
    entry = {"clean_label": clean, "noisy_label": noisy, "clean_coarse_label": clean // 5,
             "noisy_coarse_label": noisy // 5}
    torch.save(entry, path, pickle_module=_Numpy1PickleModule if numpy1 else pickle)
    return noisy


@pytest.fixture
def cifar10_dir(tmp_path):
    return write_cifar(tmp_path / "data", "cifar10")


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    """Every test gives pytest its own SIGINT/SIGTERM/SIGHUP handlers back (an in-process run that raised
    before its `stop_on_signals` block ended would otherwise leave its handlers to the next tests)."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


# ---------------------------------------------------------------- the shared results (shared_runs.py)

@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """The run directory of one finished short run of the default quickstart profile, through the real CLI,
    headless (`dsd-tui run --no-tui` with SHORT: prune.rungs=2, train.dense_epochs=3, train.epochs=2): both
    phases, teacher then student, rungs 0-2 each, a checkpoint per rung (checkpoints/<phase>-rungNN.pt),
    profile.toml, events.jsonl, summary.json, state/latest.pt. Built once per test run (shared by the xdist
    workers). Read-only: a test that resumes, deletes or corrupts takes `finished_run_copy`; a test that
    changes it fails at teardown (`shared_results_untouched`)."""
    return finished_run_dir(build_once(tmp_path_factory, "finished-run", lambda root: build_finished_run(root, SHORT)))


@pytest.fixture(scope="session")
def finished_run_output(finished_run) -> str:
    """What `dsd-tui run --no-tui` printed while building `finished_run`: the run directory on the first line,
    then the headless table, one line per rung."""
    return printed(finished_run)


@pytest.fixture(scope="session")
def recorded_sweep(tmp_path_factory) -> Path:
    """The directory of one finished sweep, as `dsd-tui sweep` writes it (built without Ray, each ladder
    through `sweep.run_ladder`): the quickstart profile with shared_runs.SWEEP_SETS (4 rungs, stop criteria
    that fire), grid data.noise=0.2,0.4, seeds 0,1: sweep.json and four finished ladders named
    data.noise-<n>__seed-<s>. Built once per test run (shared by the xdist workers). Read-only: a test that
    modifies it takes `recorded_sweep_copy`; a test that changes it fails at teardown."""
    return build_once(tmp_path_factory, "recorded-sweep", build_recorded_sweep) / "sweep"


@pytest.fixture
def finished_run_copy(finished_run, tmp_path) -> Path:
    """A writable copy of `finished_run` at tmp_path/runs/<its name>, for a test that modifies the run."""
    return copy_shared(finished_run, tmp_path / "runs")


@pytest.fixture
def recorded_sweep_copy(recorded_sweep, tmp_path) -> Path:
    """A writable copy of `recorded_sweep` at tmp_path/sweep, for a test that modifies the sweep."""
    return copy_shared(recorded_sweep, tmp_path)


@pytest.fixture(autouse=True)
def shared_results_untouched(request):
    """A test that uses a shared result must leave it as it found it (no file added, removed or rewritten)."""
    used = [name for name in ("finished_run", "recorded_sweep") if name in request.fixturenames]
    before = {name: fingerprint(request.getfixturevalue(name)) for name in used}
    yield
    for name, seen in before.items():
        assert fingerprint(request.getfixturevalue(name)) == seen, \
            f"this test changed the shared {name}: it is read-only, take {name}_copy instead"


# The longest tests first (the bench scripts' smoke, then the other end-to-end files, then the fast lane),
# handed out by pytest-xdist's worksteal (idle workers take tests from busy ones): the two workers end
# together instead of one finishing a 70-second test alone at the end. Order never matters to a test (each
# is independent of the others).
LONGEST_FIRST = ("tests/project/test_gpu_check.py",)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        if any(item.nodeid.startswith(p) for p in LONGEST_FIRST):
            return 0
        return 1 if item.get_closest_marker("e2e") else 2
    items.sort(key=rank)  # stable: the collection order within each rank


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """`-n N` without `--dist` distributes with worksteal (set here, not in addopts, so that pytest without
    pytest-xdist still runs the suite in one process)."""
    if config.pluginmanager.hasplugin("xdist") and config.option.numprocesses and config.option.dist == "no":
        config.option.dist = "worksteal"
