"""`dsd-tui plot`: the paper's figures from run and sweep directories (matplotlib, the `plot` extra).

Four panels, sized for a two-column page (7 in wide; it stays legible at one column): test accuracy
against sparsity for the teacher (IMP, blue) and the student (DSD², red), with the dense baseline and
the rungs the active stop fired at and kept; each phase's per-layer activation entropy against sparsity
(shades of the phase's colour); test accuracy against training cost (epochs trained until a stop
criterion fired) for each criterion, next to the whole ladder. Settings are told apart by line style and
named by what they set (not by folder names); a ± one standard deviation band is drawn only where a
setting has several seeds, and the titles say how many (n). The sparsity axis is -log10(1 - sparsity),
labelled in sparsity, so 90%, 99% and 99.9% are equally far apart; its ticks are thinned to what fits
the panel's width, so labels near 100% never run into each other. Each panel's function returns the
series it drew, so what is on the figure can be checked against the summaries.
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
TICKS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9998, 0.9999)
PHASE_NAME = {"teacher": "teacher (IMP)", "student": "student (DSD²)"}
PHASE_COLOR = {"teacher": "#1f5fa8", "student": "#c8321e"}  # blue and red: apart in greyscale and for colour-blind
GROUP_STYLE = ("-", "--", ":", "-.")  # settings are told apart by line style (the colour is the phase)
GROUP_MARKER = ("o", "s", "^", "D", "v", "P")
FIGSIZE_IN = {2: (7.0, 5.4), 1: (3.5, 2.8)}  # a page's full text width (two columns), and one column
FONT_PT = 7.5
TICK_CHAR_IN = 0.055  # a tick label's character at FONT_PT, inches (with its padding: TICK_PAD_IN)
TICK_PAD_IN = 0.12
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


def thinned_ticks(top: float, width_in: float, candidates=TICKS) -> list[float]:
    """The sparsity ticks up to `top` whose labels fit side by side on an axis `width_in` inches wide: kept
    from the left while each is at least its label's width (and its neighbour's) from the one before."""
    span = max(spread(top), 1e-9)
    kept: list[float] = []
    for t in (c for c in candidates if c <= top + 1e-9):
        if not kept:
            kept.append(t)
            continue
        need_in = TICK_CHAR_IN * (len(tick_label(t)) + len(tick_label(kept[-1]))) / 2 + TICK_PAD_IN
        if (spread(t) - spread(kept[-1])) / span * width_in >= need_in:
            kept.append(t)
    return kept


def legend_label(g: idx.Group) -> str:
    """A setting as a reader names it: its swept values, else what the run is (data, model, noise), never a
    time-stamped folder name."""
    if g.settings:
        return g.label
    prof = g.runs[0].summary.get("profile", {}) if g.runs else {}
    data, model = prof.get("data", {}), prof.get("model", {})
    if not data:
        return g.label
    return f"{data.get('dataset')}, {model.get('arch')}, {data.get('noise', 0):.0%} noise"


def legend_labels(groups: list[idx.Group]) -> dict:
    """Group label → its legend label, numbered where two settings would read the same."""
    labels = {g.label: legend_label(g) for g in groups}
    values = list(labels.values())
    return {k: (f"{v} #{i + 1}" if values.count(v) > 1 else v) for i, (k, v) in enumerate(labels.items())}


def seeds_text(ns: list[int]) -> str:
    """"n = 3 seeds", "n = 1" or "n = 2–3 seeds per setting": the title's honest count."""
    ns = sorted(set(ns)) or [0]
    if ns[-1] <= 1:
        return "one run per setting, n = 1" if len(ns) else "n = 1"
    what = f"n = {ns[0]}" if len(ns) == 1 else f"n = {ns[0]}–{ns[-1]}"
    return f"{what} seeds, band ± 1 std"


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


def entropy_series(groups: list[idx.Group], phases=("teacher", "student")) -> list[dict]:
    """Each phase's per-layer entropy (bits) by rung, mean and std over seeds (the teacher's first)."""
    out = []
    for phase in (phases,) if isinstance(phases, str) else phases:
        for g, _, agg in phase_aggregates(groups, (phase,)):
            layers = sorted({m[len("entropy:"):] for r in agg["rungs"] for m in r["metrics"]
                             if m.startswith("entropy:")})
            for layer in layers:
                rungs = [r for r in agg["rungs"] if f"entropy:{layer}" in r["metrics"]]
                out.append({"group": g.label, "phase": phase, "layer": layer, "n": agg["n"],
                            **_curve(rungs, f"entropy:{layer}")})
    return out


