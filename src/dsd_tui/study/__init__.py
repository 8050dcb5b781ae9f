"""Beyond one run: sweeps over settings and seeds, seed statistics, comparison and figures.

grid.py expands `--grid`/`--seeds` into ladders, index.py keeps a sweep's `sweep.json` and finds the
runs behind a path, sweep.py fans the ladders out on Ray, status.py is the sweep's headless view,
aggregate.py, compare.py and plot.py read finished run directories, commands.py holds their
CLI commands; tui/sweep_screen.py and tui/compare_screen.py are their Textual screens. Nothing here trains a model itself:
each ladder is an ordinary run (runner.RunSession) in its own run directory.
"""
