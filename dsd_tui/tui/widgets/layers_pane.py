"""The layers pane: for the rung in view, each prunable layer's size and the fraction of it kept, as a bar.

Global magnitude pruning decides per layer how much survives; this pane lets the eye see which layers
it spares and which it empties. A layer with nothing kept is marked ✗ (collapsed), one with under 1%
or under 10 weights kept ! (record/layers.py); both keep their mark without colour (NO_COLOR). One
line per layer; a network with more layers than the pane has lines (ResNet-18: 21) scrolls, and the
title says how many there are, so no row is ever cut silently.
"""
from __future__ import annotations

import re

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from dsd_tui.tui.view import LayerRow

MARKS = {"collapsed": ("✗", "bold red"), "warning": ("!", "bold yellow"), None: (" ", "")}
EIGHTHS = " ▏▎▍▌▋▊▉█"


def short_name(name: str, width: int) -> str:
    """The weight's name without `.weight`, fitted to `width`: first a word-and-number part is cut to its
    initial ("layer3.0.conv1" -> "l3.0.conv1"), then the name is cut in the middle with …."""
    name = name.removesuffix(".weight") or name
    if len(name) > width:
        name = re.sub(r"(?<![^.])([A-Za-z])[A-Za-z]+(?=\d)", r"\1", name)
    if len(name) <= width:
        return name
    head = (width - 1) // 2
    return name[:head] + "…" + name[len(name) - (width - 1 - head):]


def count(n: int | None) -> str:
    """Weights as a short count: 1728, 37K, 2.4M."""
    if n is None:
        return "?"
    if n < 10_000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.0f}K"
    return f"{n / 1e6:.1f}M"


def kept_bar(fraction: float, width: int) -> str:
    """A bar of `width` cells filled to `fraction`, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(width, "·")


def percent(fraction: float) -> str:
    """The kept fraction in at most 5 characters; never 0% for a layer that keeps something."""
    pct = fraction * 100
    if 0 < pct < 0.01:
        return "<.01%"
    if pct >= 10 or pct == 0:
        return f"{pct:.0f}%"
    return f"{pct:.1f}%" if pct >= 1 else f"{pct:.2f}%"


def layer_lines(rows: list[LayerRow], width: int) -> list[Text]:
    """One line per layer: mark, name, size, bar of the kept fraction, kept %. Fitted to `width` cells:
    the name comes first (cut in the middle only when it must be), the size is left out below 30."""
    size_w, pct_w = max(len(count(r.weights)) for r in rows), 6
    size_part = size_w + 1 if width >= 30 else 0
    min_bar = 8 if width >= 36 else 4
    name_w = min(max(len(short_name(r.name, 99)) for r in rows), max(6, width - 2 - size_part - 1 - min_bar - pct_w))
    bar_w = max(3, width - 2 - name_w - 1 - size_part - pct_w)
    lines = []
    for r in rows:
        mark, style = MARKS[r.level]
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(mark + " ", style=style)
        t.append(f"{short_name(r.name, name_w):<{name_w}} ", style=style or "")
        if size_part:
            t.append(f"{count(r.weights):>{size_w}} ", style="dim")
        t.append(kept_bar(r.kept, bar_w), style=style or "bold")
        t.append(f" {percent(r.kept):>{pct_w - 1}}", style=style)
        lines.append(t)
    return lines


class LayersPane(VerticalScroll):
    """Shows `show(phase, rung, rows, inspecting)`; `rows_shown` is kept for tests to read."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.rows_shown: list[LayerRow] = []
        self._width = 0

    def compose(self):
        yield Static(id="layers-body")

    def show(self, phase: str | None, rung: int | None, rows: list[LayerRow], inspecting: bool = False,
             compute: str = "") -> None:
        """`compute`: the rung's forward MACs and speed-up (view.rung_compute), shown in the title."""
        marks = sum(r.level is not None for r in rows)
        title = f"kept per layer ({len(rows)})" if rows else "kept per layer"
        if phase is not None and rung is not None:
            title += f": {phase} r{rung}{' · cursor' if inspecting else ''}"
            if compute:
                title += f" · {compute}"
        if marks:
            title += f" · {marks} ✗/!"
        if title != self.border_title:
            self.border_title = title
        width = self.scrollable_content_region.width
        if rows == self.rows_shown and width == self._width:
            return
        self.rows_shown, self._width = list(rows), width
        self._render_body(rung)

    def on_resize(self) -> None:
        """The lines are fitted to the width: redo them when it changes (also when the pane is first shown)."""
        width = self.scrollable_content_region.width
        if width != self._width and self.rows_shown:
            self._width = width
            self._render_body(0)

    def _render_body(self, rung: int | None) -> None:
        rows, width = self.rows_shown, self._width
        body = self.query_one("#layers-body", Static)
        if not rows:
            why = "waiting for the first rung…" if rung is None else "no per-layer sparsity in this run's records"
            body.update(Text(why, style="dim"))
            return
        body.update(Text("\n").join(layer_lines(rows, max(20, width))))
