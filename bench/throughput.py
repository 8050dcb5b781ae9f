"""Training throughput of dsd_tui's path against a reference-style pipeline, in one process, side by side.

    PYTHONPATH=. python bench/throughput.py --model mlp                     # quickstart MLP, CPU
    PYTHONPATH=. python bench/throughput.py --model mlp --modes ref,plain,fp32 --sparsity 0.2,0.893,0.982
    PYTHONPATH=. python bench/throughput.py --model mlp --modes ref,fp32,sparse --masks-from runs/quickstart-…
    PYTHONPATH=. python bench/throughput.py --model mlp --modes ref,fp32,sparse --masks-from RUN --sparsity ladder
    python bench/throughput.py --model mlp --modes ref,default,fp32 --masks-from RUN --sparsity ladder  # issue 16
    PYTHONPATH=. python bench/throughput.py --model resnet18 --steps 3 --rounds 3   # CPU: a few steps
    PYTHONPATH=. python bench/throughput.py --model resnet18 --device cuda --modes ref,fp32,bf16,compile

Paths (same model, batch, optimizer, device and the same global-magnitude mask in every path;
`--sparsity`, default 0.2 = rung 1; the quickstart's rung k is at 1 − 0.8^k: 0.893 at rung 10, 0.982 at 18):
  ref      reference-style: PIL transforms in a DataLoader, torch.nn.utils.prune hooks, per-step .item()
  plain    dsd_tui's loop with a plain torch optimizer and masks applied around its step (before issue 6's
           compact step; bitwise the same weights as fp32)
  default  what a profile without speed keys runs (since issue 16: train.sparse_kernels = "auto", so on the
           CPU at one thread the `sparse` path below, elsewhere `fp32`); the figure the issue asks for
  fp32     dsd_tui's exact dense path (train.sparse_kernels = false; the default before issue 16): engine
           Batcher (device tensors, on-device crop+flip), train_epoch, Masks, and the KeptWeightsOptimizer
           (the optimizer steps the kept weights only)
  bf16     fp32 + bf16 autocast + channels_last (the engine's Speed, train.precision = "bf16")
  compile  fp32 + torch.compile of the forward (the engine's Speed, train.compile = true)
  sparse   fp32 + CSR kernels for the large Linear layers with ≤ 20% kept (train.sparse_kernels = true:
           the same sums in another order, not bitwise)
Masks: by default a global-magnitude prune of the freshly initialised model; `--masks-from RUN_DIR` takes
instead, for each `--sparsity`, the masks of the teacher rung of that run nearest to it (the per-layer
densities of a trained ladder, which decide which layers the sparse mode puts on CSR).
One timed unit is one epoch over `steps × batch` images (mlp: the quickstart's 1,000 digits). The
paths run interleaved, round after round (order alternating), so machine load hits all of them;
medians are reported. Also (flags): the entropy pass against one plain evaluation pass over the
training split, the teacher's forward under no_grad vs inference_mode (distillation), the host
syncs in one fp32 epoch (CUDA), and the cost of the per-rung checkpoint and of one resume-state save.
CPU results are reported in wall and in CPU time (steadier on a shared machine); see docs/benchmarks.md.
MLP: Adam lr 1e-3 (the quickstart); conv nets: SGD lr 0.01, momentum 0.9, weight decay 1e-4.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_pipeline as ref  # noqa: E402

from dsd_tui.core.data import Batcher, load_data  # noqa: E402
from dsd_tui.core.models import build_model  # noqa: E402
from dsd_tui.core.pruning import Masks  # noqa: E402
from dsd_tui.core.training import evaluate, make_optimizer, measure_train, train_epoch  # noqa: E402
from dsd_tui.profile import DataSection, ModelSection, TrainSection  # noqa: E402
from dsd_tui.record.rundir import atomic_torch_save  # noqa: E402
from dsd_tui.speed.modes import Speed  # noqa: E402

DEFAULT_SPARSITY = "0.2"  # one rung, so every path carries a real mask


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bundle_for(args):
    if args.model == "mlp":
        cfg = DataSection()  # the quickstart's digits: 1,000 train / 200 val, 40% noise
    else:
        cfg = DataSection(dataset="synthetic", synthetic_size=args.steps * args.batch, val_size=16, train_size=0,
                          noise=0.0, batch_size=args.batch)
    return load_data(cfg, seed=0)


def fresh_model(args, bundle) -> torch.nn.Module:
    """The model, freshly initialised (seed 0); with `--masks-from`, shaped as that run's model section."""
    torch.manual_seed(0)
    section = ModelSection()
    if args.masks_from:
        from dsd_tui import profile as profile_mod
        section = profile_mod.load(str(Path(args.masks_from, "profile.toml"))).model
    return build_model(args.model, section, bundle.input_shape, bundle.num_classes)


