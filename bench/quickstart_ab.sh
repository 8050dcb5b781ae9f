#!/usr/bin/env bash
# A/B of a shortened quickstart (both phases, 6 pruning rungs by default), two source trees interleaved.
#
#   bash bench/quickstart_ab.sh BEFORE AFTER [PAIRS]    # two source roots holding dsd_tui/, e.g. a worktree of main and .
#   RUNGS=18 bash bench/quickstart_ab.sh BEFORE AFTER 3  # a longer ladder: more high-sparsity rungs
#
# Prints one line per run: label, user CPU s, system CPU s, wall s (GNU time), then whether every run's
# metrics (summary.json without wall-clock fields) are identical. Alternating the trees run by run lets
# machine load hit both alike; compare medians.
set -euo pipefail
before=$(realpath "$1"); after=$(realpath "$2"); pairs=${3:-3}; rungs=${RUNGS:-6}
PY=${PYTHON:-python}
out=$(mktemp -d)
for ((i = 1; i <= pairs; i++)); do
    for label in before after; do
        src=$before; [[ $label == after ]] && src=$after
        /usr/bin/time -f "$label %U %S %e" -o "$out/t" env PYTHONPATH="$src" "$PY" -m dsd_tui run --no-tui \
            --out "$out/runs-$label-$i" --set prune.rungs="$rungs" > /dev/null
        cat "$out/t"
    done
done
"$PY" - "$out" <<'EOF'
import json, sys
from pathlib import Path

# wall clock, locations, and what the two trees may declare differently (a new profile key, speed fields)
WALL = {"seconds", "seconds_this_process", "started", "finished", "run_dir", "time", "path", "environment", "profile", "peak_rss_mb",
        "gpu_peak_mb"}

def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in WALL}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v

found = sorted(Path(sys.argv[1]).glob("runs-*/*/summary.json"))
metrics = [strip(json.loads(p.read_text())) for p in found]
same = all(m == metrics[0] for m in metrics)
print(f"metrics of all {len(metrics)} runs identical: {same}")
EOF
rm -rf "$out"
