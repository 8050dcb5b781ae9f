#!/usr/bin/env bash
# GPU check: everything a paper profile does, on CUDA, in one prepared script of at most 6 minutes
# (the per-step timeouts add up to 350 s; the smoke mode is the test suite's, tests/test_gpu_check.py).
#
#   bash bench/gpu_check.sh            # CUDA: ResNet-18, batch 128, synthetic CIFAR-shaped data
#   bash bench/gpu_check.sh --smoke    # CPU, tiny sizes: checks that every step runs
#
# Prints: the device; training images/s of the reference-style pipeline (PIL + DataLoader workers +
# prune hooks + per-step .item()) and of dsd_tui's fp32, bf16+channels_last and compiled paths for the
# ResNet-18 ladder step, in one process, interleaved (bench/throughput.py), each against its goal on an
# H100-class GPU (fp32 >= 20,000 images/s, bf16 >= 30,000); the entropy pass against one plain
# evaluation pass; the KD teacher forward; the checkpoint costs; a 2-rung DSD² ladder of ResNet-18
# (teacher + KD student, crop+flip on the device, entropy over the conv layers) end to end with the real
# CLI in fp32, then one rung each in bf16 and compiled; the fp32 ladder killed with SIGKILL mid-rung,
# resumed, and its metrics compared with the uninterrupted run (bench/kill_resume.py); last (allowed to
# fail without failing the check), the quickstart MLP's step with each mode, the CSR kernels included.
# Copy the whole output into docs/benchmarks.md with the date.
# Environment: PYTHON (default: python), OUT (a folder for the JSON results and the runs; default: a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

T0=$(date +%s)
if [[ "${1:-}" == "--smoke" ]]; then
    DEVICE=cpu; THREADS=1; BATCH=8; STEPS=2; ROUNDS=1; WORKERS=0; BACKEND=eager  # batch 8: bf16 on a CPU is slow
    # the smoke ladder uses a small VGG-like net: the CLI path is the same, a CPU ResNet-18 ladder is not quick
    LADDER=(--set model.arch=vgg --set model.depth=2 --set model.width_exp=3 --set data.synthetic_size=32
            --set data.val_size=16 --set train.epochs=1 --set train.dense_epochs=2 --set run.threads=1)
    LIMIT_BENCH=600; LIMIT_LADDER=300; LIMIT_MODES=300; LIMIT_KILL=300; LIMIT_MLP=120; ROUNDS_MLP=1
    # the CLI's compiled rung uses inductor, minutes of compilation on a CPU: the smoke compiles in the
    # throughput step only (eager backend)
    CLI_MODES=("train.precision=bf16")
else
    DEVICE=cuda; THREADS=0; BATCH=128; STEPS=100; ROUNDS=3; WORKERS=4; BACKEND=inductor
    LADDER=(--set model.arch=resnet18 --set data.synthetic_size=10000 --set data.val_size=1000 --set train.epochs=2
            --set train.dense_epochs=2 --set run.threads=0)
    LIMIT_BENCH=150; LIMIT_LADDER=60; LIMIT_MODES=60; LIMIT_KILL=50; LIMIT_MLP=30; ROUNDS_MLP=3
    CLI_MODES=("train.precision=bf16" "train.compile=true")
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi
# the 2-rung DSD² ladder: teacher + KD student, SGD, 20% label noise, crop+flip, entropy
LADDER_ARGS=(run --no-tui --set run.device="$DEVICE" --set data.dataset=synthetic --set data.noise=0.2
             --set data.train_size=0 --set train.optimizer=sgd --set train.lr=0.05 --set train.momentum=0.9
             --set train.weight_decay=1e-4 --set prune.rungs=2 "${LADDER[@]}")

echo "== gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) device=$DEVICE batch=$BATCH $(uptime 2>/dev/null | sed 's/.*load/load/')"
"$PY" -c "import torch; print('torch', torch.__version__, '| cuda', torch.version.cuda,
'|', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA device')"

echo "== training throughput, entropy pass, checkpoint cost (ResNet-18, synthetic CIFAR-shaped)"
timeout "$LIMIT_BENCH" "$PY" bench/throughput.py --model resnet18 --device "$DEVICE" --threads "$THREADS" \
    --batch "$BATCH" --steps "$STEPS" --rounds "$ROUNDS" --warmup 1 --workers "$WORKERS" \
    --modes ref,fp32,bf16,compile --compile-backend "$BACKEND" --entropy --teacher --syncs --checkpoint --json "$OUT/throughput.json"

