"""Compute figures as people read them: MACs with an SI prefix, a saving as a percentage, a speed-up as ×N.

The rung records count multiply-accumulates (MACs, core/macs.py); one MAC is two floating-point operations
(FLOPs = 2 × MACs). The views (headless table, end-of-run report, monitor header, inspector) and the study
tables write them through these few functions, so every screen spells a figure the same way.
"""
from __future__ import annotations

_PREFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si(value: float | None, unit: str = "MAC") -> str:
    """`value` with an SI prefix and `unit`: 3.46e9 -> "3.46 GMAC"; None -> "n/a"."""
    if value is None:
        return "n/a"
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def saving(spent: float | None, full: float | None) -> float | None:
    """The fraction of the full ladder's training MACs a stop saves, in [0, 1]; None if unknown."""
    if spent is None or not full:
        return None
    return 1.0 - spent / full


def saving_text(spent: float | None, full: float | None) -> str:
    """"3.1 TMAC of 7.0 TMAC training (saves 55.7%)", or "" when either price is unknown."""
    s = saving(spent, full)
    if s is None:
        return ""
    return f"{si(spent)} of {si(full)} training (saves {100 * s:.1f}%)"


def speedup_text(speedup: float | None) -> str:
    """"×12.3" (theoretical forward speed-up from the kept weights' MACs), or "n/a"."""
    return "n/a" if speedup is None else f"×{speedup:.3g}"
