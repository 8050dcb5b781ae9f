"""The checks of bench/gpu_check.sh that are more than one command: each a subcommand that prints what it
measured and exits non-zero when the check fails, so the script prints one verdict per check
(docs/reliability.md, "Before the first GPU run"). They run on the CPU too (the script's --smoke mode,
tests/project/test_gpu_check.py), where the CUDA-only parts say they do not apply. torch is imported by
the checks that use it: cross-device, device-strings and ray only start CLIs (each imports torch itself)
and, on a host without the NVIDIA driver, know without it that CUDA is not available.

    python bench/gpu_checks.py preflight
    python bench/gpu_checks.py ladder RUN_DIR            # a finished 2-rung ladder: structure and files
    python bench/gpu_checks.py cross-device OUT -- SETS   # resume on the other device: one line, no traceback
    python bench/gpu_checks.py device-strings
    python bench/gpu_checks.py numerics [--smoke]          # kept-weights vs plain step: bitwise, step times
    python bench/gpu_checks.py ray OUT [--num-cpus N] -- SETS  # ladders with 0 and 0.5 GPUs: the device each used
"""
from __future__ import annotations

import ctypes
import functools
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path


@functools.cache
def cuda_devices() -> int:
    """The CUDA devices torch can use here: 0 where CUDA is not available. Where the NVIDIA driver's library
    cannot be loaded CUDA cannot be available, and the answer costs no torch import (~1.5 s on a small CPU)."""
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def cli(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dsd_tui", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def fail(message: str) -> None:
    print(f"FAILED: {message}")
    sys.exit(1)


def preflight(_args) -> None:
    import importlib.util

    import torch
    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
          f"CUDA available: {cuda}" + (f", {torch.cuda.device_count()} device(s): {torch.cuda.get_device_name(0)}"
                                      if cuda else ""))
    for name in ("ray", "triton"):
        spec = importlib.util.find_spec(name)
        version = __import__(name).__version__ if spec else "not installed"
        print(f"{name}: {version}")
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    print(f"C compiler: {cc or 'none'}; Python.h: {'present' if header.is_file() else 'missing'} "
          f"({'train.compile can build its kernels' if cc and header.is_file() else 'train.compile WILL FAIL here'})")
    if os.environ.get("GPU_CHECK_NEED_CUDA") == "1" and not cuda:
        fail("CUDA is not available")


