#!/usr/bin/env bash
# GPU check: everything a paper profile does, on CUDA, in one prepared script of at most 6 minutes: the
# checks share a budget of BUDGET seconds (default 330; each gets the smaller of its own limit and what is
# left, and is SKIPPED once nothing is), run independently (no set -e: a failing check does not skip the
# next) and each ends with a verdict line; the list of verdicts is printed last. The smoke mode is the test
# suite's (tests/project/test_gpu_check.py). The checks follow docs/reliability.md ("Before the first GPU run").
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
# Also: preflight (versions, a C compiler and Python.h for train.compile), the ladder's files and generator
# state (bench/gpu_checks.py ladder), a resume on the other device (cross-device), device strings, the
# kept-weights optimizer step against the plain one (bitwise, and both step times: numerics), a tiny
# Ray sweep with 0 and 0.5 GPUs per ladder, and `dsd-tui doctor`'s estimate against the ladder's wall time.
# Copy the whole output into docs/benchmarks.md with the date.
# Environment: PYTHON (default: python), OUT (a folder for the JSON results and the runs; default: a temp dir).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"

T0=$(date +%s)
VERDICTS=()
# check NAME LIMIT CMD...: CMD under the smaller of LIMIT and the budget left; one verdict line
check() {
    local name=$1 limit=$2; shift 2
    local left=$(( BUDGET - ($(date +%s) - T0) ))
    (( left < limit )) && limit=$left
    if (( limit < 5 )); then VERDICTS+=("SKIPPED  $name (budget spent)"); echo "-- verdict $name: SKIPPED"; return 0; fi
    echo "== $name (at most ${limit} s)"
    local t=$(date +%s)
    timeout "$limit" "$@"
    local rc=$? verdict=PASS
    if (( rc == 124 )); then verdict="TIMEOUT after ${limit} s"; elif (( rc != 0 )); then verdict="FAIL (exit $rc)"; fi
    VERDICTS+=("$verdict  $name ($(( $(date +%s) - t )) s)")
    echo "-- verdict $name: $verdict"
}
if [[ "${1:-}" == "--smoke" ]]; then
    # throughput: batch 8 (bf16 on a CPU is slow), one step per epoch, no warm-up epoch (the timed one
    # warms up), a 1% mask (each path's global top-k over ResNet-18's 11M weights costs less): every path,
    # ResNet-18 itself and its checkpoint are what the smoke checks, not their speed
    DEVICE=cpu; THREADS=1; BATCH=8; STEPS=1; ROUNDS=1; WARMUP=0; SPARSITY=0.01; WORKERS=0; BACKEND=eager
    # the smoke ladder uses a small VGG-like net: the CLI path is the same, a CPU ResNet-18 ladder is not quick
    LADDER=(--set model.arch=vgg --set model.depth=2 --set model.width_exp=3 --set data.synthetic_size=32
            --set data.val_size=16 --set train.epochs=1 --set train.dense_epochs=2 --set run.threads=1)
    LIMIT_BENCH=600; LIMIT_LADDER=300; LIMIT_MODES=300; LIMIT_KILL=300; LIMIT_MLP=120; ROUNDS_MLP=1
    LIMIT_SMALL=300; BUDGET=${BUDGET:-100000}  # the smoke is not timed: a loaded CPU takes what it takes
    # the CLI's compiled rung uses inductor, minutes of compilation on a CPU: the smoke compiles in the
    # throughput step only (eager backend)
    CLI_MODES=("train.precision=bf16")
    # numerics: a smaller net and batch at one thread (the same steps and bitwise comparison); Ray: a local
    # cluster of one CPU, whose one worker runs both ladders in turn (one torch start, not two)
    NUMERICS=(--smoke); RAY=(--num-cpus 1)
else
    DEVICE=cuda; THREADS=0; BATCH=128; STEPS=50; ROUNDS=2; WARMUP=1; SPARSITY=0.2; WORKERS=4; BACKEND=inductor
    LADDER=(--set model.arch=resnet18 --set data.synthetic_size=10000 --set data.val_size=1000 --set train.epochs=2
            --set train.dense_epochs=2 --set run.threads=0)
    LIMIT_BENCH=90; LIMIT_LADDER=60; LIMIT_MODES=45; LIMIT_KILL=50; LIMIT_MLP=20; ROUNDS_MLP=2
    LIMIT_SMALL=40; BUDGET=${BUDGET:-330}
    export GPU_CHECK_NEED_CUDA=1
    CLI_MODES=("train.precision=bf16" "train.compile=true")
    NUMERICS=(); RAY=()
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi
# the 2-rung DSD² ladder: teacher + KD student, SGD, 20% label noise, crop+flip, entropy
LADDER_ARGS=(run --no-tui --set run.device="$DEVICE" --set data.dataset=synthetic --set data.noise=0.2
             --set data.train_size=0 --set train.optimizer=sgd --set train.lr=0.05 --set train.momentum=0.9
             --set train.weight_decay=1e-4 --set prune.rungs=2 "${LADDER[@]}")

SETS=("${LADDER_ARGS[@]:2}")  # the ladder's --set pairs, for doctor, the resume and Ray checks
# the tiny quickstart-sized ladder the cross-device and Ray checks run (seconds each)
TINY=(--set prune.rungs=1 --set train.epochs=1 --set train.dense_epochs=2 --set model.hidden=[64])

echo "== gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) device=$DEVICE batch=$BATCH budget=${BUDGET}s $(uptime 2>/dev/null | sed 's/.*load/load/')"
check "preflight" 30 "$PY" bench/gpu_checks.py preflight

ladder_start=$(date +%s.%N)
check "2-rung DSD² ladder, fp32 (teacher + KD student, crop+flip on the device, entropy)" "$LIMIT_LADDER" \
    "$PY" -m dsd_tui "${LADDER_ARGS[@]}" --out "$OUT/runs"
