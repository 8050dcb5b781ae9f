"""The ladder plot: accuracy (or mean entropy) against rung, teacher and student on one chart.

The x axis is the rung index, so the high-sparsity rungs (where the dip and the recovery happen)
get as much room as the first ones; tick labels give the sparsity of the rungs measured so far.
Beside the series: a dotted reference line at the dense rung's value, a ★ on each phase's best
validation rung, and under the x axis a ▲ where an active stop criterion fired (△: a shadow one).
"""
from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widget import Widget

from dsd_tui.tui.view import PlotMarks, Series
from dsd_tui.tui.widgets.canvas import Canvas, Trace, nice_range

MARKERS = {("teacher", "val"): "○", ("student", "val"): "□", "teacher": "●", "student": "■"}
STYLES = {"teacher": "bold cyan", "student": "bold magenta"}
Y_LABEL = 5  # characters for the y tick labels


def fmt_sparsity(s: float) -> str:
    if s < 0.9:
        return f"{s * 100:.0f}%"
    return f"{s * 100:.1f}%" if s < 0.99 else f"{s * 100:.2f}%"


def trace_for(s: Series) -> Trace:
    marker = MARKERS.get((s.phase, s.metric), MARKERS.get(s.phase, "•"))
    style = STYLES.get(s.phase, "bold")
    if s.metric == "val":
        style = style.replace("bold", "dim")
    return Trace(tuple((float(x), y) for x, y in s.points), marker, style, s.line)


class LadderPlot(Widget):
    """Draws the series it is shown; `series` is kept for tests and screenshots to read."""

    DEFAULT_CSS = "LadderPlot { height: 1fr; }"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.series: list[Series] = []
        self.x_max = 1
        self.ticks: dict[int, float] = {}
        self.marks: PlotMarks | None = None

    def show(self, series: list[Series], x_max: int, ticks: dict[int, float], title: str,
             marks: PlotMarks | None = None) -> None:
        if (series, max(1, x_max), ticks, title, marks) == (self.series, self.x_max, self.ticks, self.border_title,
                                                             self.marks):
            return  # nothing new: no repaint (this is called on every redraw)
        self.series, self.x_max, self.ticks, self.marks = series, max(1, x_max), ticks, marks
        self.border_title = title
        self.refresh()

    def render(self):
        width, height = self.content_size.width, self.content_size.height
        if not any(s.points for s in self.series):
            return Text("waiting for the first rung…", style="dim")
        legend = self._legend(width)
        plot_w, plot_h = max(4, width - Y_LABEL - 1), max(2, height - 3)
        marks = self.marks
        ys = [y for s in self.series for _, y in s.points]
        if marks is not None and marks.reference is not None:
            ys.append(marks.reference)
        y_lo, y_hi = nice_range(ys)
        canvas = Canvas(plot_w, plot_h, (0.0, float(self.x_max)), (y_lo, y_hi))
        if marks is not None and marks.reference is not None:
            canvas.hline(marks.reference, "┄", "dim")
        for s in self.series:
            canvas.draw(trace_for(s))
        for phase, rung, value in marks.best if marks is not None else ():
            canvas.marker(float(rung), value, "★", STYLES.get(phase, "bold"))
        lines = [legend]
        for i, row in enumerate(canvas.rows()):
            label = ""
            if i in (0, plot_h - 1, plot_h // 2):
                value = y_hi - (y_hi - y_lo) * i / max(1, plot_h - 1)
                label = f"{value:.2f}"
            lines.append(Text(f"{label:>{Y_LABEL}}┤", style="dim") + row)
        lines.append(self._axis_line(plot_w))
        lines.append(self._tick_line(plot_w))
        return Group(*lines)

    def _axis_line(self, plot_w: int) -> Text:
        """The x axis, with ▲ under each rung where an active criterion fired (△: shadow only)."""
        cells = ["─"] * plot_w
        for rung, active in self.marks.fired if self.marks is not None else ():
            col = round(rung / self.x_max * (plot_w * 2 - 1)) // 2
            if 0 <= col < plot_w and (active or cells[col] != "▲"):
                cells[col] = "▲" if active else "△"
        axis = Text(" " * Y_LABEL + "└", style="dim")
        for ch in cells:
            axis.append(ch, style="bold yellow" if ch == "▲" else "dim")
        return axis

    def _legend(self, width: int) -> Text:
        extra = []
        if self.marks is not None:
            if self.marks.reference is not None:
                extra.append(("┄", self.marks.reference_label, "dim"))
            if self.marks.best:
                extra.append(("★", "best", "bold"))
            if any(active for _, active in self.marks.fired):
                extra.append(("▲", "stop", "bold yellow"))
        long = sum(len(s.label) + 4 for s in self.series) + sum(len(e[1]) + 4 for e in extra) <= width
        legend = Text(no_wrap=True, overflow="ellipsis")
        for s in self.series:
            t = trace_for(s)
            label = s.label if long else f"{s.phase[:1].upper()} {s.metric}"
            legend.append(f"{t.marker} {label}  ", style=t.style)
        for marker, label, style in extra:
            legend.append(f"{marker} {label.split()[-1]}  ", style=style)
        return legend

    def _tick_line(self, plot_w: int) -> Text:
        """Rung ticks labelled with their sparsity where known; the last rung's first, none overlapping."""
        cells = [" "] * (Y_LABEL + 1 + plot_w)
        taken: list[tuple[int, int]] = []
        for rung in [self.x_max] + list(range(self.x_max)):
            col = Y_LABEL + 1 + round(rung / self.x_max * (plot_w * 2 - 1)) // 2
            label = fmt_sparsity(self.ticks[rung]) if rung in self.ticks else f"r{rung}"
            start = min(max(col - len(label) // 2, Y_LABEL + 1), Y_LABEL + 1 + plot_w - len(label))
            end = start + len(label)
            if start < Y_LABEL + 1 or any(start < b + 2 and a < end + 2 for a, b in taken):
                continue
            cells[start:end] = label
            taken.append((start, end))
        return Text("".join(cells).rstrip(), style="dim", no_wrap=True)
