"""What the monitor shows, read off the run summary: the one place the UI turns state into display data.

Every function here takes the app's `SummaryBuilder` (the same fold over events that writes
summary.json) and returns plain values for a widget to draw. Nothing here measures the model:
accuracies, sparsity, entropy and the best rung come from the events as they are. The only
estimate made here is the time left, from the seconds per epoch of the rungs finished so far.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from dsd_tui.record import events as ev
from dsd_tui.record.compute_text import si, speedup_text
from dsd_tui.record.layers import collapse_text, grade, kept_count
from dsd_tui.record.summary import StopEntry, SummaryBuilder
from dsd_tui.speed.modes import modes_note
from dsd_tui.stops.teacher_choice import choice_line
from dsd_tui.stops.verdicts import one_line, verdict_text
from dsd_tui.wording import phases_text, rung_count

PHASE_MODES = ("both", "teacher", "student")
METRICS = ("test+val", "test", "val", "train", "entropy")
METRIC_KEYS = {"test": "test_acc", "val": "val_acc", "train": "train_acc", "entropy": "entropy_mean"}
METRIC_LABELS = {"test": "test acc", "val": "val acc", "train": "train acc (noisy labels)",
                 "entropy": "mean entropy (bits)"}


def phase_names(b: SummaryBuilder) -> list[str]:
    return list(b.planned_phases or b.phases)


# ------------------------------------------------------------------ ladder table
@dataclass(frozen=True)
class Row:
    key: str  # "<phase>:<rung>", stable across updates
    phase: str
    rung: int
    sparsity: float  # fraction
    train_acc: float | None
    val_acc: float | None
    test_acc: float | None
    entropy_mean: float | None
    seconds: float
    best: bool
    regime: str = ""  # memorising | critical | recovered | collapsing (stops/regime.py); "" when not labelled


def table_rows(b: SummaryBuilder) -> list[Row]:
    rows = []
    for name in phase_names(b):
        phase = b.phases.get(name)
        if phase is None:
            continue
        for r in phase.rungs:
            rows.append(Row(f"{name}:{r.rung}", name, r.rung, r.sparsity, r.train_acc, r.val_acc, r.test_acc,
                            r.entropy_mean, float(r.seconds or 0.0), r.rung == phase.best_rung,
                            str(r.regime or "")))
    return rows


# ------------------------------------------------------------------ plot
@dataclass(frozen=True)
class Series:
    label: str
    phase: str
    metric: str
    points: tuple[tuple[int, float], ...]  # (rung index, value)
    line: bool  # joined by a line (test) or markers only (validation)


def plot_series(b: SummaryBuilder, phase_mode: str = "both", metric: str = "test+val") -> list[Series]:
    phases = phase_names(b) if phase_mode == "both" else [phase_mode]
    metrics = ["test", "val"] if metric == "test+val" else [metric]
    out = []
    for phase in phases:
        for m in metrics:
            key = METRIC_KEYS[m]
            pts = tuple((r.rung, getattr(r, key)) for r in b.records(phase) if getattr(r, key) is not None)
            out.append(Series(f"{phase} {m}", phase, m, pts, line=(m != "val")))
    return out


def plot_title(phase_mode: str, metric: str) -> str:
    what = "test and val acc" if metric == "test+val" else METRIC_LABELS[metric]
    who = "teacher and student" if phase_mode == "both" else phase_mode
    return f"{what}: {who}, by rung"


@dataclass(frozen=True)
class PlotMarks:
    reference: float | None  # the dense rung's value of the plotted metric (first phase shown): a reference line
    reference_label: str
    best: tuple[tuple[str, int, float], ...]  # (phase, rung, value): each shown phase's best validation rung
    fired: tuple[tuple[int, bool], ...]  # (rung, active): where a stop criterion fired, in the shown phases


def plot_marks(b: SummaryBuilder, phase_mode: str = "both", metric: str = "test+val") -> PlotMarks:
    """What the plot marks beside its series: the dense reference, the best rungs, the firings."""
    phases = phase_names(b) if phase_mode == "both" else [phase_mode]
    key = METRIC_KEYS["test" if metric == "test+val" else metric]
    reference, label = None, ""
    for phase in phases:
        dense = next((r for r in b.records(phase) if r.rung == 0), None)
        if dense is not None and getattr(dense, key) is not None:
            reference, label = getattr(dense, key), f"{phase} dense"
            break
    best = []
    for phase in phases:
        rung = b.phases[phase].best_rung if phase in b.phases else None
        rec = next((r for r in b.records(phase) if r.rung == rung), None)
        if rec is not None and getattr(rec, key) is not None:
            best.append((phase, rung, getattr(rec, key)))
    fired = tuple(sorted({(s.rung, bool(s.active)) for s in b.stops if s.phase in phases}))
    return PlotMarks(reference, label, tuple(best), fired)


def rung_ticks(b: SummaryBuilder) -> dict[int, float]:
    """Rung index → sparsity (fraction) for every rung that has finished in any phase."""
    out: dict[int, float] = {}
    for name in phase_names(b):
        for r in b.records(name):
            out.setdefault(r.rung, r.sparsity)
    return out


# ------------------------------------------------------------------ entropy
def entropy_phase(b: SummaryBuilder, phase_mode: str) -> str | None:
    """The plot's phase when one is chosen, else the phase running now (or the last one with rungs)."""
    if phase_mode != "both":
        return phase_mode
    current = b.current.phase
    if current and b.records(current):
        return current
    with_rungs = [p for p in phase_names(b) if b.records(p)]
    return with_rungs[-1] if with_rungs else current


