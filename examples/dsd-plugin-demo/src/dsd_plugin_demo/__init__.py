"""A worked dsd_tui plugin package: one model, one dataset and one pruning criterion, each declared as an
entry point in pyproject.toml. dsd_tui lists them from this package's metadata and imports a module
only when a profile names its entry."""
