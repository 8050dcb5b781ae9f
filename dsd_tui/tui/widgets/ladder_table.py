"""The ladder table: one row per finished rung of each phase; the best-validation rung starred, the
regime of each rung (as the headless view prints it).

Its cursor is the rung inspector: moving it up the table (arrow keys) puts that rung in view in the
layer panes; while it sits on the last row it follows the newest rung as rungs are added.
"""
from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from dsd_tui.tui.view import Row

# (label, width in cells); no cell padding, so the widths carry the spacing and 80 columns fit. Below
# SECONDS_FROM terminal columns the seconds per rung are left out (the layer panes beside the table
# need the room), below 100 the regime is abbreviated too (`set_width`).
COLUMNS = (("phase", 8), ("rung", 5), ("sparsity", 9), ("train", 6), ("val", 6), ("test", 6), ("H", 6),
           ("regime", 11), ("sec", 6))
SECONDS_FROM = 130
REGIME_SHORT = {"memorising": "mem", "critical": "crit", "recovered": "rec", "collapsing": "coll"}
REGIME_STYLE = {"memorising": "yellow", "critical": "bold", "recovered": "green", "collapsing": "red"}


def _num(text: str, style: str = "") -> Text:
    return Text(text, justify="right", style=style)


def _acc(v: float | None) -> Text:
    return _num("n/a" if v is None else f"{v:.3f}")


class LadderTable(DataTable):
    def __init__(self, **kw):
        super().__init__(cursor_type="row", zebra_stripes=True, cell_padding=0, **kw)
        self.rows_shown: list[Row] = []
        self.narrow = False  # regime abbreviated
        self.seconds = True  # the sec column shown
        self.columns_shown = COLUMNS

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        columns = COLUMNS if self.seconds else COLUMNS[:-1]
        self.columns_shown = columns[:7] + (("regime", 7),) + columns[8:] if self.narrow else columns
        for label, width in self.columns_shown:
            header = label if label == "phase" else f" {label}" if label == "regime" else _num(label)
            self.add_column(header, width=width, key=label)

    def set_width(self, terminal_columns: int) -> None:
        """Fit the columns to the terminal's width (see COLUMNS); keeps the rows and the cursor."""
        narrow, seconds = terminal_columns < 100, terminal_columns >= SECONDS_FROM
        if (narrow, seconds) == (self.narrow, self.seconds):
            return
        self.narrow, self.seconds = narrow, seconds
        rows, cursor = self.rows_shown, self.cursor_row
        self.clear(columns=True)
        self.rows_shown = []
        self._add_columns()
        self.show(rows)
        if rows:
            self.move_cursor(row=min(cursor, len(rows) - 1), animate=False)

    def following(self) -> bool:
        """Is the cursor on the newest rung (or the table empty)? Then it moves on with new rungs."""
        return self.row_count == 0 or self.cursor_row >= self.row_count - 1

    def inspected(self) -> Row | None:
        """The row under the cursor when it is not on the newest rung, else None (the view follows)."""
        if self.following() or not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row]

    def show(self, rows: list[Row]) -> None:
        """Show `rows`: new rungs are appended and rows that changed (the best mark moves) updated in
        place; only a different history (another run, a phase shown again) rebuilds the table."""
        if rows == self.rows_shown:
            return
        old = self.rows_shown
        grew = len(rows) > len(old)
        follow = self.following()
        if [r.key for r in rows[:len(old)]] != [r.key for r in old]:
            self.clear()
            old = []
        for i, r in enumerate(rows):
            if i < len(old):
                if r != old[i]:
                    for (label, _w), cell in zip(self.columns_shown, _cells(r, self.narrow, self.seconds)):
                        self.update_cell(r.key, label, cell)
            else:
                self.add_row(*_cells(r, self.narrow, self.seconds), key=r.key)
        self.rows_shown = list(rows)
        if grew and follow:
            self.move_cursor(row=self.row_count - 1, animate=False)
            self.scroll_end(animate=False)


def _cells(r: Row, narrow: bool = False, seconds: bool = True) -> list[Text]:
    style = "bold" if r.best else ""
    regime = REGIME_SHORT.get(r.regime, r.regime) if narrow else r.regime
    cells = [Text(r.phase, style=style), _num(f"{r.rung}{'*' if r.best else ' '}", style),
             _num(f"{r.sparsity * 100:.2f}%", style), _acc(r.train_acc), _acc(r.val_acc),
             _acc(r.test_acc), _acc(r.entropy_mean), Text(f" {regime}", style=REGIME_STYLE.get(r.regime, ""))]
    return cells + [_num(f"{r.seconds:.1f}")] if seconds else cells
