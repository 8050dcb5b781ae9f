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
[b]e[/b]  export the summary now, to RUN_DIR/export-summary.json
[b]p[/b]  plot: teacher and student, teacher only, student only
[b]m[/b]  plot: test+val accuracy, test, val, train accuracy, mean entropy
[b]?[/b]  this help (escape closes it)

[b]Table[/b]  one row per finished rung; * marks the best validation rung of each phase.
[b]Plot[/b]   x = rung (each prunes prune.rate of the remaining weights), labelled with its sparsity;
        ● teacher test, ○ teacher val, ■ student test, □ student val.
[b]Entropy[/b] mean activation entropy of each ReLU layer (bits) across the rungs of the phase.
[b]STOP[/b]   a stop criterion fired: the rung it recommends and why. The run goes on unless
        the profile says stop.action = "stop".

In watch mode (dsd-tui watch RUN_DIR) the monitor follows events.jsonl and cannot stop the run.
"""


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(HELP, id="help-text")
