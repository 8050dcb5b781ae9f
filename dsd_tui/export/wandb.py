"""A run as a Weights & Biases run: `dsd-tui export RUN_DIR --format wandb [-o DIR]`.

Offline by default (`WANDB_MODE=offline` unless the environment sets another mode): the run is
written under DIR (default: the current folder) as `wandb/offline-run-.../`, to be uploaded later
with `wandb sync DIR/wandb/offline-run-...`, the normal path on a GPU machine without internet.
`WANDB_MODE=online` (after `wandb login`) logs it directly; `WANDB_PROJECT` / `WANDB_ENTITY` choose
where (default project: dsd-tui).

The points are `scalars.py`'s, logged per phase with a step metric of their own, so both ladders
plot against the rung (or against `<phase>/sparsity`, chosen as the x-axis in the W&B UI):
`<phase>/<field>` with `<phase>/rung` as its step, and per epoch `<phase>-epoch/<field>` with
`<phase>-epoch/epoch`. The resolved profile is the run's config (`train.lr`, ...); the summary holds
the test accuracy at each phase's best validation rung. Needs the `wandb` extra. `WandbSink` is the
live form (`run.wandb = true`, or `run|resume --wandb`), its files in RUN_DIR/wandb/. W&B writes its
files from a background service: they are complete once `finish()` has been called and the service
has flushed (at the latest when the process exits).
"""
from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from pathlib import Path

from dsd_tui.errors import UsageError
from dsd_tui.export.scalars import Fold, hparams
from dsd_tui.record.rundir import EVENTS, read_events, rebuild_summary
from dsd_tui.record.summary import PhaseSummary

MODES = ("offline", "online", "shared", "disabled", "dryrun", "run")  # what wandb accepts for WANDB_MODE


def require():
    """The wandb module, once the environment says a mode it can run in: a WANDB_MODE wandb does not know,
    or an online mode without a key, is one line before anything is written (not wandb's traceback)."""
    try:
        import wandb
    except ImportError:
        raise UsageError("Weights & Biases is not installed; install it with `pip install 'dsd-tui[wandb]'` "
                         "(or `pip install wandb`)") from None
    mode = os.environ.get("WANDB_MODE", "offline")
    if mode not in MODES:
        raise UsageError(f"WANDB_MODE = {mode!r}: W&B takes one of {', '.join(MODES)}; unset it to log offline")
    if mode in ("online", "shared", "run") and not _has_key():
        raise UsageError(f"WANDB_MODE = {mode!r} needs a W&B API key and none is set here; run `wandb login` (or "
                         f"set WANDB_API_KEY), or unset WANDB_MODE to log offline and `wandb sync` later")
    return wandb


def _has_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return "api.wandb.ai" in netrc.read_text(errors="replace")
    except OSError:
        return False


def run_id(summary: dict) -> str:
    """The same dsd_tui run always maps to the same W&B run id: its name and its first start time. Not its
    folder: a resumed (or moved) run may name its run directory by another path."""
    key = f"{summary.get('name')}|{summary.get('started')}"
    return "dsd-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def rows(fold: Fold) -> list[dict]:
    """One W&B log row per (phase, rung) and per (phase, epoch), in the order the run produced them."""
    grouped: dict[tuple[str, int], dict] = defaultdict(dict)
    times: dict[tuple[str, int], float] = {}
    for p in fold.sorted():
        key, row = row_of(p)
        grouped[key].update(row)
        times[key] = max(times.get(key, 0.0), p.time)
    return [grouped[k] for k in sorted(grouped, key=lambda k: (times[k], k))]


def row_of(p) -> tuple[tuple[str, int], dict]:
    """A point as (its row's key, its entries): per rung under `<phase>/`, per epoch under `<phase>-epoch/`."""
    phase, _, field = p.tag.partition("/")
    if field.startswith("epoch/"):
        return (f"{phase}-epoch", p.step), {f"{phase}-epoch/epoch": p.step,
                                            f"{phase}-epoch/{field[len('epoch/'):]}": p.value}
    return (phase, p.step), {f"{phase}/rung": p.step, f"{phase}/{field}": p.value}


