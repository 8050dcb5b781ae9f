"""`dsd-tui compare`: teacher and student curves of several runs or sweeps side by side.

One row per rung, two columns per run (teacher, student) holding a rung metric (test accuracy by
default); a sweep's settings are shown as mean ± std over their seeds. Unfinished runs are shown as
far as they got, so a sweep can be compared while it runs.
"""
from __future__ import annotations

from rich.table import Table

from dsd_tui.study import sweep_index as idx
from dsd_tui.study.aggregate import aggregate_phase, phase_of, stats

PHASES = ("teacher", "student")


def curves(group: idx.Group, metric: str) -> dict:
    """{phase: {rung: {"mean", "std", "n", "sparsity"}}} of one group, over all its runs."""
    summaries = [r.summary for r in group.runs]
    out = {}
    for phase in PHASES:
        agg = aggregate_phase(phase, summaries)
        if agg is None:
            continue
        out[phase] = {r["rung"]: {**r["metrics"].get(metric, stats([])),
                                  "sparsity": r["metrics"]["sparsity"]["mean"]} for r in agg["rungs"]}
    return out


def cell(st: dict | None, percent: bool) -> str:
    if not st or st.get("mean") is None:
        return ""
    scale, fmt = (100.0, "{:.1f}") if percent else (1.0, "{:.3f}")
    text = fmt.format(st["mean"] * scale)
    if st["n"] > 1:
        text += "±" + fmt.format(st["std"] * scale)
    return text


def table(groups: list[idx.Group], metric: str = "test_acc") -> tuple[Table, dict]:
    """The Rich table and the curves it shows ({label: curves}) so callers and tests see the numbers."""
    data = {g.label: curves(g, metric) for g in groups}
    percent = metric.endswith("_acc")
    rungs = sorted({k for c in data.values() for ph in c.values() for k in ph})
    sparsity = _shared_sparsity(data, rungs)
    t = Table(title=f"{metric}{' (%)' if percent else ''} per rung: T = teacher, S = student; "
                    f"mean±std over seeds where a setting has several", title_justify="left")
    t.add_column("rung", justify="right")
    t.add_column("sparsity", justify="right")
    for i, _ in enumerate(data, 1):  # labels can be long: columns are numbered, the legend names them
        t.add_column(f"#{i} T", justify="right", no_wrap=True)
        t.add_column(f"#{i} S", justify="right", no_wrap=True)
    for k in rungs:
        s = sparsity.get(k)
        row = [str(k), "" if s is None else f"{s * 100:.2f}%"]
        for c in data.values():
            row += [cell(c.get(ph, {}).get(k), percent) for ph in PHASES]
        t.add_row(*row)
    t.add_section()
    t.add_row("best", "val", *[cell(_at_best(g, ph, metric), percent) for g in groups for ph in PHASES])
    t.caption = "\n".join(f"#{i} = {g.label} ({_runs_text(g)})" for i, g in enumerate(groups, 1))
    t.caption_justify = "left"
    return t, data


def _runs_text(group: idx.Group) -> str:
    if len(group.runs) == 1:
        return f"{group.runs[0].path}, {group.runs[0].status}"
    seeds = ",".join(str(r.seed) for r in group.runs)
    done = sum(r.status in idx.FINISHED for r in group.runs)
    return f"seeds {seeds}; {done}/{len(group.runs)} finished"


def _shared_sparsity(data: dict, rungs: list[int]) -> dict:
    """Sparsity per rung when every run agrees on it (same pruning rate); otherwise left blank."""
    out = {}
    for k in rungs:
        values = {round(ph[k]["sparsity"], 6) for c in data.values() for ph in c.values() if k in ph}
        if len(values) == 1:
            out[k] = values.pop()
    return out


def _at_best(group: idx.Group, phase: str, metric: str) -> dict | None:
    values = []
    for r in group.runs:
        p = phase_of(r.summary, phase)
        rec = next((x for x in p.rungs if x.rung == p.best_rung), None) if p is not None else None
        if rec is not None:
            values.append(rec.to_json().get(metric))  # `metric`: a JSON key of the record
    return stats(values) if values else None


def stops_lines(groups: list[idx.Group]) -> list[str]:
    """One line per setting and criterion that fired: in how many seeds, where, what it kept."""
    lines = []
    for g in groups:
        summaries = [r.summary for r in g.runs]
        for phase in PHASES:
            agg = aggregate_phase(phase, summaries)
            for crit, st in (agg or {}).get("stops", {}).items():
                acc = st.get("selected_test_acc", {}).get("mean")
                saving = st.get("train_macs_saving", {})
                lines.append(f"{g.label} {phase}: {crit} fired in {st['fired_n']}/{st['n']} at rung "
                             f"{st['rung']['mean']:.1f} after {st['cost_epochs']['mean']:.0f} epochs"
                             + ("" if acc is None else f", kept test acc {acc:.3f}")
                             + ("" if saving.get("mean") is None else
                                f", saving {cell(saving, True)}% of the full ladder's training MACs"))
    return lines