"$PY" - "$OUT/throughput.json" "$DEVICE" <<'PYEOF'
import json, sys
train = json.load(open(sys.argv[1]))["train"]
for mode, goal in (("fp32", 20000), ("bf16", 30000)):
    got = train[mode]["images_per_s"]
    verdict = ("met" if got >= goal else "NOT met") if sys.argv[2] == "cuda" else "not applicable on the CPU"
    print(f"goal {mode}: {got:,.0f} images/s for the ResNet-18 ladder step, goal >= {goal:,} on an H100-class "
          f"GPU: {verdict}")
PYEOF

echo "== 2-rung DSD² ladder end to end in fp32 (teacher + KD student, crop+flip on the device, entropy)"
start=$(date +%s.%N)
timeout "$LIMIT_LADDER" "$PY" -m dsd_tui "${LADDER_ARGS[@]}" --out "$OUT/runs" | tee "$OUT/ladder.log"
end=$(date +%s.%N)
"$PY" -c "print(f'ladder wall time (process start to exit): {$end - $start:.1f} s')"
REF_RUN=$(head -1 "$OUT/ladder.log")

echo "== one ResNet-18 rung each in bf16 and compiled (--smoke: bf16 only), end to end (teacher only)"
for mode in "${CLI_MODES[@]}"; do
    start=$(date +%s.%N)
    timeout "$LIMIT_MODES" "$PY" -m dsd_tui "${LADDER_ARGS[@]}" --out "$OUT/modes" --set "$mode" \
        --set prune.rungs=1 --set distill.enabled=false > "$OUT/mode.log"
    end=$(date +%s.%N)
    "$PY" - "$(head -1 "$OUT/mode.log")" "$mode" "$start" "$end" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
r = s["phases"][0]["rungs"][-1]
print(f"{sys.argv[2]}: {s['status']}, rung {r['rung']} test acc {r['test_acc']:.3f}, speed {s['environment']['speed']}, "
      f"{float(sys.argv[4]) - float(sys.argv[3]):.1f} s process start to exit")
PYEOF
done

echo "== kill -9 mid-rung, resume, compare with the uninterrupted fp32 ladder"
timeout "$LIMIT_KILL" "$PY" bench/kill_resume.py --reference "$REF_RUN" --out "$OUT/killed" -- "${LADDER_ARGS[@]}"

echo "== quickstart MLP at 89% and 98% sparsity: ref, fp32, bf16 and the CSR kernels (train.sparse_kernels) on $DEVICE"
timeout "$LIMIT_MLP" "$PY" bench/throughput.py --model mlp --device "$DEVICE" --threads "$THREADS" \
    --rounds "$ROUNDS_MLP" --modes ref,fp32,bf16,sparse --sparsity 0.893,0.982 --json "$OUT/mlp.json" \
    || echo "MLP step failed (exit $?); the checks above stand"

# ---- issue 16 (packing several ladders on one GPU): begin --------------------------------------------------
# Aggregate images/s of 1, 2 and 4 ResNet-18 ladder steps training at once on the device (separate processes,
# as `dsd-tui sweep --gpus-per-ladder 0.5 / 0.25` runs them), and each process's peak GPU memory
# (bench/packing.py). Smoke mode: a tiny VGG-like net on the CPU, 1 and 2 processes. Adds up to 90 s on CUDA.
if [[ "$DEVICE" == "cuda" ]]; then PACK=(--device cuda --concurrency 1,2,4 --threads 1 --steps 30 --rounds 2); LIMIT_PACK=90
else PACK=(--device cpu --smoke --concurrency 1,2 --threads 1); LIMIT_PACK=300; fi
echo "== packing: ladders training at once on one $DEVICE (aggregate images/s; issue 16)"
timeout "$LIMIT_PACK" "$PY" bench/packing.py "${PACK[@]}" --json "$OUT/packing.json" \
    || echo "packing check failed (exit $?); the checks above stand"
# ---- issue 16: end -----------------------------------------------------------------------------------------

echo "== gpu_check done in $(( $(date +%s) - T0 )) s; JSON and run directories in $OUT"
