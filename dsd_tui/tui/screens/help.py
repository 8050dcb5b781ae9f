"""The help screen: what each key does and what the panes show."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
[b]dsd-tui monitor[/b]

[b]s[/b]  stop after the current rung (the run is saved; resume it with `dsd-tui resume RUN_DIR`)
[b]q[/b]  quit: training stops at the next batch, the run is marked interrupted and can be resumed
[b]e[/b]  export: s summary, m the network of the rung in view, c compact
[b]p[/b]  plot: teacher and student, teacher only, student only
[b]m[/b]  plot: test+val accuracy, test, val, train accuracy, mean entropy
[b]↑ ↓[/b] rung inspector: the layer panes show the rung under the table's cursor (the newest again on the last row)
[b]l[/b]  below 100×32: the side pane shows the kept weights per layer instead of the entropy
[b]r[/b]  the stop criteria that fired, each with its full reason
[b]?[/b]  this help (escape closes it)

[b]Table[/b]  one row per finished rung; * marks the best validation rung of each phase; the regime
        (memorising, critical, recovered, collapsing; narrow: mem, crit, rec, coll).
[b]Plot[/b]   x = rung (each prunes prune.rate of the remaining weights), labelled with its sparsity;
        ● teacher test, ○ teacher val, ■ student test, □ student val; ┄ the dense rung's value,
        ★ each phase's best validation rung, ▲ under the axis where an active criterion fired (△ shadow).
[b]Layers[/b]  each prunable layer's size and the fraction of it kept; ✗ nothing kept (layer
        collapse), ! under 1% or under 10 weights kept. Scrolls when the network has more layers.
[b]Entropy[/b] mean activation entropy of each ReLU layer (bits) across the rungs of the phase.
[b]STOP[/b]   a stop criterion fired: the rung it keeps and that rung's test accuracy (r: why). The
        run goes on unless the profile says stop.action = "stop".

In watch mode (dsd-tui watch RUN_DIR) the monitor follows events.jsonl and cannot stop the run.
"""


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(HELP, id="help-text")
