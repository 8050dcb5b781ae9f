#!/usr/bin/env bash
# A/B of a shortened quickstart (both phases, 6 pruning rungs), two source trees interleaved.
#
#   bash bench/quickstart_ab.sh BEFORE_SRC AFTER_SRC [PAIRS]    # e.g. a worktree of main's src/ and ./src
#
# Prints one line per run: label, user CPU s, system CPU s, wall s (GNU time). Alternating the trees
# run by run lets machine load hit both alike; compare medians.
set -euo pipefail
before=$(realpath "$1"); after=$(realpath "$2"); pairs=${3:-3}
PY=${PYTHON:-python}
out=$(mktemp -d)
for ((i = 1; i <= pairs; i++)); do
    for label in before after; do
        src=$before; [[ $label == after ]] && src=$after
        /usr/bin/time -f "$label %U %S %e" -o "$out/t" env PYTHONPATH="$src" "$PY" -m dsd_tui run --no-tui \
            --out "$out/runs" --set prune.rungs=6 > /dev/null
        cat "$out/t"
    done
done
rm -rf "$out"
