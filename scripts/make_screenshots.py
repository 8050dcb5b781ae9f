"""Make the README's screenshots of the monitor from recorded runs.

    python scripts/make_screenshots.py                       # replay the recorded event files
    python scripts/make_screenshots.py --record              # first run the real quickstart (≈2 min, 1 thread)
    python scripts/make_screenshots.py --record-resnet18     # first run the short ResNet-18 run (≈3 min, 1 thread)
    python scripts/make_screenshots.py --events RUN/events.jsonl

The monitor is driven headless in watch mode over a copy of the event file: once cut in the middle
of the student ladder ("during") and once whole ("end"), with the clock frozen at the last event
shown, so the same events always give the same SVGs. Writes screenshots/monitor-*.svg. The
ResNet-18 screenshot (many layers: 21 prunable, 17 ReLU) replays screenshots/resnet18-events.jsonl.gz,
a short run on synthetic CIFAR-shaped data (RESNET18 below: 128 training images, 2 dense epochs,
1 per rung, 6 rungs of 60% so that it reaches paper-like sparsities in few rungs; not a paper result).
The committed file is the whole run, teacher then student ladder (14 rungs; recorded in 187 s on the
2-core VM at load average ≈ 2.5, 2 Dec 2026). tests/data/tui-resnet18-run.jsonl, which the tests
replay, is an earlier recording of its teacher ladder.
"""
from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dsd_tui import profile as profile_mod  # noqa: E402
from dsd_tui.runner import RunSession  # noqa: E402
from dsd_tui.tui.app import DsdApp  # noqa: E402
from dsd_tui.tui.screens.monitor import MonitorScreen  # noqa: E402

OUT = ROOT / "screenshots"
RECORDED = OUT / "quickstart-events.jsonl.gz"
RESNET18_RECORDED = OUT / "resnet18-events.jsonl.gz"
RESNET18 = ["run.name=resnet18-synthetic", "data.dataset=synthetic", "model.arch=resnet18", "data.synthetic_size=128",
            "data.val_size=32", "prune.rungs=6", "prune.rate=0.6", "train.dense_epochs=2", "train.epochs=1"]
SHOTS = {"monitor-during.svg": ("during", (120, 36)), "monitor-end.svg": ("end", (120, 36)),
         "monitor-80x24.svg": ("end", (80, 24))}
RESNET18_SHOT = ("monitor-resnet18.svg", (120, 40))


def record(overrides: list[str]) -> bytes:
    """Run the real quickstart headless; returns its events.jsonl."""
    with tempfile.TemporaryDirectory() as tmp:
        session = RunSession.new(profile_mod.load(None, overrides), tmp)
        print(f"recording the quickstart in {session.path} …", flush=True)
        status = session.run()
        print(f"run {status}", flush=True)
        return (session.path / "events.jsonl").read_bytes()


def read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def cut_during(lines: list[bytes]) -> int:
    """Number of lines up to the student ladder's middle rung (its rung_finished), or half the file."""
    rungs = json.loads(lines[0])["rungs"]
    for i, raw in enumerate(lines):
        e = json.loads(raw)
        if e["type"] == "rung_finished" and e["phase"] == "student" and e["rung"] == rungs // 2:
            return i + 1
    return len(lines) // 2


async def shoot(events: Path, last_time: float, size: tuple[int, int], target: Path) -> None:
    app = DsdApp(MonitorScreen(events_path=events, clock=lambda: last_time))
    async with app.run_test(size=size, notifications=True) as pilot:
        await pilot.pause(0.5)
        app.save_screenshot(target.name, str(target.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=Path, default=RECORDED, help="events.jsonl(.gz) to replay")
    ap.add_argument("--record", action="store_true", help=f"run the quickstart first and save {RECORDED.name}")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="profile overrides for --record")
    ap.add_argument("--record-resnet18", action="store_true", help=f"run the short ResNet-18 run first and save "
                                                                   f"{RESNET18_RECORDED.name}")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    if args.record:
        RECORDED.write_bytes(gzip.compress(record(args.overrides), mtime=0))
        args.events = RECORDED
    if args.record_resnet18:
        RESNET18_RECORDED.write_bytes(gzip.compress(record(RESNET18), mtime=0))
    lines = read(args.events).splitlines(keepends=True)
    cuts = {"during": cut_during(lines), "end": len(lines)}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (moment, size) in SHOTS.items():
            run_dir = Path(tmp) / f"{moment}-{size[0]}"
            run_dir.mkdir()
            shown = lines[:cuts[moment]]
            (run_dir / "events.jsonl").write_bytes(b"".join(shown))
            asyncio.run(shoot(run_dir / "events.jsonl", json.loads(shown[-1])["time"], size, OUT / name))
            print(f"wrote {OUT / name} ({moment}, {size[0]}×{size[1]})")
        if RESNET18_RECORDED.is_file():
            name, size = RESNET18_SHOT
            run_dir = Path(tmp) / "resnet18"
            run_dir.mkdir()
            shown = read(RESNET18_RECORDED).splitlines(keepends=True)
            (run_dir / "events.jsonl").write_bytes(b"".join(shown))
            asyncio.run(shoot(run_dir / "events.jsonl", json.loads(shown[-1])["time"], size, OUT / name))
            print(f"wrote {OUT / name} (ResNet-18, end, {size[0]}×{size[1]})")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