def ladder(args) -> None:
    """A finished 2-rung ladder (teacher + KD student): 3 + 3 rungs; remaining weights = round(0.8^k · total);
    every checkpoint and the resume state load on the CPU with weights_only=True; the generator state has
    the size of the run's device; the peak GPU memory per rung."""
    import torch
    cuda = torch.cuda.is_available()
    run = Path(args[0])
    s = json.loads((run / "summary.json").read_text())
    problems = []
    if s["status"] != "completed" or [len(p["rungs"]) for p in s["phases"]] != [3, 3]:
        problems.append(f"status {s['status']}, rungs {[len(p['rungs']) for p in s['phases']]} (want completed, 3+3)")
    for phase in s["phases"]:
        total = phase["rungs"][0]["remaining_weights"]
        for r in phase["rungs"]:
            want = round(0.8 ** r["rung"] * total)
            if abs(r["remaining_weights"] - want) > 1:
                problems.append(f"{phase['name']} rung {r['rung']}: {r['remaining_weights']} weights, want {want}")
    for f in sorted((run / "checkpoints").glob("*.pt")) + [run / "state" / "latest.pt"]:
        try:
            torch.load(f, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any failure is the check's answer
            problems.append(f"{f.name} does not load on the CPU with weights_only=True ({e.__class__.__name__})")
    state = torch.load(run / "state" / "latest.pt", map_location="cpu", weights_only=True)
    device = s["environment"]["device"]
    want = torch.Generator(device=device).get_state().numel() if device.startswith("cuda") and cuda else 5056
    got = state["generator"].numel()
    print(f"device {device}; generator state {got} bytes (want {want}); rungs "
          f"{[len(p['rungs']) for p in s['phases']]}; gpu_peak_mb per rung "
          f"{[r.get('gpu_peak_mb') for p in s['phases'] for r in p['rungs']]}")
    if got != want:
        problems.append(f"generator state of {got} bytes on {device}, want {want}")
    if problems:
        fail("; ".join(problems))
    print("ladder structure, files and generator: as expected")


def cross_device(args) -> None:
    """Start on one device, resume on the other (both ways on a GPU host): a clear answer, never a traceback.
    On a CPU-only host only the CPU → CPU resume can be run (it must complete)."""
    out, sets = Path(args[0]), args[args.index("--") + 1:]
    ways = [("cpu", "cuda"), ("cuda", "cpu")] if cuda_devices() else [("cpu", "cpu")]
    bad = []
    for start, resume in ways:
        hide = {"CUDA_VISIBLE_DEVICES": ""}
        run = interrupted(out / f"{start}-{resume}", sets, hide if start == "cpu" else {})
        if run is None:
            bad.append(f"{start}: the first run left no resume state")
            continue
        second = cli("resume", str(run), "--no-tui", env=hide if resume == "cpu" else None, timeout=120)
        err = second.stderr.strip()
        print(f"{start} → {resume}: exit {second.returncode}; {err.splitlines()[-1] if err else 'no message'}")
        if "Traceback" in second.stderr or (second.returncode != 0 and err.count("\n") > 0):
            bad.append(f"{start} → {resume}: a traceback or more than one line")
        if start == resume and second.returncode != 0:
            bad.append(f"{start} → {resume}: did not complete")
        if start != resume and second.returncode != 2:
            bad.append(f"{start} → {resume}: exit {second.returncode}, want 2 (the generator cannot move)")
    if bad:
        fail("; ".join(bad))


def interrupted(out: Path, sets: list, env: dict) -> Path | None:
    """A run started in a subprocess and stopped with SIGTERM once its first rung has finished (exit 130,
    resumable); its folder, or None if it left no resume state."""
    import signal
    import time
    proc = subprocess.Popen([sys.executable, "-m", "dsd_tui", "run", "--no-tui", "--out", str(out), *sets,
                             "--set", "run.device=auto", "--set", "train.epochs=50"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**os.environ, **env})
    run = Path(proc.stdout.readline().strip())
    end = time.time() + 120
    while time.time() < end and proc.poll() is None:
        if (run / "events.jsonl").is_file() and '"rung_finished"' in (run / "events.jsonl").read_text():
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    return run if (run / "state" / "latest.pt").is_file() and proc.returncode == 130 else None


def device_strings(_args) -> None:
    """cuda:0 is usable on a GPU host; cuda:N (one past the last GPU) is one line, exit 2; on a CPU host,
    where N is 0, that one call is the check: every cuda device string takes the same refusal there
    (core/ladder.py pick_device), so a second one ("cuda") would only start another torch."""
    bad = []
    cases = [(f"cuda:{cuda_devices()}", 2)] + ([("cuda:0", 0)] if cuda_devices() else [])
    for spec, want in cases:
        r = cli("doctor", "--set", f"run.device={spec}", "--set", "prune.rungs=1", "--set", "train.epochs=1",
                "--set", "train.dense_epochs=1", "--json", timeout=120)
        line = (r.stderr.strip().splitlines() or [""])[-1]
        print(f"run.device={spec}: exit {r.returncode}; {line[:160]}")
        if r.returncode != want or "Traceback" in r.stderr:
            bad.append(f"{spec}: exit {r.returncode}, want {want}")
    if bad:
        fail("; ".join(bad))


def ray_placement(args) -> None:
    """A tiny sweep with 0 GPUs per ladder (and 0.5 on a GPU host): the device each ladder trained on.
    `--num-cpus N` (before `--`) is given to the sweep: the CPUs a local cluster may use (the smoke's 1)."""
    out, sets = Path(args[0]), args[args.index("--") + 1:]
    options = args[1:args.index("--")]
    bad = []
    for gpus in (["0", "0.5"] if cuda_devices() else ["0"]):
        r = cli("sweep", "--grid", "data.noise=0.1,0.2", "--seeds", "0", "--out", str(out / f"gpus-{gpus}"),
                "--gpus-per-ladder", gpus, "--table-every", "0", *options, *sets, "--set", "run.device=auto",
                timeout=240)
        devices = sorted(json.loads((d / "summary.json").read_text())["environment"]["device"]
                         for d in (out / f"gpus-{gpus}").iterdir() if (d / "summary.json").is_file())
        print(f"--gpus-per-ladder {gpus}: exit {r.returncode}; ladders trained on {devices}")
        want = "cpu" if gpus == "0" else "cuda"
        if r.returncode != 0 or len(devices) != 2 or any(not d.startswith(want) for d in devices):
            bad.append(f"--gpus-per-ladder {gpus}: exit {r.returncode}, devices {devices}, want 2 on {want}")
    if bad:
        fail("; ".join(bad))


def numerics(args) -> None:
    """On this device: the kept-weights optimizer step against the plain masked step (mask grads → step all
    → mask weights), bitwise over 25 steps of a pruned channels_last VGG-like net, SGD and Adam; and the
    time of each step (the last 20), since the compact step was measured faster on the CPU only.
    `--smoke` (the script's CPU smoke mode): a smaller net (depth 2, widths 8 and 16) and batch (8) at one
    thread, the same steps and comparisons."""
    import copy
    import time

    import torch

    from dsd_tui.core.models import VGGLike
    from dsd_tui.core.pruning import Masks
    from dsd_tui.core.training import make_optimizer, masked_step

    smoke = "--smoke" in args
    depth, width_exp, batch = (2, 3, 8) if smoke else (3, 4, 64)
    if smoke:
        torch.set_num_threads(1)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    bad = []
    for optimizer in ("sgd", "adam"):
        torch.manual_seed(0)
        base = VGGLike(depth, width_exp, 10).to(device, memory_format=torch.channels_last)
        x = torch.randn(batch, 3, 32, 32, device=device).to(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (batch,), device=device)
        trained, seconds = [], []
        for compact in (False, True):
            model = copy.deepcopy(base)
            masks = Masks(model)
            for _ in range(10):
                masks.prune_global(0.2)  # 89% sparsity
            opt = make_optimizer(model.parameters(), optimizer, 0.05, 0.9, 1e-3, masks=masks if compact else None)
            for step in range(25):  # 5 warm-up steps, 20 timed
                if step == 5:
                    if cuda:
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
                masked_step(opt, masks)
            if cuda:
                torch.cuda.synchronize()
            seconds.append((time.perf_counter() - t0) / 20)
            trained.append(model)
        def bits(t):  # the raw bits: -0.0 and +0.0 differ
            t = t.detach().contiguous()
            return t.view(torch.int32) if t.dtype == torch.float32 else t
        differ = sum(int((bits(a) != bits(b)).sum()) for a, b in zip(trained[0].state_dict().values(),
                                                                     trained[1].state_dict().values()))
        print(f"{optimizer} on {device}: plain step {seconds[0] * 1e3:.2f} ms, kept-weights step "
              f"{seconds[1] * 1e3:.2f} ms ({seconds[0] / seconds[1]:.2f}x); {differ} weights differ after 25 steps")
        if differ:
            bad.append(f"{optimizer}: {differ} weights differ")
    if bad:
        fail("; ".join(bad))


COMMANDS = {"preflight": preflight, "numerics": numerics, "ladder": ladder, "cross-device": cross_device,
            "device-strings": device_strings, "ray": ray_placement}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](sys.argv[2:])
