"""`dsd-tui plot`: the paper's figures from run and sweep directories (matplotlib, the `plot` extra).

Three panels: test accuracy against sparsity for teacher (solid) and student (dashed), with a band
of ± one standard deviation over seeds; the teacher's per-layer activation entropy against
sparsity; test accuracy against training cost (epochs trained until a stop criterion fired) for
each criterion, next to the whole ladder. The sparsity axis is -log10(1 - sparsity), labelled in
sparsity, so 90%, 99% and 99.9% are equally far apart. Each panel's function returns the series
it drew, so what is on the figure can be checked against the summaries.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

from dsd_tui.errors import UsageError
from dsd_tui.record.rundir import atomic_write_bytes
from dsd_tui.study import sweep_index as idx
from dsd_tui.study.aggregate import aggregate_phase, stats

FORMATS = (".png", ".svg", ".pdf")
TICKS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999)
PHASE_STYLE = {"teacher": "-", "student": "--"}
LAYER_STYLE = ("-", "--", ":", "-.")
FULL_LADDER_MARKER = "*"  # the "full ladder" point beside the stop criteria (their markers: stops/rules/)


def marker(criterion: str) -> str:
    """The marker of a stop criterion's points (a rule's own, "^" for a name no rule carries)."""
    from dsd_tui.stops.rules import STOP_RULES
    if criterion == "full ladder":
        return FULL_LADDER_MARKER
    return STOP_RULES.get(criterion).marker if criterion in STOP_RULES else "^"


def spread(sparsity: float) -> float:
    """-log10(1 - s): equal steps for 90%, 99%, 99.9%; finite up to s = 1 - 1e-9."""
    return -math.log10(max(1.0 - sparsity, 1e-9))


def tick_label(s: float) -> str:
    return f"{s * 100:.10g}%"


# ---------------------------------------------------------------- series (what gets drawn)

def _curve(rungs: list[dict], metric: str) -> dict:
    """Mean sparsity and the metric's mean and std over seeds, rung by rung."""
    return {"sparsity": [r["metrics"]["sparsity"]["mean"] for r in rungs],
            "mean": [r["metrics"][metric]["mean"] for r in rungs],
            "std": [r["metrics"][metric]["std"] for r in rungs]}


def phase_aggregates(groups: list[idx.Group], phases=("teacher", "student")):
    """(group, phase, the phase aggregated over the group's seeds) for each group and each phase it ran."""
    for g in groups:
        for phase in phases:
            agg = aggregate_phase(phase, [r.summary for r in g.runs])
            if agg is not None:
                yield g, phase, agg


def accuracy_series(groups: list[idx.Group], metric: str = "test_acc") -> list[dict]:
    out = []
    for g, phase, agg in phase_aggregates(groups):
        rungs = [r for r in agg["rungs"] if r["metrics"].get(metric, {}).get("mean") is not None]
        out.append({"group": g.label, "phase": phase, "n": agg["n"], **_curve(rungs, metric)})
    return out


def entropy_series(groups: list[idx.Group], phase: str = "teacher") -> list[dict]:
    out = []
    for g, _, agg in phase_aggregates(groups, (phase,)):
        layers = sorted({m[len("entropy:"):] for r in agg["rungs"] for m in r["metrics"] if m.startswith("entropy:")})
        for layer in layers:
            rungs = [r for r in agg["rungs"] if f"entropy:{layer}" in r["metrics"]]
            out.append({"group": g.label, "phase": phase, "layer": layer, **_curve(rungs, f"entropy:{layer}")})
    return out


def cost_series(groups: list[idx.Group]) -> list[dict]:
    """Per group, phase and criterion: cost (epochs) and test accuracy of the rung it kept, ± std."""
    out = []
    for g, phase, agg in phase_aggregates(groups):
        out.append(_point(g.label, phase, "full ladder", agg["cost_epochs"], agg["best"]["test_acc"], agg["n"]))
        for crit, st in agg["stops"].items():
            out.append(_point(g.label, phase, crit, st["cost_epochs"],
                              st.get("selected_test_acc", stats([])), st["fired_n"]))
    return out


def _point(group, phase, criterion, cost, acc, n) -> dict:
    return {"group": group, "phase": phase, "criterion": criterion, "n": n, "cost_epochs": cost["mean"],
            "cost_std": cost["std"], "test_acc": acc["mean"], "acc_std": acc["std"]}


# ---------------------------------------------------------------- drawing

