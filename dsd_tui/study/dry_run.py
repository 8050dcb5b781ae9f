"""`dsd-tui sweep --dry-run`: the plan of a sweep or study, printed, with nothing written and nothing run."""
from __future__ import annotations

from dsd_tui.study.estimate import estimate, measured
from dsd_tui.study.grid import LadderPlan, value_text


def plan_lines(sweep_dir, base_label: str, overrides, grid: dict, plans: list[LadderPlan],
               study=None) -> list[str]:
    seeds = sorted({p.seed for p in plans})
    settings = list(dict.fromkeys(p.setting_key for p in plans))
    lines = []
    if study is not None:
        lines.append(f"study {study.name}: {study.description}")
    lines.append(f"base profile: {base_label}" + (f" with {' '.join(overrides)}" if overrides else ""))
    for key, values in grid.items():
        lines.append(f"grid {key}: {', '.join(value_text(v) for v in values)}")
    if not grid:
        lines.append("grid: none (one setting)")
    lines.append(f"seeds: {', '.join(map(str, seeds))}")
    lines.append(f"plan: {len(settings)} setting(s) × {len(seeds)} seed(s) = {len(plans)} ladders")
    lines.append("cost: " + estimate([p.profile for p in plans]).line())
    lines.append(measured([p.profile for p in plans]))
    lines.append(f"sweep directory: {sweep_dir} (nothing written: --dry-run)")
    lines += [f"  {p.name}" for p in plans]
    return lines
