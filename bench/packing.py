"""How much does packing several ladders on one GPU gain? Aggregate training throughput of 1, 2, 4 ladders at once.

    python bench/packing.py --device cuda                      # ResNet-18, batch 128, 1, 2 and 4 processes
    python bench/packing.py --device cpu --smoke               # tiny sizes: checks that every step runs

What `dsd-tui sweep --gpus-per-ladder 0.25` does to a GPU: several independent ladder processes train on
it at the same time. For each concurrency k, k fresh processes (spawned, as Ray workers are) each build
the engine's rung-1 training step exactly as the ladder runs it (ResNet-18 on synthetic CIFAR-shaped data
held on the device, on-device crop+flip, 20% pruned by global magnitude, the compact SGD step, fp32, the
profile's default speed settings), warm up for one epoch, wait at a barrier, then train `--rounds` epochs.
Printed per k: the aggregate images/s (the sum of every process's own images/s over the same window), the
images/s of one ladder, the gain over one ladder alone (where k = 1 is measured; `-` otherwise), and each
process's peak GPU memory (CUDA: `torch.cuda.max_memory_allocated`) or peak RSS (CPU). Packing pays while
the aggregate keeps growing with k.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path


def worker(rank: int, args: dict, barrier, results) -> None:
    import torch

    from dsd_tui.core.data import Batcher, load_data
    from dsd_tui.core.models import build_model
    from dsd_tui.core.pruning import Masks
    from dsd_tui.core.training import make_optimizer, train_epoch
    from dsd_tui.profile import DataSection, ModelSection, TrainSection
    from dsd_tui.record.memory import gpu_peak_mb, peak_rss_mb
    from dsd_tui.speed.modes import Speed

    try:
        torch.set_num_threads(args["threads"])
        device = torch.device(args["device"])
        cfg = DataSection(dataset="synthetic", synthetic_size=args["steps"] * args["batch"], val_size=16,
                          train_size=0, noise=0.2, batch_size=args["batch"])
        bundle = load_data(cfg, seed=rank).to(device)
        speed = Speed.from_profile(TrainSection(), device, bundle.images, torch.get_num_threads())
        torch.manual_seed(rank)
        model = speed.place(build_model(args["model"], ModelSection(), bundle.input_shape, bundle.num_classes), device)
        masks = Masks(model)
        masks.prune_global(0.2)  # rung 1
        opt = make_optimizer(model.parameters(), "sgd", 0.01, 0.9, 1e-4, masks=masks)
        batcher = Batcher(bundle, device, speed.channels_last)
        gen = torch.Generator(device=device).manual_seed(rank)

        def epoch():
            train_epoch(model, masks, batcher, bundle.train, args["batch"], gen, opt, autocast=speed.autocast())

        epoch()  # warm-up: allocator, cuDNN autotuning
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        barrier.wait()
        t0 = time.perf_counter()
        for _ in range(args["rounds"]):
            epoch()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
        memory = gpu_peak_mb(device) if device.type == "cuda" else peak_rss_mb()
        results.put({"rank": rank, "images_per_s": args["rounds"] * len(bundle.train) / seconds,
                     "seconds": seconds, "peak_mb": memory})
    except BaseException as e:  # noqa: BLE001 - reported by the parent, which must not wait forever
        barrier.abort()
        results.put({"rank": rank, "error": f"{e.__class__.__name__}: {e}"})


def measure(k: int, args: dict) -> dict:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(k), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(rank, args, barrier, results)) for rank in range(k)]
    for p in procs:
        p.start()
    rows = [results.get(timeout=args["timeout"]) for _ in procs]
    for p in procs:
        p.join()
    errors = [r["error"] for r in rows if "error" in r]
    if errors:
        raise SystemExit(f"{k} at once: {errors[0]}")
    return {"concurrent": k, "aggregate_images_per_s": sum(r["images_per_s"] for r in rows),
            "per_ladder_images_per_s": statistics.mean(r["images_per_s"] for r in rows),
            "peak_mb": max(r["peak_mb"] or 0.0 for r in rows)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--model", default="resnet18", choices=["resnet18", "vgg"])
    ap.add_argument("--concurrency", default="1,2,4", help="comma list of ladders at once")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=50, help="steps per epoch")
    ap.add_argument("--rounds", type=int, default=3, help="timed epochs per process")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CPU check that every step runs)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for one concurrency's results")
    ap.add_argument("--json", help="write the results to this file")
    a = ap.parse_args(argv)
    if a.smoke:
        a.batch, a.steps, a.rounds, a.model = 8, 1, 1, "vgg"
    args = {k: getattr(a, k) for k in ("device", "model", "batch", "steps", "rounds", "threads", "timeout")}
    print(f"# packing: {a.model}, batch {a.batch}, {a.steps} steps × {a.rounds} epochs per process on {a.device}, "
          f"{a.threads} thread(s) each")
    print(f"{'at once':>7} {'aggregate img/s':>15} {'per ladder':>10} {'gain vs 1':>9} {'peak MiB/process':>16}")
    rows, base = [], None
    for k in (int(x) for x in a.concurrency.split(",") if x):
        row = measure(k, args)
        base = row["aggregate_images_per_s"] if k == 1 else base  # one ladder alone, as measured
        row["gain"] = row["aggregate_images_per_s"] / base if base else None
        rows.append(row)
        gain = f"{row['gain']:8.2f}x" if base else "        -"
        print(f"{k:7d} {row['aggregate_images_per_s']:15.0f} {row['per_ladder_images_per_s']:10.0f} "
              f"{gain} {row['peak_mb']:16.0f}", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"args": args, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
