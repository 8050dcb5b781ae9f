"""Beyond one run: sweeps over settings and seeds, seed statistics, comparison and figures.

`grid.py` expands `--grid`/`--seeds` into ladders; `sweep_index.py` keeps a sweep's `sweep.json` and
finds the runs behind a path; `sweep.py` fans the ladders out on Ray; `sweep_table.py` is the sweep's
headless status table; `aggregate.py`, `compare_runs.py` and `figures.py` read finished run
directories; `commands.py` holds their CLI commands. Their Textual screens are `tui/screens/sweep.py`
and `tui/screens/compare.py`. Nothing here trains a model itself: each ladder is an ordinary run
(`runner.RunSession`) in its own run directory.
"""
