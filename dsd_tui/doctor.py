"""`dsd-tui doctor [PROFILE]`: can this machine run the profile, and what will it cost?

Why: the bundled paper profiles run for many hours on a remote GPU server; before starting one, a user
wants to know the device it will use, whether the data is there and verified, whether the checkpoints
fit the disk, and how long it will take, measured here rather than read from a table (dsd_tui/probe.py
runs a few epochs of the profile's own ladder). A problem that would stop the run (no data, too little
disk, an unusable device) is named with its fix, and the command exits 2 (bad input), like the run would.
"""
from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

# Retention "best-last" keeps, per phase, the best and the last rung; the rung just written makes 3 at
# most until the retention sink removes the one no longer needed (record/checkpoints.py).
BEST_LAST_PEAK = 3


@dataclass
class Report:
    machine: dict
    data: dict
    disk: dict = field(default_factory=dict)
    estimate: dict | None = None
    problems: list = field(default_factory=list)  # "what is wrong; the fix", each one line

    def to_json(self) -> dict:
        seconds = self.estimate["seconds"] if self.estimate else None
        return {"machine": self.machine, "data": self.data, "disk": self.disk, "estimated_seconds": seconds,
                "estimate": self.estimate, "ok": not self.problems, "problems": self.problems}

    def lines(self) -> list[str]:
        from dsd_tui.probe import hours_minutes

        m, d, k = self.machine, self.data, self.disk
        memory = f", {m['memory_gb']:.1f} GB" if m.get("memory_gb") else ""
        out = [f"device:   {m['device']} ({m['device_name']}{memory})",
               f"torch:    {m['torch']}, CUDA {m['cuda'] or 'none'}, cuDNN {m['cudnn'] or 'none'}; "
               f"{m['threads']} torch threads of {m['cpus']} CPUs",
               f"data:     {d['dataset'] or 'not checked'}" + (f" in {d['path']}" if d.get("path") else "") + ": "
               + ("present, " + {True: "checksums verified", False: "checksums do NOT match the official files",
                                 None: "no checksums to check"}[d["checksums_verified"]]
                  if d["present"] else "missing")]
        if k:
            need = "?" if k.get("need_bytes") is None else f"{k['need_bytes'] / 1e9:.2f} GB"
            out.append(f"disk:     {need} for {k['checkpoints']} checkpoints and the resume state "
                       f"(run.keep_checkpoints = {k['keep_checkpoints']}); {k['free_bytes'] / 1e9:.1f} GB free "
                       f"in {k['out']}")
        if self.estimate:
            e = self.estimate
            out.append(f"estimate: {hours_minutes(e['seconds'])} ({e['seconds']:,.0f} s) on {e['device']}, "
                       f"{e['epochs']:,} epochs, measured by a {e['probe_s']:.0f} s probe of the profile's own ladder")
        else:
            out.append("estimate: none (the probe needs the data)")
        out += [f"problem:  {p}" for p in self.problems]
        return out


def machine(device) -> dict:
    import torch

    from dsd_tui.core.environment import cudnn_version

    info = {"device": str(device), "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": cudnn_version(),
            "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "python": platform.python_version()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(device_name=props.name, memory_gb=props.total_memory / 1e9)
    else:
        pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
        info.update(device_name=platform.processor() or platform.machine(),
                    memory_gb=pages * os.sysconf("SC_PAGE_SIZE") / 1e9 if pages else None)
    return info


def free_bytes(out: Path) -> tuple[Path, int]:
    """Free space where run.out is (or would be created): its nearest existing folder."""
    where = out
    while not where.exists() and where != where.parent:
        where = where.parent
    return where, shutil.disk_usage(where).free


def checkpoint_count(prof) -> int:
    phases = 2 if prof.distill.enabled else 1
    if prof.run.keep_checkpoints == "best-last":
        return phases * min(prof.prune.rungs + 1, BEST_LAST_PEAK)
    return phases * (prof.prune.rungs + 1)


def unloadable(problem: str) -> Report:
    """The report for a profile that does not load (its problem, e.g. no data.path): the machine only."""
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return Report(machine(device), {"dataset": None, "path": None, "present": False, "checksums_verified": None},
                  problems=[problem])


def examine(prof, probe: bool = True) -> Report:
    """Everything `doctor` says about `prof` on this machine."""
    import torch

    from dsd_tui.core.ladder import pick_device
    from dsd_tui.errors import UsageError
    from dsd_tui.paths import expand
    from dsd_tui.runner import preflight

    if prof.run.threads:
        torch.set_num_threads(prof.run.threads)
    problems = []
    try:
        device = pick_device(prof.run.device)
    except UsageError as e:
        problems.append(str(e))
        device = torch.device("cpu")
    report = Report(machine(device), {"dataset": prof.data.dataset, "path": prof.data.path, "present": False,
                                      "checksums_verified": None}, problems=problems)
    data = None
    t0 = time.perf_counter()
    try:
        data = preflight(prof)
    except UsageError as e:
        if str(e) not in problems:  # the device's problem again
            problems.append(str(e))
    load_s = time.perf_counter() - t0  # a run reads its data the same way before it starts
    if data is not None:
        report.data.update(present=True, checksums_verified=data.noise.get("checksums_verified"),
                           train=len(data.train), val=len(data.val), test=len(data.test))
        if data.noise.get("checksums_verified") is False:
            problems.append(f"the {prof.data.dataset} files do not match the official checksums (the run records "
                            f"checksums_verified: false); fetch them again with `dsd-tui data fetch "
                            f"{prof.data.dataset} --path DIR`")
    estimate = None
    if data is not None and probe and not any("run.device" in p for p in problems):
        from dsd_tui.probe import measure
        from dsd_tui.study.estimate import ladder_epochs
        estimate = measure(prof, data)
        phases = len(estimate.phases)
        report.estimate = {"seconds": round(estimate.seconds + load_s, 1), "device": estimate.device,
                           "data_load_s": round(load_s, 2),
                           "probe_s": round(estimate.probe_s, 1), "fixed_s": round(estimate.fixed_s, 2),
                           "epochs": ladder_epochs(prof) * phases,
                           "phases": {k: dataclasses.asdict(v) for k, v in estimate.phases.items()}}
    out = expand(prof.run.out, "run.out").absolute()
    where, free = free_bytes(out)
    count = checkpoint_count(prof)
    rungs_all = (2 if prof.distill.enabled else 1) * (prof.prune.rungs + 1)
    need = None if estimate is None else (count * estimate.checkpoint_bytes + rungs_all * estimate.masks_bytes
                                          + estimate.state_bytes)
    report.disk = {"out": str(out), "measured_in": str(where), "free_bytes": free, "checkpoints": count,
                   "keep_checkpoints": prof.run.keep_checkpoints, "need_bytes": need,
                   "checkpoint_bytes": None if estimate is None else estimate.checkpoint_bytes}
    if need is not None and need > free:
        fix = ("set run.out to a folder on a larger disk" if prof.run.keep_checkpoints == "best-last" else
               "use --set run.keep_checkpoints=best-last or set run.out to a folder on a larger disk")
        problems.append(f"run.out = {prof.run.out!r}: the checkpoints need {need / 1e9:.2f} GB but {where} has "
                        f"{free / 1e9:.2f} GB free; {fix}")
    return report
