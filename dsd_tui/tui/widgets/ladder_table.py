"""The ladder table: one row per finished rung of each phase; the best-validation rung starred."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from dsd_tui.tui.view import Row

# (label, width in cells); no cell padding, so the widths carry the spacing and 80 columns fit.
COLUMNS = (("phase", 8), ("rung", 5), ("sparsity", 9), ("train", 6), ("val", 6), ("test", 6), ("H", 6),
           ("sec", 7))


def _num(text: str, style: str = "") -> Text:
    return Text(text, justify="right", style=style)


def _acc(v: float | None) -> Text:
    return _num("n/a" if v is None else f"{v:.3f}")


class LadderTable(DataTable):
    def __init__(self, **kw):
        super().__init__(cursor_type="none", zebra_stripes=True, cell_padding=0, **kw)
        self.rows_shown: list[Row] = []

    def on_mount(self) -> None:
        for label, width in COLUMNS:
            self.add_column(label if label == "phase" else _num(label), width=width, key=label)

    def show(self, rows: list[Row]) -> None:
        """Show `rows`: new rungs are appended and rows that changed (the best mark moves) updated in
        place; only a different history (another run, a phase shown again) rebuilds the table."""
        if rows == self.rows_shown:
            return
        old = self.rows_shown
        grew = len(rows) > len(old)
        if [r.key for r in rows[:len(old)]] != [r.key for r in old]:
            self.clear()
            old = []
        for i, r in enumerate(rows):
            if i < len(old):
                if r != old[i]:
                    for (label, _w), cell in zip(COLUMNS, _cells(r)):
                        self.update_cell(r.key, label, cell)
            else:
                self.add_row(*_cells(r), key=r.key)
        self.rows_shown = list(rows)
        if grew:
            self.scroll_end(animate=False)


def _cells(r: Row) -> list[Text]:
    style = "bold" if r.best else ""
    return [Text(r.phase, style=style), _num(f"{r.rung}{'*' if r.best else ' '}", style),
            _num(f"{r.sparsity * 100:.2f}%", style), _acc(r.train_acc), _acc(r.val_acc),
            _acc(r.test_acc), _acc(r.entropy_mean), _num(f"{r.seconds:.1f}")]