def start(wandb, summary: dict, folder: Path, phases: list[str]):
    """An (offline unless WANDB_MODE says otherwise) W&B run for this dsd_tui run, its step metrics declared."""
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(project=os.environ.get("WANDB_PROJECT", "dsd-tui"), name=summary.get("name") or None,
                     id=run_id(summary), dir=str(folder), config=hparams(summary.get("profile", {})),
                     job_type="dsd2-ladder", resume="allow")
    for phase in phases:
        run.define_metric(f"{phase}/rung")
        run.define_metric(f"{phase}/*", step_metric=f"{phase}/rung")
        run.define_metric(f"{phase}-epoch/epoch")
        run.define_metric(f"{phase}-epoch/*", step_metric=f"{phase}-epoch/epoch")
    return run


def export(run_dir: Path, out: Path | None) -> Path:
    """Log the run as an (offline unless WANDB_MODE says otherwise) W&B run; returns its local folder."""
    wandb = require()
    events = read_events(Path(run_dir) / EVENTS)
    fold = Fold()
    for e in events:
        fold.consume(e)
    summary = rebuild_summary(Path(run_dir)).summary()
    folder = Path(out) if out else Path.cwd()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"-o {folder}: cannot create it ({e.strerror}); choose a writable folder") from None
    run = start(wandb, summary, folder, [p["name"] for p in summary["phases"]])
    try:
        for step, row in enumerate(rows(fold)):
            run.log(row, step=step)
        for p in (PhaseSummary.from_json(p) for p in summary["phases"]):
            best = next((r for r in p.rungs if r.rung == p.best_rung), None)
            if best is not None:
                run.summary[f"{p.name}/best_rung"] = best.rung
                run.summary[f"{p.name}/best_test_acc"] = best.test_acc
                run.summary[f"{p.name}/best_sparsity"] = best.sparsity
        run.summary["status"] = summary["status"]
        local = Path(run.dir).parent  # .../wandb/offline-run-<time>-<id>
    finally:
        run.finish()
    return local


class WandbSink:
    """The live sink (`run.wandb = true`, or `run|resume --wandb`): the run logged to W&B as it goes, its
    local files in RUN_DIR/wandb/. A resumed run continues the same W&B run id (a second offline folder:
    sync both, oldest first) and logs only the points the interrupted process had not logged."""

    def __init__(self):
        self.wandb = require()
        self.run = None
        self.logged: set[tuple[str, int]] = set()
        self.profile: dict = {}
        self.step = 0  # W&B's own row counter, continued across a resume (it must only increase)

    def __call__(self, e) -> None:
        from dsd_tui.export.scalars import points
        if e.type == "run_started":
            self._start(e)
            return
        if self.run is None:
            return
        rows: dict[tuple[str, int], dict] = {}
        for p in points(e, self.profile):
            if (p.tag, p.step) not in self.logged:
                key, row = row_of(p)
                rows.setdefault(key, {}).update(row)
                self.logged.add((p.tag, p.step))
        for row in rows.values():
            self.run.log(row, step=self.step)
            self.step += 1
        if e.type in ("run_finished", "run_failed", "run_interrupted"):
            self.run.finish()
            self.run = None

    def _start(self, e) -> None:
        if self.run is not None:
            self.run.finish()
        run_dir = Path(e.run_dir)
        self.profile = e.profile
        fold = Fold()
        for old in read_events(run_dir / EVENTS)[:-1]:  # the run so far (the last line is this run_started)
            fold.consume(old)
        summary = rebuild_summary(run_dir).summary()
        ident = run_id(summary)
        self.run = start(self.wandb, summary, run_dir, list(e.phases))
        earlier = rows(fold)
        if not (fold.points and self._logged_before(run_dir, ident)):
            for step, row in enumerate(earlier):  # W&B starts here (`resume --wandb`): the run so far first
                self.run.log(row, step=step)
        self.logged, self.step = set(fold.points), len(earlier)

    def _logged_before(self, run_dir: Path, ident: str) -> bool:
        """Whether an earlier process logged this run: a W&B folder other than this process's holds the run's
        transaction log (`run-<id>.wandb`). Not the folders' names: W&B names a folder by its start second and
        the run id, with a `-1`, `-2`, ... after the id when a resume starts within the same second."""
        mine = Path(self.run.dir).parent.resolve()  # .../wandb/offline-run-<time>-<id>[-<n>]
        return any(log.parent.resolve() != mine for log in (run_dir / "wandb").glob(f"*/run-{ident}.wandb"))