def entropy_by_layer(b: SummaryBuilder, phase: str | None, upto: int | None = None) -> dict[str, list[float]]:
    """Layer name → its mean entropy (bits) at each finished rung of `phase`, in rung order (up to rung
    `upto` included, when given)."""
    out: dict[str, list[float]] = {}
    for r in b.records(phase) if phase else []:
        if upto is not None and r.rung > upto:
            break
        for layer, h in (r.entropy or {}).items():
            if h is not None:
                out.setdefault(layer, []).append(h)
    return out


def entropy_by_rung(b: SummaryBuilder, phase: str | None) -> dict[str, list[float | None]]:
    """Layer name → its mean entropy (bits) at rung 0, 1, … of `phase` (index = rung; None where a rung has
    no value): the sparklines' x-axis is the plot's rung axis."""
    records = b.records(phase) if phase else []
    if not records:
        return {}
    last = max(r.rung for r in records)
    out: dict[str, list[float | None]] = {}
    for r in records:
        for layer, h in (r.entropy or {}).items():
            out.setdefault(layer, [None] * (last + 1))[r.rung] = h
    return out


def entropy_top(b: SummaryBuilder) -> float:
    """The shared scale's top: the largest layer entropy (bits) recorded in any phase of the run."""
    values = [h for p in phase_names(b) for r in b.records(p) for h in (r.entropy or {}).values() if h is not None]
    return max(values, default=0.0)


# ------------------------------------------------------------------ layers (per-layer sparsity)
@dataclass(frozen=True)
class LayerRow:
    name: str  # the weight's state-dict name
    weights: int | None  # its number of weights (None: a run recorded before layer_weights existed)
    kept: float  # fraction of the layer kept, in [0, 1]
    level: str | None  # "collapsed", "warning" or None (record/layers.py)


def rung_in_view(b: SummaryBuilder, phase: str | None, inspect: tuple[str, int] | None) -> int | None:
    """The rung the layer panes show: the inspected one (the table's cursor), else the phase's newest."""
    if inspect is not None and inspect[0] == phase:
        return inspect[1]
    records = b.records(phase) if phase else []
    return records[-1].rung if records else None


def layer_rows(b: SummaryBuilder, phase: str | None, rung: int | None) -> list[LayerRow]:
    """Each prunable layer of `phase` at `rung`: its size, the fraction kept and its collapse grade."""
    record = next((r for r in b.records(phase) if r.rung == rung), None) if phase else None
    if record is None:
        return []
    sizes = (b.phases[phase].layer_weights if phase in b.phases else None) or {}
    rows = []
    for name, s in (record.layer_sparsity or {}).items():
        size = sizes.get(name)
        if size is not None:
            level = grade(kept_count(s, size), size)
        else:
            level = "collapsed" if s >= 1.0 else None
        rows.append(LayerRow(name, size, 1.0 - s, level))
    return rows


# ------------------------------------------------------------------ header and progress
@dataclass(frozen=True)
class Progress:
    name: str
    profile: str
    device: str
    status: str
    phase: str
    rung: int
    rungs: int  # pruning rungs per phase (the dense rung 0 comes on top)
    epoch: int
    epochs: int
    rungs_done: int  # finished rungs over all phases
    rungs_total: int
    elapsed: float  # seconds
    eta: float | None  # seconds left; None until a rung has finished, and once the run has ended
    resources: str = ""  # CPU: torch threads; CUDA: memory now (live only), last rung's peak, utilisation
    compute: str = ""  # the run's training MACs so far and the newest rung's speed-up ("" before MACs were recorded)


