"""dsd_tui: run and watch DSD² pruning ladders in the terminal."""

__version__ = "0.1.0"