def optimizer_for(args, params, engine: bool, masks: Masks | None = None):
    """The engine's optimizer (compact over the kept weights when given the masks), or (reference)
    torch.optim with its defaults, as the authors build it."""
    if engine:
        if args.model == "mlp":
            return make_optimizer(params, "adam", 1e-3, 0.9, 0.0, masks=masks)
        return make_optimizer(params, "sgd", 0.01, 0.9, 1e-4, masks=masks)
    if args.model == "mlp":
        return torch.optim.Adam(params, lr=1e-3)
    return torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)


def teacher_rungs(run_dir: str) -> list[tuple[int, float, dict[str, torch.Tensor]]]:
    """(rung, sparsity, masks) of every teacher rung checkpoint of a run directory, in rung order."""
    out = []
    for path in sorted(Path(run_dir, "checkpoints").glob("teacher-rung*.pt")):
        ck = torch.load(path, map_location="cpu", weights_only=True)
        masks = {n: m.bool() for n, m in ck["masks"].items()}
        kept = sum(int(m.sum()) for m in masks.values())
        out.append((int(ck["rung"]), 1.0 - kept / sum(m.numel() for m in masks.values()), masks))
    if not out:
        raise SystemExit(f"{run_dir}: no checkpoints/teacher-rung*.pt; give a finished run's directory")
    return out


def nearest_rung(rungs, sparsity: float) -> tuple[float, dict[str, torch.Tensor]]:
    """(sparsity, masks) of the rung (from `teacher_rungs`) whose sparsity is nearest to `sparsity`."""
    _rung, actual, masks = min(rungs, key=lambda r: abs(r[1] - sparsity))
    return actual, masks


def ladder_weighted(args, bundle, bundle_dev, device) -> dict:
    """Every teacher rung of `--masks-from`, one table each, and the mean ms per step over the ladder
    weighted by each rung's epochs (from the run's profile): what the ladder's training costs per path."""
    from dsd_tui import profile as profile_mod

    prof = profile_mod.load(str(Path(args.masks_from, "profile.toml")))
    totals: dict[str, float] = {}
    epochs_all = 0
    for rung, sparsity, masks in teacher_rungs(args.masks_from):
        epochs = prof.train.dense_epochs if rung == 0 else prof.train.epochs
        table = bench_training(args, bundle, bundle_dev, device, sparsity, masks)
        line = "  ".join(f"{name} {row['cpu_ms_per_step']:.2f}" for name, row in table.items())
        print(f"rung {rung:2d}  {sparsity:7.2%}  {epochs:3d} epochs  CPU ms/step: {line}", flush=True)
        for name, row in table.items():
            totals[name] = totals.get(name, 0.0) + epochs * row["cpu_ms_per_step"]
        epochs_all += epochs
    mean = {name: t / epochs_all for name, t in totals.items()}
    print(f"ladder-weighted CPU ms per step ({epochs_all} epochs): " + ", ".join(
        f"{name} {ms:.2f}" + (f" ({mean['ref'] / ms:.2f}x ref)" if "ref" in mean else "") for name, ms in mean.items()))
    return {"ms_per_step": mean, "epochs": epochs_all}


class RefPath:
    name = "ref"

    def __init__(self, args, bundle, device, sparsity: float, masks=None):
        self.model = fresh_model(args, bundle)
        if masks is None:
            ref.prune_with_hooks(self.model, sparsity)
        else:
            ref.prune_with_masks(self.model, masks)
        self.model.to(device)
        self.opt = optimizer_for(args, self.model.parameters(), engine=False)
        self.loader = ref.make_loader(bundle.train, bundle.images, bundle.augment, args.batch, args.workers, device)
        self.device = device

    def epoch(self) -> None:
        ref.train_epoch(self.model, self.loader, self.opt, self.device)


