"""A character plot for the terminal: braille dots for lines, a marker per data point.

Braille cells hold 2×4 dots, so a 40×10 cell plot has 80×40 points of resolution, in any
terminal font that has the braille block (every common one does). Markers differ per series, so
the plot stays readable without colour (NO_COLOR).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

BRAILLE = 0x2800
DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))  # [x % 2][y % 4]


@dataclass(frozen=True)
class Trace:
    points: tuple[tuple[float, float], ...]  # (x, y) in data units
    marker: str
    style: str
    line: bool = True


class Canvas:
    """A grid of `width`×`height` cells mapping x in [x0, x1] and y in [y0, y1] onto it."""

    def __init__(self, width: int, height: int, x_range: tuple[float, float], y_range: tuple[float, float]):
        self.width, self.height = max(1, width), max(1, height)
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        self.dots = [[0] * self.width for _ in range(self.height)]
        self.chars: list[list[str | None]] = [[None] * self.width for _ in range(self.height)]
        self.styles: list[list[str]] = [[""] * self.width for _ in range(self.height)]
        self.back: list[list[str | None]] = [[None] * self.width for _ in range(self.height)]  # under the dots

    def _dot(self, x: float, y: float) -> tuple[int, int]:
        fx = (x - self.x0) / ((self.x1 - self.x0) or 1.0)
        fy = (y - self.y0) / ((self.y1 - self.y0) or 1.0)
        dx = round(min(1.0, max(0.0, fx)) * (self.width * 2 - 1))
        dy = round((1.0 - min(1.0, max(0.0, fy))) * (self.height * 4 - 1))
        return dx, dy

    def _set_dot(self, dx: int, dy: int, style: str) -> None:
        row, col = dy // 4, dx // 2
        self.dots[row][col] |= DOT_BITS[dx % 2][dy % 4]
        self.styles[row][col] = style

    def line(self, a: tuple[float, float], b: tuple[float, float], style: str) -> None:
        (x0, y0), (x1, y1) = self._dot(*a), self._dot(*b)
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(steps + 1):
            self._set_dot(round(x0 + (x1 - x0) * i / steps), round(y0 + (y1 - y0) * i / steps), style)

    def marker(self, x: float, y: float, char: str, style: str) -> None:
        dx, dy = self._dot(x, y)
        self.chars[dy // 4][dx // 2] = char
        self.styles[dy // 4][dx // 2] = style

    def hline(self, y: float, char: str, style: str) -> None:
        """A reference line at `y`, drawn under everything else (dots and markers cover it)."""
        row = self._dot(self.x0, y)[1] // 4
        for c in range(self.width):
            self.back[row][c] = char
            if not self.styles[row][c]:
                self.styles[row][c] = style

    def draw(self, trace: Trace) -> None:
        if trace.line:
            for a, b in zip(trace.points, trace.points[1:]):
                self.line(a, b, trace.style)
        for x, y in trace.points:
            self.marker(x, y, trace.marker, trace.style)

    def rows(self) -> list[Text]:
        out = []
        for r in range(self.height):
            text = Text()
            for c in range(self.width):
                ch = self.chars[r][c] or (chr(BRAILLE + self.dots[r][c]) if self.dots[r][c] else None) \
                    or self.back[r][c] or " "
                text.append(ch, Style.parse(self.styles[r][c]) if self.styles[r][c] else None)
            out.append(text)
        return out


def nice_range(values: list[float], step: float = 0.05) -> tuple[float, float]:
    """The data's range widened to multiples of `step` (never empty)."""
    if not values:
        return 0.0, 1.0
    lo = round(math.floor(min(values) / step + 1e-9) * step, 9)
    hi = round(math.ceil(max(values) / step - 1e-9) * step, 9)
    return (lo, lo + step) if hi - lo < step else (lo, hi)
