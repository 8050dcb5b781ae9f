"""The screens of `DsdApp` (tui/app.py): the run monitor, the sweep table, the comparison, the help."""