def stop_marks(groups: list[idx.Group]) -> list[dict]:
    """Each run's active stop per phase: where it fired and the rung it kept (sparsity, test accuracy)."""
    out = []
    for g in groups:
        for run in g.runs:
            phases = {p["name"]: {r["rung"]: r for r in p["rungs"]} for p in run.summary.get("phases", [])}
            for st in run.summary.get("stops", []):
                rungs = phases.get(st.get("phase"), {})
                fired, kept = rungs.get(st.get("rung")), rungs.get(st.get("selected_rung"))
                if not st.get("active") or fired is None or kept is None:
                    continue
                out.append({"group": g.label, "phase": st["phase"], "criterion": st.get("criterion"),
                            "fired_rung": fired["rung"], "fired_sparsity": fired["sparsity"],
                            "fired_test_acc": fired.get("test_acc"), "kept_rung": kept["rung"],
                            "kept_sparsity": kept["sparsity"], "kept_test_acc": kept.get("test_acc")})
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

def axis_width_in(ax) -> float:
    """The axes' width in inches, as laid out so far."""
    fig = ax.get_figure()
    return ax.get_position().width * fig.get_figwidth()


def sparsity_axis(ax, series: list[dict]) -> None:
    """The x-axis in spread sparsity, its ticks labelled in sparsity and thinned to the axes' width (the rungs'
    own on a short ladder)."""
    seen = sorted({round(s, 4) for ser in series for s in ser["sparsity"]})
    top = seen[-1] if seen else 0.9
    ticks = thinned_ticks(top, axis_width_in(ax))
    if len([t for t in TICKS if t <= top + 1e-9]) < 3:  # a short ladder: label its own rungs instead
        ticks = thinned_ticks(top, axis_width_in(ax), seen)
    ax.set_xticks([spread(t) for t in ticks], [tick_label(t) for t in ticks])
    ax.set_xlabel("sparsity (log scale of 1 − sparsity)")


def band(ax, x, ser: dict, color, alpha: float) -> None:
    """The ± 1 std band over seeds around a series' mean."""
    lo = [m - s for m, s in zip(ser["mean"], ser["std"])]
    hi = [m + s for m, s in zip(ser["mean"], ser["std"])]
    ax.fill_between(x, lo, hi, color=color, alpha=alpha, linewidth=0)


def group_style(groups: list[str]) -> dict:
    return {g: (GROUP_STYLE[i % len(GROUP_STYLE)], GROUP_MARKER[i % len(GROUP_MARKER)]) for i, g in enumerate(groups)}


def draw_accuracy(ax, series: list[dict], labels: dict, marks: list[dict] = ()) -> None:
    """Test accuracy by sparsity: a line per phase (colour) and setting (style), the dense baseline dotted,
    the active stop's firing (×) and kept rung (hollow circle)."""
    styles = group_style(list(labels))
    several = len(labels) > 1
    for ser in series:
        x = [spread(s) for s in ser["sparsity"]]
        c = PHASE_COLOR[ser["phase"]]
        style, _ = styles[ser["group"]]
        label = PHASE_NAME[ser["phase"]] + (f", {labels[ser['group']]}" if several else "")
        ax.plot(x, ser["mean"], style, color=c, marker=".", markersize=3, linewidth=1.1, label=label)
        if ser["n"] > 1:
            band(ax, x, ser, c, 0.15)
    for ser in series:  # the dense baseline: the teacher's rung 0 (the student's starts from the same init)
        if ser["phase"] == "teacher" and ser["mean"]:
            ax.axhline(ser["mean"][0], color="0.45", linestyle=":", linewidth=0.9,
                       label="dense baseline (rung 0)" if ser["group"] == series[0]["group"] else None)
    for i, m in enumerate(marks):
        c = PHASE_COLOR[m["phase"]]
        if m["fired_test_acc"] is not None:
            ax.plot(spread(m["fired_sparsity"]), m["fired_test_acc"], "x", color=c, markersize=6,
                    label="active stop fired" if i == 0 else None)
        if m["kept_test_acc"] is not None:
            ax.plot(spread(m["kept_sparsity"]), m["kept_test_acc"], "o", mfc="none", color=c, markersize=7,
                    label="rung the stop kept" if i == 0 else None)
    sparsity_axis(ax, series)
    ax.set_ylabel("test accuracy")
    ax.set_title(f"test accuracy ({seeds_text([ser['n'] for ser in series])})")
    if ax.get_legend_handles_labels()[0]:  # below the axes: inside, it would hide the dip it is about
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=FONT_PT - 1.5, frameon=False)


def draw_entropy(ax, series: list[dict], labels: dict, phase: str) -> None:
    """One phase's per-layer entropy: layers in shades of the phase's colour, settings by line style."""
    from matplotlib.colors import to_rgb
    mine = [ser for ser in series if ser["phase"] == phase]
    layers = list(dict.fromkeys(ser["layer"] for ser in mine))
    styles = group_style(list(labels))
    base = to_rgb(PHASE_COLOR[phase])
    for ser in mine:
        k = layers.index(ser["layer"])
        mix = 0.55 * k / max(1, len(layers) - 1)  # darkest = first layer, lighter towards the output
        color = tuple(c + (1 - c) * mix for c in base)
        x = [spread(s) for s in ser["sparsity"]]
        label = ser["layer"] + (f", {labels[ser['group']]}" if len(labels) > 1 else "")
        ax.plot(x, ser["mean"], styles[ser["group"]][0], color=color, marker=".", markersize=3, linewidth=1.0,
                label=label)
        if ser["n"] > 1:
            band(ax, x, ser, color, 0.12)
    sparsity_axis(ax, mine)
    ax.set_ylabel("activation entropy (bits)")
    ax.set_title(f"{PHASE_NAME[phase]}: entropy per layer")


