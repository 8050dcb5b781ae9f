"""Stop criteria: pure functions of the per-rung records so far (no training needed to test them).

Each criterion in REGISTRY takes (records, cfg) (cfg: the profile's [stop] section) and returns a
Firing or None. It *fires* at the first rung at which it returns a Firing; `first_firing` replays a
finished ladder to find that rung, `newly_fired` reports the criteria firing at the last record, so
re-evaluating after a resume never fires a criterion twice.

The rules (defaults and the measurements behind them: docs/results.md, "Stop criteria"):
- early-stop: the classic rule. Fires when the validation accuracy has not beaten its best by
  more than `min_delta` for `patience` rungs; keeps the best rung.
- tolerance-drop: the compression rule. Fires at the first rung whose validation accuracy falls
  more than `delta` below the reference (the dense rung, or the best so far); keeps the sparsest
  rung still within the tolerance.
- entropy-gated: the `gated` rule, armed only once the mean layer entropy has fallen `gate_drop`
  below its running maximum (the network has left the memorising regime), counting only the
  rungs from there on.
Validation accuracy is a trailing mean over `smooth` rungs (past rungs only, so it is usable live):
one rung's validation accuracy on a small noisy split is too noisy to compare rung to rung.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from dsd_tui.record.rung import RungRecord


@dataclass(frozen=True)
class Firing:
    criterion: str
    rung: int  # the rung at which it fired (the last record)
    selected_rung: int  # the rung it recommends keeping
    reason: str


def smoothed_val(records: list[RungRecord], window: int) -> list[float]:
    """Trailing mean of validation accuracy over `window` rungs (only past rungs: usable live)."""
    vals = [r["val_acc"] if r.get("val_acc") is not None else 0.0 for r in records]
    out = []
    for i in range(len(vals)):
        lo = max(0, i - window + 1)
        out.append(sum(vals[lo:i + 1]) / (i + 1 - lo))
    return out


def _smooth_note(cfg) -> str:
    return f" (mean of the last {cfg.smooth} rungs)" if cfg.smooth > 1 else ""


def early_stop(records: list[RungRecord], cfg, start: int = 0, name: str = "early-stop") -> Firing | None:
    sv = smoothed_val(records, cfg.smooth)
    if len(sv) - start <= cfg.patience:
        return None
    best_i = start
    for i in range(start + 1, len(sv)):
        if sv[i] > sv[best_i] + cfg.min_delta:
            best_i = i
    waited = len(sv) - 1 - best_i
    if waited < cfg.patience:
        return None
    sel = records[best_i]["rung"]
    return Firing(name, records[-1]["rung"], sel,
                  f"validation accuracy{_smooth_note(cfg)} has not beaten {sv[best_i]:.3f} (rung {sel}) "
                  f"for {waited} rungs")


def tolerance_drop(records: list[RungRecord], cfg, start: int = 0, name: str = "tolerance-drop") -> Firing | None:
    sv = smoothed_val(records, cfg.smooth)
    i = len(sv) - 1
    if i <= start:
        return None
    ref = sv[0] if cfg.reference == "dense" else max(sv[start:i])
    floor = ref - cfg.delta
    if sv[i] >= floor:
        return None
    within = [j for j in range(start, i) if sv[j] >= floor]
    sel = records[within[-1] if within else i - 1]["rung"]
    return Firing(name, records[i]["rung"], sel,
                  f"validation accuracy{_smooth_note(cfg)} {sv[i]:.3f} fell more than {cfg.delta:.3f} below "
                  f"the {cfg.reference} reference {ref:.3f}; rung {sel} is the sparsest within it")


def entropy_armed_at(records: list[RungRecord], gate_drop: float) -> int | None:
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


GATED = {"early-stop": early_stop, "tolerance-drop": tolerance_drop}


def entropy_gated(records: list[RungRecord], cfg) -> Firing | None:
    armed = entropy_armed_at(records, cfg.gate_drop)
    if armed is None:
        return None
    f = GATED[cfg.gated](records, cfg, start=armed, name="entropy-gated")
    if f is None:
        return None
    return Firing("entropy-gated", f.rung, f.selected_rung,
                  f"armed at rung {records[armed]['rung']} (mean entropy {cfg.gate_drop:.0%} below its running "
                  f"max); " + f.reason)


REGISTRY: dict[str, Callable] = {
    "early-stop": early_stop,
    "tolerance-drop": tolerance_drop,
    "entropy-gated": entropy_gated,
}


def evaluate(name: str, records: list[RungRecord], cfg) -> Firing | None:
    return REGISTRY[name](records, cfg)


def first_firing(records: list[RungRecord], name: str, cfg) -> Firing | None:
    """Where the criterion first fires when the records arrive one rung at a time (None: never)."""
    for k in range(1, len(records) + 1):
        f = evaluate(name, records[:k], cfg)
        if f is not None:
            return f
    return None


def newly_fired(records: list[RungRecord], cfg) -> list[Firing]:
    """The configured criteria that fire at the last record and did not fire on any earlier prefix."""
    out = []
    for name in cfg.criteria:
        f = first_firing(records, name, cfg)
        if f is not None and f.rung == records[-1]["rung"]:
            out.append(f)
    return out