class DsdPath:
    """The engine's own training path, in one of its speed modes."""

    def __init__(self, args, bundle, device, mode: str, compile_backend: str = "inductor", sparsity: float = 0.2,
                 masks=None):
        self.name = mode
        cfg = TrainSection() if mode == "default" else TrainSection(
            precision="bf16" if mode == "bf16" else "fp32", compile=mode == "compile", sparse_kernels=mode == "sparse")
        self.speed = dataclasses.replace(Speed.from_profile(cfg, device, bundle.images, torch.get_num_threads()),
                                         compile_backend=compile_backend)
        self.speed.apply_backends()
        self.model = self.speed.place(fresh_model(args, bundle), device)
        if masks is None:
            self.masks = Masks(self.model)
            self.masks.prune_global(sparsity)
        else:
            self.masks = Masks(self.model, masks)
            self.masks.zero_pruned()
        self.forward = self.speed.forward_of(self.model)
        self.opt = optimizer_for(args, self.model.parameters(), engine=True,
                                 masks=None if mode == "plain" else self.masks)
        self.rung = contextlib.ExitStack()  # the rung's CSR kernels (sparse mode), for the benchmark's life
        self.csr_layers = self.rung.enter_context(self.speed.rung_kernels(self.model, self.opt))
        self.batcher = Batcher(bundle, device, self.speed.channels_last)
        self.gen = torch.Generator(device=device).manual_seed(0)
        self.bundle, self.batch = bundle, args.batch

    def epoch(self) -> None:
        train_epoch(self.forward, self.masks, self.batcher, self.bundle.train, self.batch, self.gen, self.opt,
                    autocast=self.speed.autocast())


