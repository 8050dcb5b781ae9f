#!/usr/bin/env bash
# GPU check (issue 6), one prepared script: about 3-4 minutes on one H100, under 6 with margin
# (timeouts: 270 + 150 + 60 s).
#
#   bash bench/gpu_check.sh            # CUDA: ResNet-18, batch 128, synthetic CIFAR-shaped data
#   bash bench/gpu_check.sh --smoke    # CPU, tiny sizes: checks that every step runs (tests/test_gpu_check.py)
#
# Prints: the device; training images/s of the reference-style pipeline (PIL + DataLoader workers +
# prune hooks + per-step .item()) and of dsd_tui's fp32, bf16+channels_last and compiled paths, in one
# process, interleaved (bench/throughput.py); the entropy pass against one plain evaluation pass; the
# checkpoint costs; a 2-rung DSD² ladder of ResNet-18 (teacher + KD student, augmentation on) end
# to end with the real CLI; last (allowed to fail without failing the check), the quickstart MLP's
# step with each mode, the CSR kernels included (measured on the CPU only so far).
# Copy the whole output into docs/benchmarks.md with the date.
# Environment: PYTHON (default: python), OUT (a folder for the JSON results and the run; default: a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

if [[ "${1:-}" == "--smoke" ]]; then
    DEVICE=cpu; THREADS=1; BATCH=16; STEPS=2; ROUNDS=1; WORKERS=0; BACKEND=eager
    # the smoke ladder uses a small VGG-like net: the CLI path is the same, a CPU ResNet-18 ladder is not quick
    LADDER=(--set model.arch=vgg --set model.depth=2 --set model.width_exp=3 --set data.synthetic_size=32
            --set data.val_size=16 --set train.epochs=1 --set train.dense_epochs=1 --set run.threads=1)
    LIMIT_BENCH=300; LIMIT_LADDER=300; LIMIT_MLP=120; ROUNDS_MLP=1
else
    DEVICE=cuda; THREADS=0; BATCH=128; STEPS=100; ROUNDS=3; WORKERS=4; BACKEND=inductor
    LADDER=(--set model.arch=resnet18 --set data.synthetic_size=10000 --set data.val_size=1000 --set train.epochs=2
            --set train.dense_epochs=2 --set run.threads=0)
    LIMIT_BENCH=270; LIMIT_LADDER=150; LIMIT_MLP=60; ROUNDS_MLP=5
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi

echo "== gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) device=$DEVICE batch=$BATCH $(uptime 2>/dev/null | sed 's/.*load/load/')"
"$PY" -c "import torch; print('torch', torch.__version__, '| cuda', torch.version.cuda,
'|', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA device')"

echo "== training throughput, entropy pass, checkpoint cost (ResNet-18, synthetic CIFAR-shaped)"
timeout "$LIMIT_BENCH" "$PY" bench/throughput.py --model resnet18 --device "$DEVICE" --threads "$THREADS" \
    --batch "$BATCH" --steps "$STEPS" --rounds "$ROUNDS" --warmup 1 --workers "$WORKERS" \
    --modes ref,fp32,bf16,compile --compile-backend "$BACKEND" --entropy --teacher --syncs --checkpoint --json "$OUT/throughput.json"

echo "== 2-rung DSD² ladder end to end (teacher + KD student, crop+flip on the device)"
start=$(date +%s.%N)
timeout "$LIMIT_LADDER" "$PY" -m dsd_tui run --no-tui --out "$OUT/runs" --set run.device="$DEVICE" \
    --set data.dataset=synthetic --set data.noise=0.2 --set data.train_size=0 \
    --set train.optimizer=sgd --set train.lr=0.05 --set train.momentum=0.9 --set train.weight_decay=1e-4 \
    --set prune.rungs=2 "${LADDER[@]}"
end=$(date +%s.%N)
"$PY" -c "print(f'ladder wall time (process start to exit): {$end - $start:.1f} s')"
echo "== quickstart MLP at 89% and 98% sparsity: ref, fp32, bf16 and the CSR kernels (train.sparse_kernels) on $DEVICE"
timeout "$LIMIT_MLP" "$PY" bench/throughput.py --model mlp --device "$DEVICE" --threads "$THREADS" \
    --rounds "$ROUNDS_MLP" --modes ref,fp32,bf16,sparse --sparsity 0.893,0.982 --json "$OUT/mlp.json" \
    || echo "MLP step failed (exit $?); the checks above stand"

echo "== gpu_check done; JSON and run directory in $OUT"