def progress(b: SummaryBuilder, now: float | None = None, gpu: dict | None = None) -> Progress:
    """Where the run is. `gpu`: device_stats.gpu_now() in the process that runs the ladder (None elsewhere)."""
    now = time.time() if now is None else now
    cur = b.current
    per_phase = b.planned_rungs + 1
    phases = phase_names(b)
    done = sum(len(b.records(p)) for p in phases)
    end = b.finished if b.status != "running" else None
    elapsed = b.elapsed(now)  # over every process of a resumed run: what summary.json's seconds will say
    env = b.environment
    return Progress(
        name=b.name or "-", profile=profile_label(b.profile),
        device=str(env.get("device_name") or env.get("device") or "-"), status=b.status,
        phase=str(cur.phase or "-"), rung=int(cur.rung or 0), rungs=b.planned_rungs,
        epoch=int(cur.epoch or 0), epochs=int(cur.epochs or 0), rungs_done=done,
        rungs_total=per_phase * len(phases), elapsed=max(0.0, elapsed),
        eta=None if end else eta_seconds(b), resources=resources(b, gpu), compute=compute_summary(b))


def compute_summary(b: SummaryBuilder) -> str:
    """"train 3.56 GMAC · fwd ×1.95": the run's cumulative training MACs (every phase's so far) and the
    theoretical forward speed-up of the newest finished rung (core/macs.py); "" for a run without MACs."""
    newest = [b.records(p)[-1] for p in phase_names(b) if b.records(p)]
    if not newest or any(r.cumulative_train_macs is None for r in newest):
        return ""
    current = next((r for p, r in zip([p for p in phase_names(b) if b.records(p)], newest)
                    if p == b.current.phase), newest[-1])
    return (f"train {si(sum(r.cumulative_train_macs for r in newest))} · "
            f"fwd {speedup_text(current.speedup())}")


def rung_compute(b: SummaryBuilder, phase: str | None, rung: int | None) -> str:
    """The inspected rung's price for the layer pane's title: forward MACs per sample and speed-up."""
    record = next((r for r in b.records(phase) if r.rung == rung), None) if phase else None
    if record is None or record.macs is None:
        return ""
    overlap = "" if record.teacher_overlap is None else f" · IoU(teacher) {record.teacher_overlap:.2f}"
    return f"{si(record.macs)} {speedup_text(record.speedup())}{overlap}"


def resources(b: SummaryBuilder, gpu: dict | None = None) -> str:
    """On a CPU the torch thread count; on CUDA the memory in use (when known), the newest rung's peak
    (gpu_peak_mb) and the utilisation (with NVML)."""
    env = b.environment
    if not str(env.get("device", "")).startswith("cuda"):
        return f"{env['threads']} threads" if env.get("threads") else ""
    parts = []
    if gpu is not None:
        parts.append(f"{gpu['mem_mb']:,.0f} MiB")
    peaks = [r.gpu_peak_mb for p in phase_names(b) for r in b.records(p) if r.gpu_peak_mb is not None]
    if peaks:
        parts.append(f"peak {peaks[-1]:,.0f} MiB")
    if gpu is not None and gpu.get("util") is not None:
        parts.append(f"util {gpu['util']:.0f}%")
    return " · ".join(parts)


def profile_label(profile: dict) -> str:
    """A few words naming the setup: dataset, label noise, architecture."""
    data, model = profile.get("data", {}), profile.get("model", {})
    if not data:
        return "-"
    return f"{data.get('dataset')}·{model.get('arch')}·{data.get('noise', 0):.0%} noise"


def eta_seconds(b: SummaryBuilder) -> float | None:
    """Seconds left if every remaining epoch costs what the finished ones did (measurement included)."""
    train = b.profile.get("train", {})
    dense, per_rung = train.get("dense_epochs"), train.get("epochs")
    if dense is None or per_rung is None:
        return None
    records = [r for p in phase_names(b) for r in b.records(p)]
    spent = sum(float(r.seconds or 0.0) for r in records)
    epochs_spent = sum(int(r.epochs or 0) for r in records)
    if not epochs_spent or spent <= 0:
        return None
    cur = b.current
    left = 0
    for phase in phase_names(b):
        finished = {r.rung for r in b.records(phase)}
        if phase in b.phases and b.phases[phase].finished:
            continue
        for rung in range(b.planned_rungs + 1):
            if rung in finished:
                continue
            epochs = dense if rung == 0 else per_rung
            if cur.phase == phase and cur.rung == rung:
                epochs -= int(cur.epoch or 0)
            left += max(0, epochs)
    return left * spent / epochs_spent


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


