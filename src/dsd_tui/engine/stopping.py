"""Stop criteria: pure functions of the per-rung records so far (no training needed to test them).

Each criterion in REGISTRY takes (records, cfg) and returns a Firing or None. It "fires" at the
first rung at which it returns a Firing; `newly_fired` reports exactly those, so re-evaluating
after a resume never fires a criterion twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Firing:
    criterion: str
    rung: int  # the rung at which it fired (the last record)
    selected_rung: int  # the rung it recommends keeping
    reason: str


def smoothed_val(records: list[dict], window: int) -> list[float]:
    """Trailing mean of validation accuracy over `window` rungs (only past rungs: usable live)."""
    vals = [r["val_acc"] if r.get("val_acc") is not None else 0.0 for r in records]
    out = []
    for i in range(len(vals)):
        lo = max(0, i - window + 1)
        out.append(sum(vals[lo:i + 1]) / (i + 1 - lo))
    return out


def early_stop(records: list[dict], cfg, start: int = 0, name: str = "early-stop") -> Firing | None:
    sv = smoothed_val(records, cfg.smooth)
    if len(sv) - start <= cfg.patience:
        return None
    window = range(start, len(sv))
    best_i = max(window, key=lambda i: (sv[i], -i))  # the first rung reaching the best value
    if len(sv) - 1 - best_i >= cfg.patience:
        rung = records[-1]["rung"]
        sel = records[best_i]["rung"]
        return Firing(name, rung, sel, f"validation accuracy (smoothed over {cfg.smooth}) has not improved on "
                                       f"{sv[best_i]:.3f} (rung {sel}) for {cfg.patience} rungs")
    return None


def tolerance_drop(records: list[dict], cfg, start: int = 0, name: str = "tolerance-drop") -> Firing | None:
    sv = smoothed_val(records, cfg.smooth)
    if len(sv) <= start:
        return None
    i = len(sv) - 1
    ref = sv[0] if cfg.reference == "dense" else max(sv[start:i] or sv[:1])
    if i == 0 or sv[i] >= ref - cfg.delta:
        return None
    within = [j for j in range(start, i) if sv[j] >= ref - cfg.delta]
    sel = records[within[-1]]["rung"] if within else records[max(0, i - 1)]["rung"]
    return Firing(name, records[i]["rung"], sel,
                  f"validation accuracy {sv[i]:.3f} fell more than {cfg.delta:.3f} below the "
                  f"{cfg.reference} reference {ref:.3f}")


def entropy_armed_at(records: list[dict], gate_drop: float) -> int | None:
    """Index of the first rung whose mean entropy is gate_drop below its running maximum."""
    running = None
    for i, r in enumerate(records):
        h = r.get("entropy_mean")
        if h is None:
            continue
        running = h if running is None else max(running, h)
        if running > 0 and h < (1.0 - gate_drop) * running:
            return i
    return None


def entropy_gated(records: list[dict], cfg) -> Firing | None:
    armed = entropy_armed_at(records, cfg.gate_drop)
    if armed is None:
        return None
    rule = early_stop if cfg.gated == "early-stop" else tolerance_drop
    f = rule(records, cfg, start=armed, name="entropy-gated")
    if f is None:
        return None
    return Firing("entropy-gated", f.rung, f.selected_rung,
                  f"armed at rung {records[armed]['rung']} (mean entropy {cfg.gate_drop:.0%} below its max); "
                  + f.reason)


REGISTRY: dict[str, Callable] = {
    "early-stop": early_stop,
    "tolerance-drop": tolerance_drop,
    "entropy-gated": entropy_gated,
}


def evaluate(name: str, records: list[dict], cfg) -> Firing | None:
    return REGISTRY[name](records, cfg)


def newly_fired(records: list[dict], cfg) -> list[Firing]:
    """The configured criteria that fire at the last record and did not fire on any earlier prefix."""
    out = []
    for name in cfg.criteria:
        now = evaluate(name, records, cfg)
        if now is None:
            continue
        if any(evaluate(name, records[:k], cfg) is not None for k in range(1, len(records))):
            continue
        out.append(now)
    return out
