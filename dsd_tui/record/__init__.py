"""The run record: the events, the rung record, the summary folded from them, and the run directory.

Everything a run leaves on disk is written here, atomically: `events.jsonl`, `summary.json`,
`profile.toml`, the checkpoints and the resume state.
"""
