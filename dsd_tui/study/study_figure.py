"""A study's figure and table (`dsd-tui plot` on a sweep made from a study file).

The figure is the paper's way of comparing settings: the study's metric (default test accuracy)
against sparsity, one colour per setting with a ± one standard deviation band over seeds, the
teacher (vanilla) ladder on the left and the DSD² student on the right, on the same axes. Figure and
table count finished ladders only (completed or stopped); the legend gives each setting's number.

The table, one row per setting and phase, like the papers' tables (mean ± std over seeds):
- dense: test accuracy of rung 0;
- best (val): the best-validation rung's test accuracy and sparsity, what dsd_tui selects (the
  test set never chooses anything);
- best (test): the highest test accuracy over the rungs and its sparsity, what the papers' tables
  report (an oracle choice, shown for comparison);
- SDD: in how many seeds the phase's verdict found sparse double descent (docs/stopping.md);
  for the student, in how many it dodged the teacher's.
"""
from __future__ import annotations

from pathlib import Path

from dsd_tui.errors import UsageError
from dsd_tui.record.rundir import atomic_write_bytes, atomic_write_text
from dsd_tui.study import figures
from dsd_tui.study import sweep_index as idx
from dsd_tui.study.aggregate import phase_of, stats

PHASES = ("teacher", "student")


def table_rows(groups: list[idx.Group]) -> list[dict]:
    rows = []
    for g in groups:
        summaries = [r.summary for r in g.runs if r.status in idx.FINISHED]
        for phase in PHASES:
            phases = [p for p in (phase_of(s, phase) for s in summaries) if p is not None and p.rungs]
            if not phases:
                continue
            good = [[r for r in p.rungs if r.test_acc is not None] for p in phases]
            dense = [next((r.test_acc for r in rs if r.rung == 0), None) for rs in good]
            by_val = [next((r for r in rs if r.rung == p.best_rung), None) for p, rs in zip(phases, good)]
            by_test = [max(rs, key=lambda r: (r.test_acc, r.sparsity)) if rs else None for rs in good]
            by_val, by_test = [r for r in by_val if r is not None], [r for r in by_test if r is not None]
            verdicts = [p.verdict for p in phases if p.verdict is not None]
            rows.append({
                "setting": g.label, "phase": phase, "n": len(phases),
                "dense_test_acc": stats(dense),
                "best_val_test_acc": stats(r.test_acc for r in by_val),
                "best_val_sparsity": stats(r.sparsity for r in by_val),
                "best_test_acc": stats(r.test_acc for r in by_test),
                "best_test_sparsity": stats(r.sparsity for r in by_test),
                "sdd": sum(bool(v.sdd) for v in verdicts),
                "dodged": sum(bool(v.dodged) for v in verdicts) if phase == "student" else None,
            })
    return rows


def _pm(st: dict, pct: bool = False) -> str:
    if st["mean"] is None:
        return "–"
    scale = 100.0 if pct else 1.0
    return f"{st['mean'] * scale:.{2 if pct else 3}f} ± {st['std'] * scale:.{2 if pct else 3}f}"


def table_markdown(rows: list[dict]) -> str:
    head = ("| setting | phase | seeds | dense test acc | best-val rung: test acc | its sparsity (%) "
            "| best test acc (oracle) | its sparsity (%) | SDD in seeds | student dodged |")
    lines = [head, "|" + " --- |" * 10]
    for r in rows:
        dodged = "" if r["dodged"] is None else f"{r['dodged']}/{r['n']}"
        lines.append(f"| {r['setting']} | {r['phase']} | {r['n']} | {_pm(r['dense_test_acc'])} "
                     f"| {_pm(r['best_val_test_acc'])} | {_pm(r['best_val_sparsity'], True)} "
                     f"| {_pm(r['best_test_acc'])} | {_pm(r['best_test_sparsity'], True)} "
                     f"| {r['sdd']}/{r['n']} | {dodged} |")
    return "\n".join(lines) + "\n"