def sparsity_axis(ax, series: list[dict]) -> None:
    """The x-axis in spread sparsity, its ticks labelled in sparsity (the rungs' own on a short ladder)."""
    seen = sorted({round(s, 4) for ser in series for s in ser["sparsity"]})
    top = seen[-1] if seen else 0.9
    ticks = [t for t in TICKS if t <= top + 1e-9]
    if len(ticks) < 3:  # a short ladder: label its own rungs instead
        ticks = seen[:: max(1, len(seen) // 6)]
    ax.set_xticks([spread(t) for t in ticks], [tick_label(t) for t in ticks])
    ax.set_xlabel("sparsity (axis: -log10(1 - sparsity))")


def band(ax, x, ser: dict, color, alpha: float) -> None:
    """The ± 1 std band over seeds around a series' mean."""
    lo = [m - s for m, s in zip(ser["mean"], ser["std"])]
    hi = [m + s for m, s in zip(ser["mean"], ser["std"])]
    ax.fill_between(x, lo, hi, color=color, alpha=alpha, linewidth=0)


def draw_accuracy(ax, series: list[dict], colors: dict) -> None:
    for ser in series:
        x = [spread(s) for s in ser["sparsity"]]
        c = colors[ser["group"]]
        ax.plot(x, ser["mean"], PHASE_STYLE[ser["phase"]], color=c, marker=".", label=f"{ser['group']} {ser['phase']}")
        if ser["n"] > 1:
            band(ax, x, ser, c, 0.18)
    sparsity_axis(ax, series)
    ax.set_ylabel("test accuracy")
    ax.set_title("test accuracy (band: ± 1 std over seeds)")


def draw_entropy(ax, series: list[dict], colors: dict) -> None:
    layers = list(dict.fromkeys(ser["layer"] for ser in series))
    one_group = len({ser["group"] for ser in series}) == 1
    layer_colors = palette(layers)
    for ser in series:
        x = [spread(s) for s in ser["sparsity"]]
        if one_group:
            color, style, label = layer_colors[ser["layer"]], "-", ser["layer"]
        else:
            color = colors[ser["group"]]
            style = LAYER_STYLE[layers.index(ser["layer"]) % len(LAYER_STYLE)]
            label = f"{ser['group']} {ser['layer']}"
        ax.plot(x, ser["mean"], style, color=color, marker=".", label=label)
        if any(ser["std"]):
            band(ax, x, ser, color, 0.15)
    sparsity_axis(ax, series)
    ax.set_ylabel("activation entropy (bits)")
    ax.set_title("teacher: per-layer activation entropy")


def draw_cost(ax, series: list[dict], colors: dict) -> None:
    for p in series:
        if p["cost_epochs"] is None or p["test_acc"] is None:
            continue
        filled = p["phase"] == "teacher"
        c = colors[p["group"]]
        ax.errorbar(p["cost_epochs"], p["test_acc"], xerr=p["cost_std"], yerr=p["acc_std"],
                    marker=marker(p["criterion"]), markersize=9 if p["criterion"] == "full ladder" else 7,
                    color=c, mfc=c if filled else "white", linestyle="none", capsize=2)
    _cost_legend(ax, series, colors)
    ax.set_xlabel("training cost (epochs of the phase until the criterion fired)")
    ax.set_ylabel("test accuracy of the kept rung")
    ax.set_title("accuracy vs cost per stop criterion (filled: teacher)")


def _cost_legend(ax, series: list[dict], colors: dict) -> None:
    """A compact key: colour = setting, marker = criterion (filled teacher, hollow student)."""
    from matplotlib.lines import Line2D
    crits = list(dict.fromkeys(p["criterion"] for p in series))
    groups = list(dict.fromkeys(p["group"] for p in series))
    handles = [Line2D([], [], marker=marker(c), color="0.35", linestyle="none", label=c) for c in crits]
    handles += [Line2D([], [], marker="s", color=colors[g], linestyle="none", label=g) for g in groups]
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="best")


def palette(names: list[str]) -> dict:
    """A colour per name, in order (study_figure.py colours its settings with it too)."""
    cycle = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]
    return {n: cycle[i % len(cycle)] for i, n in enumerate(names)}


def figure_class(path: Path):
    """matplotlib's Figure, to draw what goes into `path`: a one-line usage error for a format not written
    here or without matplotlib."""
    if path.suffix.lower() not in FORMATS:
        raise UsageError(f"-o {path}: unknown figure format {path.suffix or '(none)'}; use a .png, .svg or .pdf name")
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("matplotlib is not installed; install it with: pip install 'dsd-tui[plot]'") from None
    return Figure


def rendered(fig, path: Path) -> bytes:
    """The figure in `path`'s format, to be written in one go."""
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lower()[1:], dpi=120)
    return buf.getvalue()


def plot(groups: list[idx.Group], path: Path) -> dict:
    """Draw the three panels into `path` (.png, .svg or .pdf); returns the series drawn, per panel."""
    path = Path(path)
    Figure = figure_class(path)
    drawn = {"accuracy": accuracy_series(groups), "entropy": entropy_series(groups), "cost": cost_series(groups)}
    colors = palette([g.label for g in groups])
    fig = Figure(figsize=(18, 5.2), layout="constrained")
    axes = fig.subplots(1, 3)
    draw_accuracy(axes[0], drawn["accuracy"], colors)
    draw_entropy(axes[1], drawn["entropy"], colors)
    draw_cost(axes[2], drawn["cost"], colors)
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend() is None and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    atomic_write_bytes(path, rendered(fig, path))  # a failed write leaves no half-written figure
    return drawn
