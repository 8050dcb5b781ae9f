"""`dsd-tui sweep --gpus-per-ladder F`: the printed plan says how many ladders run at once on which
resources, with Ray's own placement rules (a fraction of one GPU per task, never across GPUs); checked
on the arithmetic and on a real local Ray cluster that declares one (logical) GPU, on the CPU (an e2e test)."""
from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner
from fake_ray import FakeRay

from dsd_tui.cli import main
from dsd_tui.errors import UsageError
from dsd_tui.study.resource_plan import Node, gpus_per_ladder, plan

TINY = ["prune.rungs=1", "train.dense_epochs=1", "train.epochs=1"]


@pytest.mark.parametrize("nodes, gpus, at_once, bound", [
    ([Node("a", 16, 1)], 0.25, 4, "GPUs"),  # four ladders share the GPU
    ([Node("a", 3, 1)], 0.25, 3, "CPUs"),  # one CPU per ladder: only three fit
    ([Node("a", 16, 2)], 0.4, 4, "GPUs"),  # two per GPU: 0.4 + 0.4 + 0.2 of two GPUs is not a third place
    ([Node("a", 16, 4)], 2, 2, "GPUs"),
    ([Node("a", 16, 1), Node("b", 8, 2)], 0.5, 6, "GPUs"),  # 2 on a, 4 on b
    ([Node("a", 2, 0)], 0, 2, "CPUs"),  # CPU only: one ladder per CPU
])
def test_the_plan_is_what_ray_can_place(nodes, gpus, at_once, bound):
    p = plan(nodes, 12, 1.0, gpus)
    assert p.at_once == at_once
    assert p.rounds == -(-12 // at_once)
    assert all(n.limit == bound for n in p.nodes if n.at_once)
    assert p.lines()[0].startswith(f"plan: 12 ladder(s), {at_once} at a time")
    assert len(p.lines()) == 1 + len(nodes)
    assert plan(nodes, 2, 1.0, gpus).at_once == min(2, at_once)  # never more than there are ladders


@pytest.mark.parametrize("requested, cluster, words", [
    (-1, 1, "must be >= 0"),
    (1.5, 4, "whole number"),
    (0.5, 0, "has no GPUs"),
    (3, 2, "more than the cluster's 2 GPUs"),
])
def test_requests_ray_cannot_grant_are_one_clear_error(requested, cluster, words):
    with pytest.raises(UsageError, match=words):
        gpus_per_ladder(requested, cluster)


def test_the_default_is_one_gpu_per_ladder_where_there_are_gpus_else_none():
    assert gpus_per_ladder(None, 8) == 1.0 and gpus_per_ladder(None, 0) == 0.0


@pytest.fixture(scope="module")
def one_gpu_cluster():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'dsd-tui[ray]')")
    # a logical GPU: Ray schedules on declared resources, so the plan can be checked on a CPU machine. Ray
    # refuses a GPU that CUDA_VISIBLE_DEVICES hides, and conftest hides every GPU from the suite: lift it here.
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        ray.init(address="local", num_cpus=4, num_gpus=1, include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=False)
        yield ray
        ray.shutdown()


@pytest.mark.e2e  # starts a real Ray cluster: not in the fast lane (README)
def test_the_plan_comes_from_the_real_clusters_nodes(one_gpu_cluster):
    """Needs Ray: the plan reads `ray.nodes()` and `ray.cluster_resources()` as Ray reports them (the keys and
    the logical GPU); a fake would only repeat what the code assumes."""
    from dsd_tui.study import sweep as sweep_mod

    cpus, gpus, the_plan = sweep_mod.task_resources(one_gpu_cluster, sweep_mod.SweepOptions(gpus_per_task=0.25), 6)
    assert (cpus, gpus) == (1.0, 0.25)
    lines = the_plan.lines()
    assert lines[0] == ("plan: 6 ladder(s), 4 at a time (0.25 GPU and 1 CPU per ladder); "
                        "2 round(s) if they take the same time")
    assert len(lines) == 2 and lines[1].endswith(": 4 at once (4 per GPU on 1 GPU(s), 4 CPUs; bounded by GPUs)")
    default = sweep_mod.task_resources(one_gpu_cluster, sweep_mod.SweepOptions(), 6)[2]
    assert (default.gpus, default.at_once) == (1.0, 1)  # one GPU per ladder where the cluster has GPUs


def test_a_request_ray_cannot_grant_is_one_line_before_anything_is_written(tmp_path, monkeypatch):
    from dsd_tui.study import sweep as sweep_mod
    fake = FakeRay()  # the refusal comes before the driver connects: a fake Ray, never started
    monkeypatch.setattr(sweep_mod, "import_ray", lambda: fake)
    out = tmp_path / "sweep"
    for option in ("--gpus-per-ladder", "--gpus-per-task"):  # the new name and the older one
        result = CliRunner().invoke(main, ["sweep", "--seeds", "0,1", "--out", str(out), option, "1.5",
                                           *[a for s in TINY for a in ("--set", s)]])
        assert result.exit_code == 2, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and "whole number" in result.stderr
        assert not out.exists()
    assert fake.inits == []
