"""The monitor's panes, one module per feature. Each widget draws what `show(...)` hands it."""