def draw_cost(ax, series: list[dict], labels: dict) -> None:
    """Accuracy against cost per criterion: the colour is the phase, the marker the criterion; several
    settings are numbered beside their points (the legend's #)."""
    numbers = {g: i + 1 for i, g in enumerate(labels)}
    for p in series:
        if p["cost_epochs"] is None or p["test_acc"] is None:
            continue
        c = PHASE_COLOR[p["phase"]]
        ax.errorbar(p["cost_epochs"], p["test_acc"], xerr=p["cost_std"] or None, yerr=p["acc_std"] or None,
                    marker=marker(p["criterion"]), markersize=7 if p["criterion"] == "full ladder" else 5,
                    color=c, mfc=c, linestyle="none", capsize=2, elinewidth=0.8)
        if len(labels) > 1:
            ax.annotate(str(numbers[p["group"]]), (p["cost_epochs"], p["test_acc"]), fontsize=FONT_PT - 1.5,
                        xytext=(3, 3), textcoords="offset points")
    _cost_legend(ax, series, labels)
    ax.set_xlabel("training cost (epochs until the criterion fired)")
    ax.set_ylabel("test accuracy of the kept rung")
    ax.set_title("accuracy vs cost per stop criterion")


def _cost_legend(ax, series: list[dict], labels: dict) -> None:
    """A compact key: marker = criterion, colour = phase, # = setting (when several)."""
    from matplotlib.lines import Line2D
    crits = list(dict.fromkeys(p["criterion"] for p in series))
    phases = list(dict.fromkeys(p["phase"] for p in series))
    handles = [Line2D([], [], marker=marker(c), color="0.35", linestyle="none", label=c) for c in crits]
    handles += [Line2D([], [], marker="s", color=PHASE_COLOR[ph], linestyle="none", label=PHASE_NAME[ph])
                for ph in phases]
    if len(labels) > 1:
        handles += [Line2D([], [], linestyle="none", label=f"{i + 1}: {lab}") for i, lab in enumerate(labels.values())]
    if handles:  # below the axes, as the accuracy panel's: inside it would cover points
        ax.legend(handles=handles, fontsize=FONT_PT - 1.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3,
                  frameon=False)


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
    fig.savefig(buf, format=path.suffix.lower()[1:], dpi=200)
    return buf.getvalue()


def plot(groups: list[idx.Group], path: Path, columns: int = 2) -> dict:
    """Draw the four panels into `path` (.png, .svg or .pdf), two columns wide; at one column, the accuracy
    panel alone (four panels in 3.5 in are unreadable). Returns the series drawn, per panel."""
    path = Path(path)
    figure_class(path)
    with paper_style():
        fig, drawn = build(groups, columns)
        image = rendered(fig, path)
    atomic_write_bytes(path, image)  # a failed write leaves no half-written figure
    return drawn


def build(groups: list[idx.Group], columns: int = 2):
    """The figure (matplotlib's Figure, not yet written) and the series drawn on it."""
    from matplotlib.figure import Figure
    drawn = {"accuracy": accuracy_series(groups), "entropy": entropy_series(groups), "cost": cost_series(groups),
             "stops": stop_marks(groups)}
    labels = legend_labels(groups)
    fig = Figure(figsize=FIGSIZE_IN[columns], layout="constrained")
    with paper_style():
        axes = fig.subplots(2, 2) if columns == 2 else fig.subplots(1, 1, squeeze=False)
        fig.get_layout_engine().execute(fig)  # the axes' widths, for the ticks that fit them
        draw_accuracy(axes[0, 0], drawn["accuracy"], labels, drawn["stops"])
        if columns == 2:
            draw_cost(axes[0, 1], drawn["cost"], labels)
            draw_entropy(axes[1, 0], drawn["entropy"], labels, "teacher")
            draw_entropy(axes[1, 1], drawn["entropy"], labels, "student")
        for ax in axes.flat:
            ax.grid(alpha=0.3, linewidth=0.5)
            if ax.get_legend() is None and ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=FONT_PT - 1.5, loc="best")
        if len(labels) == 1:
            fig.suptitle(next(iter(labels.values())), fontsize=FONT_PT + 1)
    return fig, drawn


def paper_style():
    """Font sizes for a figure printed at its own size on a page (FONT_PT), set only while drawing."""
    import matplotlib
    return matplotlib.rc_context({"font.size": FONT_PT, "axes.titlesize": FONT_PT + 0.5,
                                  "axes.labelsize": FONT_PT, "xtick.labelsize": FONT_PT - 0.5,
                                  "ytick.labelsize": FONT_PT - 0.5, "legend.fontsize": FONT_PT - 1.5})