def interleaved(units: dict, rounds: int, device) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU seconds (this process) per call of each unit, rounds × units, order alternating.

    On a shared CPU the CPU seconds are the steadier figure: waiting for a core is not counted."""
    wall: dict[str, list[float]] = {k: [] for k in units}
    cpu: dict[str, list[float]] = {k: [] for k in units}
    names = list(units)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            units[name]()
            sync(device)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return wall, cpu


def bench_training(args, bundle, bundle_dev, device, sparsity: float, masks=None) -> dict:
    paths = {}
    for mode in args.modes:
        paths[mode] = RefPath(args, bundle, device, sparsity, masks) if mode == "ref" else DsdPath(
            args, bundle_dev, device, mode, args.compile_backend, sparsity, masks)
    warm = {}
    for name, path in paths.items():  # warm-up: allocator, cuDNN autotuning, compilation
        sync(device)
        t0 = time.perf_counter()
        for _ in range(args.warmup):
            path.epoch()
        sync(device)
        warm[name] = time.perf_counter() - t0
    wall, cpu = interleaved({n: p.epoch for n, p in paths.items()}, args.rounds, device)
    images = len(bundle.train)
    steps = -(-images // args.batch)
    out = {}
    for name in paths:
        med, med_cpu = statistics.median(wall[name]), statistics.median(cpu[name])
        out[name] = {"images_per_s": images / med, "ms_per_step": 1e3 * med / steps,
                     "best_ms_per_step": 1e3 * min(wall[name]) / steps,
                     "cpu_ms_per_step": 1e3 * med_cpu / steps, "epoch_s": wall[name], "epoch_cpu_s": cpu[name],
                     "warmup_s": warm[name]}
        if getattr(paths[name], "csr_layers", None):
            out[name]["csr_layers"] = list(paths[name].csr_layers)
    if "ref" in out:
        for row in out.values():
            row["vs_ref"] = row["images_per_s"] / out["ref"]["images_per_s"]
            row["vs_ref_cpu"] = out["ref"]["cpu_ms_per_step"] / row["cpu_ms_per_step"]
            row["vs_ref_best"] = out["ref"]["best_ms_per_step"] / row["best_ms_per_step"]
    return out


def bench_entropy(args, bundle_dev, device) -> dict:
    """The entropy pass (eval pass + ON-count hooks + clean/noisy accuracy) vs one plain evaluation pass."""
    model = fresh_model(args, bundle_dev).to(device)
    Masks(model).prune_global(args.sparsity[0] if args.sparsity else float(DEFAULT_SPARSITY))
    batcher = Batcher(bundle_dev, device)
    split = bundle_dev.train
    units = {"eval": lambda: evaluate(model, batcher, split),
             "entropy": lambda: measure_train(model, batcher, split, True)}
    for u in units.values():
        u()
    wall, cpu = interleaved(units, args.rounds, device)
    ev, en = statistics.median(wall["eval"]), statistics.median(wall["entropy"])
    ev_cpu, en_cpu = statistics.median(cpu["eval"]), statistics.median(cpu["entropy"])
    return {"images": len(split), "eval_s": ev, "entropy_s": en, "ratio": en / ev,
            "eval_cpu_s": ev_cpu, "entropy_cpu_s": en_cpu, "ratio_cpu": en_cpu / ev_cpu}


def bench_teacher(args, bundle_dev, device) -> dict:
    """The frozen teacher's forward on one augmented batch: under no_grad vs under inference_mode
    (what the KD loss uses), `steps` batches per timed unit."""
    teacher = fresh_model(args, bundle_dev).to(device).eval()
    for q in teacher.parameters():
        q.requires_grad_(False)
    batcher = Batcher(bundle_dev, device)
    gen = torch.Generator(device=device).manual_seed(0)
    batches = [x for _idx, x, _y in batcher.train_batches(bundle_dev.train, args.batch, gen)]

    def run(ctx):
        def unit():
            for x in batches:
                with ctx():
                    teacher(x).float()
        return unit
    units = {"no_grad": run(torch.no_grad), "inference_mode": run(torch.inference_mode)}
    for u in units.values():
        u()
    wall, cpu = interleaved(units, args.rounds, device)
    per = {k: statistics.median(v) / len(batches) for k, v in wall.items()}
    return {"batches": len(batches), "no_grad_ms": 1e3 * per["no_grad"],
            "inference_mode_ms": 1e3 * per["inference_mode"], "ratio": per["inference_mode"] / per["no_grad"]}


def bench_syncs(args, bundle_dev, device) -> dict:
    """CUDA only: host syncs during one fp32 epoch, counted by torch's sync debug mode. The epoch end
    reads the loss, the accuracy and the mask check (3 syncs); anything more is a per-step sync."""
    import warnings

    path = DsdPath(args, bundle_dev, device, "fp32")
    path.epoch()
    sync(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            path.epoch()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = [str(w.message).splitlines()[0] for w in caught if "synchroniz" in str(w.message)]
    return {"steps": -(-len(bundle_dev.train) // args.batch), "syncs": len(syncs), "first": syncs[:5]}


def bench_checkpoint(args, bundle_dev, device) -> dict:
    """One per-rung checkpoint and one resume-state save, as the ladder writes them (atomic, fsynced)."""
    path = DsdPath(args, bundle_dev, device, "fp32")
    path.epoch()  # the optimizer state exists, as at an epoch end
    model, masks, opt = path.model, path.masks, path.opt
    gen = torch.Generator(device=device).manual_seed(0)
    out: dict[str, list[float]] = {"checkpoint_s": [], "state_s": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(max(1, args.rounds)):
            sync(device)
            t0 = time.perf_counter()
            atomic_torch_save(Path(tmp) / "ck.pt", {
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "masks": masks.state(), "phase": "teacher", "rung": 1})
            t1 = time.perf_counter()
            atomic_torch_save(Path(tmp) / "state.pt", {
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "masks": masks.state(),
                "generator": gen.get_state(), "optimizer": copy.deepcopy(opt.state_dict())})
            t2 = time.perf_counter()
            out["checkpoint_s"].append(t1 - t0)
            out["state_s"].append(t2 - t1)
        sizes = {"checkpoint_mb": (Path(tmp) / "ck.pt").stat().st_size / 2**20,
                 "state_mb": (Path(tmp) / "state.pt").stat().st_size / 2**20}
    return {"checkpoint_s": statistics.median(out["checkpoint_s"]), "state_s": statistics.median(out["state_s"]),
            **sizes}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["mlp", "resnet18", "vgg"], default="mlp")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=8, help="conv nets: steps per timed epoch (images = steps × batch)")
    ap.add_argument("--rounds", type=int, default=7, help="timed epochs per path (medians reported)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed epochs per path first")
    ap.add_argument("--modes", default="ref,fp32",
                    help="comma list of ref, plain, default, fp32, bf16, compile, sparse")
    ap.add_argument("--sparsity", default=DEFAULT_SPARSITY,
                    help="comma list of mask sparsities, one training table each (quickstart rung k: 1 − 0.8^k); "
                         "'ladder' (with --masks-from): every teacher rung, weighted by its epochs")
    ap.add_argument("--masks-from", metavar="RUN_DIR", help="take each sparsity's masks from this run's teacher "
                    "checkpoints (nearest rung) instead of pruning the fresh model")
    ap.add_argument("--workers", type=int, default=0, help="reference DataLoader workers (restarted every epoch)")
    ap.add_argument("--compile-backend", default="inductor", help="torch.compile backend (eager: a quick smoke)")
    ap.add_argument("--entropy", action="store_true", help="also: entropy pass vs one plain eval pass")
    ap.add_argument("--teacher", action="store_true", help="also: teacher forward, no_grad vs inference_mode")
    ap.add_argument("--syncs", action="store_true", help="also (CUDA): host syncs in one fp32 epoch")
    ap.add_argument("--checkpoint", action="store_true", help="also: per-rung checkpoint and state save cost")
    ap.add_argument("--no-train", action="store_true", help="skip the training throughput table")
    ap.add_argument("--json", help="write all results to this file")
    args = ap.parse_args(argv)
    args.modes = [m for m in args.modes.split(",") if m]
    if args.sparsity == "ladder" and not args.masks_from:
        ap.error("--sparsity ladder needs --masks-from RUN_DIR")
    args.sparsity = [] if args.sparsity == "ladder" else [float(s) for s in args.sparsity.split(",") if s]
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    bundle = bundle_for(args)
    bundle_dev = bundle.to(device)
    result = {"model": args.model, "device": str(device), "batch": args.batch, "images_per_epoch": len(bundle.train),
              "threads": torch.get_num_threads(), "torch": torch.__version__}
    if device.type == "cuda":
        result["device_name"] = torch.cuda.get_device_name(device)
    head = f"{args.model} on {result.get('device_name', device)}, batch {args.batch}, {len(bundle.train)} images/epoch"
    print(f"# {head}, {result['threads']} thread(s), torch {torch.__version__}")
    if not args.no_train and args.modes and not args.sparsity:
        result["ladder"] = ladder_weighted(args, bundle, bundle_dev, device)
    elif not args.no_train and args.modes:
        result["train_by_sparsity"] = {}
        print("medians of wall and CPU time per epoch; best = the fastest epoch (least disturbed by load)")
        rungs = teacher_rungs(args.masks_from) if args.masks_from else None
        for sparsity in args.sparsity:
            masks = None
            if rungs:
                sparsity, masks = nearest_rung(rungs, sparsity)
            table = result["train_by_sparsity"][f"{sparsity:g}"] = bench_training(args, bundle, bundle_dev, device,
                                                                                   sparsity, masks)
            result.setdefault("train", table)  # the first sparsity's table (the format before --sparsity)
            source = f", masks from {args.masks_from}" if masks is not None else ""
            csr = next((row["csr_layers"] for row in table.values() if "csr_layers" in row), None)
            print(f"-- mask sparsity {sparsity:.1%}{source}" + (f"; CSR layers: {', '.join(csr)}" if csr else ""))
            print(f"{'path':<8} {'images/s':>10} {'ms/step':>8} {'vs ref':>7} {'CPU ms/step':>11} {'vs ref':>7} "
                  f"{'best ms/step':>12} {'vs ref':>7} {'warm-up s':>9}")
            for name, row in table.items():
                vs, vs_cpu, vs_best = (f"{row[k]:6.2f}x" if k in row else "      -"
                                       for k in ("vs_ref", "vs_ref_cpu", "vs_ref_best"))
                print(f"{name:<8} {row['images_per_s']:10.0f} {row['ms_per_step']:8.2f} {vs} "
                      f"{row['cpu_ms_per_step']:11.2f} {vs_cpu} {row['best_ms_per_step']:12.2f} {vs_best} "
                      f"{row['warmup_s']:9.1f}")
    if args.entropy:
        e = result["entropy"] = bench_entropy(args, bundle_dev, device)
        print(f"entropy pass {e['entropy_s'] * 1e3:.1f} ms vs plain eval {e['eval_s'] * 1e3:.1f} ms over "
              f"{e['images']} images: {e['ratio']:.2f}x (CPU time: {e['ratio_cpu']:.2f}x)")
    if args.teacher:
        t = result["teacher"] = bench_teacher(args, bundle_dev, device)
        print(f"teacher forward per batch: no_grad {t['no_grad_ms']:.2f} ms, inference_mode "
              f"{t['inference_mode_ms']:.2f} ms ({t['ratio']:.2f}x)")
    if args.syncs and device.type == "cuda":
        try:
            y = result["syncs"] = bench_syncs(args, bundle_dev, device)
            print(f"host syncs in one fp32 epoch of {y['steps']} steps: {y['syncs']} (3 expected, all at the "
                  f"epoch end) {y['first']}")
        except Exception as e:  # noqa: BLE001 - a diagnostic; the rest of the check still runs
            print(f"host sync count failed: {e.__class__.__name__}: {e}")
    if args.checkpoint:
        c = result["checkpoint"] = bench_checkpoint(args, bundle_dev, device)
        print(f"per-rung checkpoint {c['checkpoint_s'] * 1e3:.1f} ms ({c['checkpoint_mb']:.1f} MB); "
              f"one resume-state save {c['state_s'] * 1e3:.1f} ms ({c['state_mb']:.1f} MB)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
