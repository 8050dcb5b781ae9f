"""Per-layer activation entropy across rungs: one sparkline per ReLU layer, all on one bits scale.

Every row shares the scale 0 … the largest entropy the run has recorded (the pane title states it), so
rows compare across layers and a ±0.003-bit wobble stays a wobble: scaling each row to its own min–max
drew 0.7675 → 0.7662 bits as a fall from full height to nothing. The x-axis is the plot's rung axis
(rung 0 at the left, rung N at the right; rungs not yet trained are dots), the selected rung (the table's
cursor, else the newest) is shown reversed, and each row's label carries that rung's value and the row's
min–max. A network with more ReLU layers than fit (ResNet-18: 17) scrolls.
"""
from __future__ import annotations

import math

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

BLOCKS = "▁▂▃▄▅▆▇█"  # eight levels from 0 bits (lowest block) to the shared top (full block)
NOT_YET = "·"  # a rung of the ladder not trained yet
NARROW_TITLE = 28  # columns: a narrower pane's title says "H" for "entropy", so its scale stays in view
MAX_REPEAT = 4  # columns per rung at most, when the pane is wider than the ladder is long


def level(value: float, top: float) -> int:
    """The block (0…7) a value in bits is drawn with on the scale 0…top."""
    if top <= 0:
        return 0
    return max(0, min(len(BLOCKS) - 1, round(value / top * (len(BLOCKS) - 1))))


def spark_text(values: list[float | None], top: float, cells: int, width: int, mark: int | None = None) -> Text:
    """One row: rung i's value at cell i of `cells` (the ladder's N+1 rungs), bins of rungs when `width` is
    narrower (a bin shows its newest value), the cell holding rung `mark` reversed."""
    cells = max(cells, len(values), 1)
    per = max(1, math.ceil(cells / max(1, width)))
    repeat = max(1, min(MAX_REPEAT, width // cells))  # a short ladder spreads over the width, as the plot's axis
    t = Text(no_wrap=True, overflow="crop")
    for start in range(0, cells, per):
        chunk = [v for v in values[start:start + per] if v is not None]
        char = BLOCKS[level(chunk[-1], top)] if chunk else NOT_YET
        marked = mark is not None and start <= mark < start + per
        t.append(char * repeat, style="reverse" if marked else ("dim" if not chunk else ""))
    return t


class EntropyRow(Widget):
    """One layer's sparkline; redrawn at the width it has (a resize re-bins it)."""

    DEFAULT_CSS = "EntropyRow { height: 1; }"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.values: list[float | None] = []
        self.top, self.cells, self.mark = 1.0, 1, None

    def set(self, values: list[float | None], top: float, cells: int, mark: int | None) -> None:
        if (values, top, cells, mark) != (self.values, self.top, self.cells, self.mark):
            self.values, self.top, self.cells, self.mark = list(values), top, cells, mark
            self.refresh()

    def render(self) -> Text:
        return spark_text(self.values, self.top, self.cells, self.content_size.width or self.cells, self.mark)


class EntropyPane(VerticalScroll):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.layer_values: dict[str, list[float | None]] = {}  # layer → bits at rung 0, 1, … (None: no value)
        self.current: dict[str, float] = {}  # layer → bits at the selected rung
        self.top = 0.0  # the shared scale's top, bits

    def show(self, phase: str | None, layers: dict[str, list[float | None]], top: float, cells: int,
             rung: int | None = None, cursor: bool = False) -> None:
        """`layers`: each layer's entropy by rung; `top`: the scale's top (bits, every layer and phase);
        `cells`: the ladder's rungs (N+1); `rung`: the selected rung, marked; `cursor`: it is the table's."""
        # the scale first: a narrow pane cuts the title's end
        word = "entropy" if self.size.width == 0 or self.size.width >= NARROW_TITLE else "H"  # the scale must fit
        title = f"{word} 0–{top:.2f} bits" if layers else "entropy per layer (bits)"
        if phase:
            title += f": {phase}" + (f" r{rung}" if rung is not None else "") + (" · cursor" if cursor else "")
        if layers:
            title += f" · {len(layers)} layers, one scale"
        if title != self.border_title:
            self.border_title = title
        shown = (layers, top, cells, rung)
        if shown == getattr(self, "_shown", None):
            return
        self._shown = shown
        if list(layers) != list(self.layer_values):
            self.remove_children()
            widgets = []
            for i, _name in enumerate(layers):
                widgets += [Static(classes="layer-label", id=f"layer-label-{i}"), EntropyRow(id=f"layer-spark-{i}")]
            self.mount_all(widgets)
        self.layer_values = {k: list(v) for k, v in layers.items()}
        self.top = top
        self.current = {}
        for i, (name, values) in enumerate(layers.items()):
            seen = [v for v in values if v is not None]
            now = values[rung] if rung is not None and rung < len(values) else (seen[-1] if seen else None)
            label = name
            if now is not None:
                self.current[name] = now
                label += f"  {now:.3f}  ({min(seen):.3f}–{max(seen):.3f})"
            self.query_one(f"#layer-label-{i}", Static).update(label, layout=False)
            self.query_one(f"#layer-spark-{i}", EntropyRow).set(values, top, cells, rung)
