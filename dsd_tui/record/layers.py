"""Per-layer sparsity and layer collapse: how global pruning shares its cut among the layers.

Global magnitude pruning ranks every prunable weight of the network together, so each layer keeps
what its magnitudes earn, and some layers are emptied long before others. A layer that keeps no
weight cuts the network in two and accuracy falls to chance: "layer collapse" (Tanaka et al.,
NeurIPS 2020). Each rung record carries `layer_sparsity` (state-dict weight name -> fraction of
that weight pruned, the convention of the record's `sparsity`); this module computes it, grades
each layer (collapsed: nothing kept; warning: under 1% of the layer or under 10 weights kept), finds
the layers whose grade worsened at a rung (what the `layer_collapse` event announces), and lays
the records out in the long form `dsd-tui export --format layers-csv` writes.
"""
from __future__ import annotations

import csv
import io

from dsd_tui.record.summary import PhaseSummary

COLLAPSED = "collapsed"  # no weight of the layer is kept
WARNING = "warning"  # something kept, but under WARN_FRACTION of the layer or under WARN_WEIGHTS weights
WARN_FRACTION = 0.01
WARN_WEIGHTS = 10
_RANK = {None: 0, WARNING: 1, COLLAPSED: 2}


def layer_sparsity(kept: dict[str, int], sizes: dict[str, int]) -> dict[str, float]:
    """Weight name -> fraction of its weights pruned, in [0, 1]."""
    return {n: 1.0 - kept[n] / sizes[n] for n in sizes}


def kept_count(sparsity: float, size: int) -> int:
    """The kept weights of a layer of `size` weights at `sparsity` (exact: the fraction came from counts)."""
    return int(round((1.0 - sparsity) * size))


def grade(kept: int, size: int) -> str | None:
    """COLLAPSED, WARNING or None (healthy). A layer never pruned is healthy however small it is."""
    if kept <= 0:
        return COLLAPSED
    if kept < size and (kept < WARN_FRACTION * size or kept < WARN_WEIGHTS):
        return WARNING
    return None


def worsened(previous: dict[str, float] | None, current: dict[str, float], sizes: dict[str, int]) -> list[dict]:
    """The layers whose grade got worse from the `previous` rung's layer sparsity to `current`'s:
    [{layer, level, kept, weights}], in layer order. With no previous rung every layer is compared to
    healthy. Comparing two records (not remembering alerts) keeps this right across a resume."""
    out = []
    for name, s in current.items():
        size = sizes.get(name)
        if size is None:
            continue
        level = grade(kept_count(s, size), size)
        before = grade(kept_count(previous[name], size), size) if previous and name in previous else None
        if _RANK[level] > _RANK[before]:
            out.append({"layer": name, "level": level, "kept": kept_count(s, size), "weights": size})
    return out


def collapse_text(e) -> str:
    """One line naming the layer and the rung of a `layer_collapse` event (or its summary entry)."""
    get = e.get if isinstance(e, dict) else lambda k: getattr(e, k)
    if get("level") == COLLAPSED:
        what = f"layer {get('layer')} collapsed: no weight of {get('weights'):,} kept"
    else:
        what = f"layer {get('layer')} nearly collapsed: {get('kept'):,} of {get('weights'):,} weights kept"
    return f"{what} at {get('phase')} rung {get('rung')}"


def layer_rows(summary: dict) -> list[dict]:
    """One row per phase, rung and prunable layer: the long form of every record's `layer_sparsity` (and, on
    student rungs, `layer_teacher_overlap`: the layer's kept-set IoU with the teacher's, record/overlap.py)."""
    rows = []
    for p in (PhaseSummary.from_json(p) for p in summary.get("phases", [])):
        sizes = p.layer_weights or {}
        for r in p.rungs:
            overlaps = r.layer_teacher_overlap or {}
            for name, s in (r.layer_sparsity or {}).items():
                size = sizes.get(name)
                rows.append({"phase": p.name, "rung": r.rung, "layer": name, "weights": size,
                             "kept": "" if size is None or s is None else kept_count(s, size), "sparsity": s,
                             "level": "" if size is None or s is None else grade(kept_count(s, size), size) or "",
                             "teacher_overlap": overlaps.get(name)})
    return rows


LAYER_FIELDS = ["phase", "rung", "layer", "weights", "kept", "sparsity", "level", "teacher_overlap"]


def layers_csv(summary: dict) -> str:
    """`layer_rows` as CSV text with a header line."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, LAYER_FIELDS, lineterminator="\n")
    w.writeheader()
    for row in layer_rows(summary):
        w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()
