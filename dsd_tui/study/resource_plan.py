"""How many ladders of a sweep run at once, on which resources: the plan `dsd-tui sweep` prints first.

Why it exists: `--gpus-per-ladder F` (a fraction packs several ladders on one GPU, e.g. 0.25 = four)
is only useful if the user can see, before hours of GPU time start, what Ray will actually do with
it. Ray places a task on one node, and a fractional GPU request on one GPU of that node: fractions
of two GPUs never add up for one task, so a node with G GPUs holds G·⌊1/F⌋ ladders at F ≤ 1 and
⌊G/F⌋ at whole F > 1, and never more than ⌊its CPUs / CPUs per ladder⌋. The plan is computed from
the cluster's nodes as Ray reports them (`ray.nodes()`), so it is the same arithmetic Ray's scheduler
does, stated in advance; docs/scaling.md says when packing pays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from dsd_tui.errors import UsageError

EPS = 1e-6  # Ray keeps resource amounts to 1e-4; this only absorbs float noise such as 1 / 0.1


@dataclass(frozen=True)
class Node:
    name: str
    cpus: float
    gpus: float


@dataclass(frozen=True)
class NodePlan:
    node: Node
    at_once: int  # ladders this node runs at the same time
    limit: str  # what bounds it: "GPUs" or "CPUs"
    per_gpu: int  # ladders sharing one GPU (0 on a CPU-only plan)


@dataclass(frozen=True)
class ResourcePlan:
    ladders: int  # ladders to run (not the ones already finished)
    cpus: float  # per ladder
    gpus: float  # per ladder
    nodes: tuple[NodePlan, ...]

    @property
    def at_once(self) -> int:
        return min(self.ladders, sum(n.at_once for n in self.nodes))

    @property
    def rounds(self) -> int:
        """Ladders one slot runs one after another, if all took the same time."""
        return math.ceil(self.ladders / self.at_once) if self.at_once else 0

    def lines(self) -> list[str]:
        each = f"{self.gpus:g} GPU and {self.cpus:g} CPU per ladder" if self.gpus else f"{self.cpus:g} CPU per ladder"
        head = (f"plan: {self.ladders} ladder(s), {self.at_once} at a time ({each}); "
                f"{self.rounds} round(s) if they take the same time")
        lines = [head]
        for n in self.nodes:
            if self.gpus:
                share = (f"{n.per_gpu} per GPU on {n.node.gpus:g} GPU(s)" if self.gpus <= 1
                         else f"{self.gpus:g} GPUs each on {n.node.gpus:g} GPU(s)")
                lines.append(f"  node {n.node.name}: {n.at_once} at once ({share}, {n.node.cpus:g} CPUs; "
                             f"bounded by {n.limit})")
            else:
                lines.append(f"  node {n.node.name}: {n.at_once} at once on {n.node.cpus:g} CPUs")
        return lines


def check_request(requested: float | None) -> None:
    """What no cluster could grant, caught before anything is written."""
    if requested is None:
        return
    if requested < 0:
        raise UsageError(f"--gpus-per-ladder {requested:g}: must be >= 0 (0: CPU only)")
    if requested > 1 and abs(requested - round(requested)) > EPS:
        raise UsageError(f"--gpus-per-ladder {requested:g}: above 1 it must be a whole number (Ray does not split "
                         f"a ladder over parts of several GPUs); use a fraction <= 1 or 1, 2, ...")


def gpus_per_ladder(requested: float | None, cluster_gpus: float) -> float:
    """The GPUs each ladder asks for: `requested`, or 1 where the cluster has GPUs and 0 where it has none.
    Raises UsageError for what this cluster cannot grant."""
    check_request(requested)
    gpus = requested if requested is not None else (1.0 if cluster_gpus > 0 else 0.0)
    if gpus > 0 and cluster_gpus == 0:
        raise UsageError(f"--gpus-per-ladder {gpus:g}: the Ray cluster has no GPUs; use --gpus-per-ladder 0")
    if gpus > max(cluster_gpus, 1.0):
        raise UsageError(f"--gpus-per-ladder {gpus:g}: more than the cluster's {cluster_gpus:g} GPUs")
    return gpus


def plan(nodes: list[Node], ladders: int, cpus: float, gpus: float) -> ResourcePlan:
    """What Ray will run at once: per node the smaller of its GPU slots and its CPU slots."""
    out = []
    for node in nodes:
        cpu_slots = math.floor(node.cpus / cpus + EPS) if cpus > 0 else ladders
        if gpus <= 0:
            out.append(NodePlan(node, cpu_slots, "CPUs", 0))
            continue
        if gpus <= 1:
            per_gpu = math.floor(1 / gpus + EPS)
            gpu_slots = math.floor(node.gpus + EPS) * per_gpu
        else:
            per_gpu, gpu_slots = 0, math.floor(node.gpus / gpus + EPS)
        out.append(NodePlan(node, min(gpu_slots, cpu_slots), "GPUs" if gpu_slots <= cpu_slots else "CPUs", per_gpu))
    result = ResourcePlan(ladders, cpus, gpus, tuple(out))
    if ladders and result.at_once == 0:
        raise UsageError(f"no node of the Ray cluster can run a ladder with {gpus:g} GPU and {cpus:g} CPU; "
                         f"lower --gpus-per-ladder or add resources")
    return result


def cluster_nodes(ray) -> list[Node]:
    """The live nodes of the connected Ray cluster, with the CPUs and GPUs Ray schedules on."""
    nodes = []
    for info in ray.nodes():
        if not info.get("Alive", True):
            continue
        res = info.get("Resources", {})
        name = info.get("NodeManagerHostname") or info.get("NodeManagerAddress") or info.get("NodeID", "?")[:8]
        nodes.append(Node(str(name), float(res.get("CPU", 0.0)), float(res.get("GPU", 0.0))))
    return nodes
