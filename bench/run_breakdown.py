"""Where a finished run's wall time went, from its events.jsonl alone.

    python bench/run_breakdown.py RUN_DIR

Training = the sum of `epoch_finished.seconds` (the epoch loops only); measurement = each rung's
`seconds` minus its epochs (the entropy pass and the val/test evaluations); the rest, from
`run_started` to the last event, is what happens between epochs: resume-state saves, rung
checkpoints, events and summary writes.
"""
import json
import sys
from pathlib import Path


def main(run_dir: str) -> None:
    events = [json.loads(line) for line in (Path(run_dir) / "events.jsonl").read_text().splitlines() if line]
    started = next(e["time"] for e in events if e["type"] == "run_started")
    wall = events[-1]["time"] - started
    epochs = [e for e in events if e["type"] == "epoch_finished"]
    train = sum(e["seconds"] for e in epochs)
    rungs = sum(e["record"]["seconds"] for e in events if e["type"] == "rung_finished")
    print(f"run_started → last event: {wall:.1f} s over {len(epochs)} epochs")
    print(f"  epoch loops  {train:7.1f} s")
    print(f"  measurement  {rungs - train:7.1f} s")
    print(f"  the rest     {wall - rungs:7.1f} s ({1e3 * (wall - rungs) / max(1, len(epochs)):.1f} ms per epoch)")


if __name__ == "__main__":
    main(sys.argv[1])