ladder_end=$(date +%s.%N)
REF_RUN=$(ls -d "$OUT"/runs/*/ 2>/dev/null | head -1)
check "the ladder's rungs, files, generator state and GPU memory" 30 "$PY" bench/gpu_checks.py ladder "${REF_RUN:-/none}"
check "doctor's estimate against the ladder's own time" "$LIMIT_SMALL" "$PY" - "$ladder_start" "$ladder_end" "${REF_RUN:-/none}" "${SETS[@]}" <<'PYEOF'
import json, subprocess, sys
wall = float(sys.argv[2]) - float(sys.argv[1])
ran = json.load(open(sys.argv[3] + "/summary.json"))["seconds"]  # the ladder itself, without Python's start
r = subprocess.run([sys.executable, "-m", "dsd_tui", "doctor", *sys.argv[4:], "--json"], capture_output=True, text=True)
report = json.loads(r.stdout)
est = report["estimated_seconds"]
print(f"doctor: exit {r.returncode}, estimated_seconds {est}; the ladder's summary seconds {ran:.1f}, ladder wall "
      f"time {wall:.1f} s (process start to exit, imports included); machine {report['machine']}")
sys.exit(0 if est and ran / 2 <= est <= ran * 2 else 1)
PYEOF
check "resume on the other device (both ways on a GPU host)" "$LIMIT_SMALL" \
    "$PY" bench/gpu_checks.py cross-device "$OUT/cross" -- "${TINY[@]}"
check "device strings (cuda:0 usable, one past the last GPU one line)" "$LIMIT_SMALL" "$PY" bench/gpu_checks.py device-strings
check "numerics: kept-weights vs plain optimizer step, bitwise, and their step times" "$LIMIT_SMALL" \
    "$PY" bench/gpu_checks.py numerics "${NUMERICS[@]}"
check "kill -9 mid-rung, resume, compare with the uninterrupted fp32 ladder" "$LIMIT_KILL" \
    "$PY" bench/kill_resume.py --reference "${REF_RUN:-/none}" --out "$OUT/killed" -- "${LADDER_ARGS[@]}"
for mode in "${CLI_MODES[@]}"; do
    check "one ResNet-18 rung in $mode, end to end (teacher only)" "$LIMIT_MODES" \
        "$PY" -m dsd_tui "${LADDER_ARGS[@]}" --out "$OUT/modes" --set "$mode" --set prune.rungs=1 --set distill.enabled=false
done
check "training throughput, entropy pass, checkpoint cost (ResNet-18, synthetic CIFAR-shaped)" "$LIMIT_BENCH" \
    "$PY" bench/throughput.py --model resnet18 --device "$DEVICE" --threads "$THREADS" \
    --batch "$BATCH" --steps "$STEPS" --rounds "$ROUNDS" --warmup "$WARMUP" --sparsity "$SPARSITY" --workers "$WORKERS" \
    --modes ref,fp32,bf16,compile --compile-backend "$BACKEND" --entropy --teacher --syncs --checkpoint --json "$OUT/throughput.json"
check "throughput goals" 10 "$PY" - "$OUT/throughput.json" "$DEVICE" <<'PYEOF'
import json, sys
train = json.load(open(sys.argv[1]))["train"]
ok = True
for mode, goal in (("fp32", 20000), ("bf16", 30000)):
    got = train[mode]["images_per_s"]
    verdict = ("met" if got >= goal else "NOT met") if sys.argv[2] == "cuda" else "not applicable on the CPU"
    ok &= verdict != "NOT met"
    print(f"goal {mode}: {got:,.0f} images/s for the ResNet-18 ladder step, goal >= {goal:,} on an H100-class "
          f"GPU: {verdict}")
sys.exit(0 if ok else 1)
PYEOF
check "Ray: a tiny sweep with 0 (and 0.5) GPUs per ladder, the device each used" "$LIMIT_SMALL" \
    "$PY" bench/gpu_checks.py ray "$OUT/ray" "${RAY[@]}" -- "${TINY[@]}"
# Aggregate images/s of 1, 2 and 4 ResNet-18 ladder steps training at once on the device (separate processes,
# as `dsd-tui sweep --gpus-per-ladder 0.5 / 0.25` runs them), and each process's peak GPU memory
# (bench/packing.py; issue 16). Smoke mode: a tiny VGG-like net on the CPU, 2 processes at once (the
# path that 1 would take too, one torch start fewer).
if [[ "$DEVICE" == "cuda" ]]; then PACK=(--device cuda --concurrency 1,2,4 --threads 1 --steps 30 --rounds 2); LIMIT_PACK=60
else PACK=(--device cpu --smoke --concurrency 2 --threads 1); LIMIT_PACK=300; fi
check "packing: ladders training at once on one $DEVICE (aggregate images/s)" "$LIMIT_PACK" \
    "$PY" bench/packing.py "${PACK[@]}" --json "$OUT/packing.json"
check "quickstart MLP at 89% and 98% sparsity: ref, fp32, bf16, CSR kernels" "$LIMIT_MLP" \
    "$PY" bench/throughput.py --model mlp --device "$DEVICE" --threads "$THREADS" \
    --rounds "$ROUNDS_MLP" --modes ref,fp32,bf16,sparse --sparsity 0.893,0.982 --json "$OUT/mlp.json"

echo "== gpu_check done in $(( $(date +%s) - T0 )) s (budget ${BUDGET} s); JSON and run directories in $OUT"
echo "== verdicts"
failed=0
for v in "${VERDICTS[@]}"; do echo "  $v"; [[ "$v" == PASS* ]] || failed=1; done
exit $failed