# ------------------------------------------------------------------ verdicts
def teacher_choice(b: SummaryBuilder) -> str | None:
    """Which teacher rung the student distils from and by what rule (None before the student phase)."""
    student = b.phases.get("student")
    return choice_line(student.teacher if student else None, b.records("teacher"), b.stops)


def verdict_lines(b: SummaryBuilder) -> list[str]:
    """What the monitor keeps on screen once phases end: each finished phase's verdict in one line, and the
    teacher the student got (between the two, in the order they happen)."""
    lines = []
    for name in phase_names(b):
        p = b.phases.get(name)
        if name == "student":
            choice = teacher_choice(b)
            if choice:
                lines.append(choice)
        if p is not None and p.finished:
            lines.append(one_line(name, p.verdict))
    return lines


# ------------------------------------------------------------------ stops and log
def active_stops(b: SummaryBuilder) -> list[StopEntry]:
    return [s for s in b.stops if s.active]


def stop_headline(s: StopEntry) -> str:
    sel = f"keep rung {s.selected_rung}"
    test, sparsity = s.details.get("selected_test_acc"), s.details.get("selected_sparsity")
    if test is not None and sparsity is not None:
        sel += f" (test {test:.3f}, sparsity {sparsity * 100:.2f}%)"
    return f"{s.criterion} fired at {s.phase} rung {s.rung}: {sel}"


def stop_line(s: StopEntry) -> str:
    """The banner's line for a stop: criterion, phase and rung, the rung it keeps and that rung's test accuracy."""
    test = s.details.get("selected_test_acc")
    return (f"{s.criterion} fired at {s.phase} rung {s.rung} → keep rung {s.selected_rung}"
            + ("" if test is None else f" (test {test:.3f})"))


def stop_text(s: StopEntry) -> str:
    return f"{stop_headline(s)}. {s.reason}"


def log_line(e: ev.Event, b: SummaryBuilder | None = None) -> tuple[str, str] | None:
    """(severity, text) for the log pane, or None for events too frequent to log (epochs). `b`: the summary
    with `e` folded in (the teacher choice and the verdicts read the rungs before them)."""
    if isinstance(e, ev.RunStarted):
        return "info", f"run {e.name} {'resumed' if e.resumed else 'started'}: {phases_text(len(e.phases))} of " \
                       f"{rung_count(e.rungs)}; {e.run_dir}{modes_note(e.environment)}"
    if isinstance(e, ev.PhaseStarted):
        choice = choice_line(e.teacher, b.records("teacher") if b else [], b.stops if b else [])
        return "info", f"{e.phase} phase: {e.arch}, {e.prunable_weights:,} prunable weights" + \
                       (f"; {choice}" if choice else "")
    if isinstance(e, ev.RungFinished):
        r = e.record
        acc = "n/a" if r.test_acc is None else f"{r.test_acc:.3f}"
        return "info", f"{e.phase} rung {e.rung} done: sparsity {(r.sparsity or 0.0) * 100:.2f}%, test {acc}"
    if isinstance(e, ev.StopFired):
        tag = "STOP" if e.active else "shadow"
        return ("alert" if e.active else "info"), f"[{tag}] {e.criterion} at {e.phase} rung {e.rung} → keep " \
                                                  f"rung {e.selected_rung}: {e.reason}"
    if isinstance(e, ev.LayerCollapse):
        return ("error" if e.level == "collapsed" else "warning"), f"[{e.level.upper()}] {collapse_text(e)}"
    if isinstance(e, ev.PhaseFinished):
        return "alert", f"{e.phase} phase done ({e.rungs_trained} rungs trained, best validation rung " \
                        f"{e.best_rung}); verdict: {verdict_text(e.verdict)}"
    if isinstance(e, ev.RunFinished):
        total = b.seconds if b is not None else e.seconds
        return "info", f"run {e.status} in {duration(total)} of training"
    if isinstance(e, ev.RunFailed):
        return "error", f"run failed: {e.error}"
    if isinstance(e, ev.RunInterrupted):
        return "warning", f"run interrupted: {e.reason}"
    if isinstance(e, ev.Warning):
        return "warning", f"warning: {e.message}"
    if isinstance(e, ev.Log):
        return "info", e.message
    return None
