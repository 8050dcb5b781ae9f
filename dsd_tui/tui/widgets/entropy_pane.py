"""Per-layer activation entropy across rungs: one sparkline per ReLU layer, with its latest value.

With the rung inspector on a rung, the sparklines end at that rung and the values are its own. A
network with more ReLU layers than fit (ResNet-18: 17) scrolls; the title says how many there are.
"""
from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Sparkline, Static


class EntropyPane(VerticalScroll):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.layer_values: dict[str, list[float]] = {}

    def show(self, phase: str | None, layers: dict[str, list[float]], rung: int | None = None) -> None:
        title = f"entropy (bits, {len(layers)} layers)" if layers else "entropy per layer (bits)"
        if phase:
            title += f": {phase}" + (f" r{rung} · cursor" if rung is not None else "")
        if title != self.border_title:
            self.border_title = title
        if layers == self.layer_values:
            return
        if list(layers) != list(self.layer_values):
            self.remove_children()
            widgets = []
            for i, name in enumerate(layers):
                widgets += [Static(classes="layer-label", id=f"layer-label-{i}"),
                            Sparkline([], id=f"layer-spark-{i}", summary_function=max)]
            self.mount_all(widgets)
        self.layer_values = {k: list(v) for k, v in layers.items()}
        for i, (name, values) in enumerate(layers.items()):
            self.query_one(f"#layer-label-{i}", Static).update(
                f"{name}  {values[-1]:.3f}" if values else name, layout=False)
            self.query_one(f"#layer-spark-{i}", Sparkline).data = values