# The study table beside a figure: `<figure stem>.table.md`, its first line this mark, so a later plot knows the
# file is its own and may replace it; a file of that name without the mark is the user's and is never replaced.
TABLE_MARK = "<!-- dsd-tui study table; `dsd-tui plot` rewrites this file -->"


def table_path(figure: Path) -> Path:
    """The table's path, derived from the figure's (report.png -> report.table.md): never a name the user may
    have meant for something else (a bare `report.md` beside `report.png` was replaced without a word)."""
    figure = Path(figure)
    return figure.with_name(f"{figure.stem}.table.md")


def check_table_path(path: Path, option: str) -> None:
    """Refuse (one line) a table path that holds a file dsd-tui did not write."""
    try:
        with open(path, "rb") as f:
            first = f.read(len(TABLE_MARK.encode()) + 1)
    except FileNotFoundError:
        return
    except OSError as e:
        raise UsageError(f"{option} {path}: cannot be read ({e.strerror}); choose another figure name") from None
    if not first.startswith(TABLE_MARK.encode()):
        raise UsageError(f"{option}: the study table goes to {path}, which exists and was not written by dsd-tui; "
                         f"nothing was written: move that file, or choose another figure name")


def plot_study(groups: list[idx.Group], study: dict, path: Path, columns: int = 2) -> dict:
    """Draw the study's figure into `path` and its table beside it (`table_path`); returns what was drawn."""
    path = Path(path)
    Figure = figures.figure_class(path)
    metric = study.get("plot", {}).get("metric", "test_acc")
    # finished ladders only, as in the table: a ladder still running would pull its setting's curve around
    groups = [idx.Group(g.label, g.settings, [r for r in g.runs if r.status in idx.FINISHED]) for g in groups]
    groups = [g for g in groups if g.runs]
    series = figures.accuracy_series(groups, metric)
    if not any(s["mean"] for s in series):
        raise UsageError(f"study {study.get('name')}: no finished rung has the metric {metric!r}; fix [plot] metric")
    colors = figures.palette([g.label for g in groups])
    fig = Figure(figsize=(7.0, 3.2) if columns == 2 else (3.5, 5.0), layout="constrained")
    with figures.paper_style():
        axes = fig.subplots(1, 2, sharey=True) if columns == 2 else fig.subplots(2, 1, sharex=True)
        fig.get_layout_engine().execute(fig)  # the axes' widths, for the ticks that fit them
        for ax, phase in zip(axes, PHASES):
            for ser in [s for s in series if s["phase"] == phase]:
                x = [figures.spread(s) for s in ser["sparsity"]]
                c = colors[ser["group"]]
                ax.plot(x, ser["mean"], "-", color=c, marker=".", markersize=3, linewidth=1.1,
                        label=f"{ser['group']} (n={ser['n']})")
                if ser["n"] > 1:
                    figures.band(ax, x, ser, c, 0.15)
            figures.sparsity_axis(ax, series)
            ax.set_title(figures.PHASE_NAME[phase])
            ax.grid(alpha=0.3, linewidth=0.5)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="best")
        ylabel = f"{metric} ({figures.seeds_text([ser['n'] for ser in series])})"
        axes[0].set_ylabel(ylabel)
        if columns == 1:  # stacked with a shared x-axis: one axis label, below; each panel its own y label
            axes[0].set_xlabel("")
            axes[1].set_ylabel(ylabel)
        fig.suptitle(study.get("plot", {}).get("title") or f"study {study.get('name', '')}")
        image = figures.rendered(fig, path)
    rows = table_rows(groups)
    table = table_markdown(rows)
    atomic_write_bytes(path, image)
    check_table_path(table_path(path), "-o")  # again, just before writing: nothing the user made is replaced
    atomic_write_text(table_path(path), f"{TABLE_MARK}\n{table}")
    return {"series": series, "rows": rows, "table": table, "table_path": table_path(path)}
