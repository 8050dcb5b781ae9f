"""Profiles: TOML files turned into one validated, immutable configuration.

A profile is data, never code. Every key has a type, a default, a unit and an allowed range
declared next to it (the `help`/`check` metadata below), so validation, `--set` overrides, the
resolved `profile.toml` of a run and `dsd-tui profiles` all come from one declaration.
"""
from __future__ import annotations

import dataclasses
import math
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, get_origin

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import tomli_w

from dsd_tui.errors import UsageError
from dsd_tui.paths import expand, read_bounded, text_problem

# Upper bounds where none is natural: far above any study, low enough that a typo cannot run for years.
MAX_EPOCHS = 100_000
MAX_SAMPLES = 100_000_000
MAX_LR = 1e30  # no study uses more; tests force divergence with exactly this
MAX_PROFILE_BYTES = 1 << 20  # a profile is a few hundred bytes; a bigger file is not one (and is not read whole)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # always fullmatch: a `$` also matches before "\n"
# The registries some keys name entries of (read when a value is checked or the docs are generated).
ARCHS = "dsd_tui.core.archs:ARCHITECTURES"
DATASETS = "dsd_tui.core.datasets:DATASETS"
RETRAIN = "dsd_tui.core.retrain:RETRAIN_MODES"
CRITERIA = "dsd_tui.core.criteria:CRITERIA"
STOP_RULES = "dsd_tui.stops.rules:STOP_RULES"


class ProfileError(UsageError):
    """A profile or override that cannot be used; the message is one line for the user."""


def opt(default, help: str, check: Callable[[Any], str | None] | None = None):
    """A profile key: its default, a help line (with units) and a check returning a problem or None."""
    kw = {"default_factory": (lambda d=default: list(d))} if isinstance(default, list) else {"default": default}
    return field(metadata={"help": help, "check": check}, **kw)


def registry(path: str):
    """The Registry at `path` ("module:NAME"), imported when a check or the docs need it, not when this
    module is imported (so reading a profile's keys stays cheap and a plugin is never imported by it)."""
    import importlib
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def registered(path: str, *extra: str, empty: str | None = None):
    """A check: the value is a name of the registry at `path` (bundled, plugin or Python; a plugin's name
    is listed from its package's metadata, not imported), one of `extra`, or "" where `empty` says what ""
    means."""
    def check(v):
        if v in extra or (empty is not None and v == ""):
            return None
        reg = registry(path)
        if v in reg:
            return None
        blank = f'"" ({empty}) or ' if empty is not None else ""
        more = ""
        if reg.group:
            more = f" (a plugin package, or {reg.python_api or 'a registration from Python'} before the run, adds " \
                   f"more: docs/plugins.md)"
        return f"must be {blank}one of {', '.join([*extra, *reg.names()])}{more}"
    return check


def names_help(path: str, text: str):
    """A help line naming the registry's bundled entries, built when the docs are (`{names}` in `text`)."""
    return lambda: text.format(names=" | ".join(registry(path).bundled_names()))


def choice(*allowed: str):
    def check(v):
        return None if v in allowed else f"must be one of {', '.join(allowed)}"
    return check


def between(lo=None, hi=None, lo_open=False, hi_open=False):
    def check(v):
        if isinstance(v, float) and not math.isfinite(v):
            return "must be a finite number"
        ok = (lo is None or (v > lo if lo_open else v >= lo)) and (hi is None or (v < hi if hi_open else v <= hi))
        if ok:
            return None
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        return f"must be in {left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    return check


def kernel_switch(v):
    return None if isinstance(v, bool) or v == "auto" else 'must be "auto", true or false'


def run_name(v):
    if NAME_RE.fullmatch(v):
        return None
    return "must be 1-64 letters, digits, '.', '_' or '-', not starting with '.', '_' or '-'"


@dataclass(frozen=True)
class RunSection:
    name: str = opt("quickstart", "run name; the run directory is named from it and the start time", run_name)
    seed: int = opt(0, "seed for data split, label noise, initialisation and batch order", between(0, 2**31 - 1))
    device: str = opt("auto", "auto (CUDA when present, else CPU) | cpu | cuda | cuda:N",
                      lambda v: None if re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", v)
                      else "must be auto, cpu, cuda or cuda:N")
    threads: int = opt(1, "torch CPU threads (one is right on a busy 2-core machine; 0 = torch's default)",
                       between(0, 1024))
    out: str = opt("runs", "parent folder of run directories (each run gets a new folder inside it)")
    keep_checkpoints: str = opt("all", "rung checkpoints kept on disk: all | best-last (per phase its best validation "
                                "rung and its last rung, plus what the student's teacher needs; docs/reliability.md)",
                                choice("all", "best-last"))
    tensorboard: bool = opt(False, "write TensorBoard event files into RUN_DIR/tensorboard/ as the run goes (needs "
                                   "the tensorboard extra; `dsd-tui export --format tensorboard` writes them later)")
    wandb: bool = opt(False, "log the run to Weights & Biases as it goes, offline unless WANDB_MODE says otherwise; "
                             "local files in RUN_DIR/wandb/ (needs the wandb extra)")
    state_every: float = opt(0.0, "least seconds between resume-state saves at epoch ends (0 = as often as the "
                                  "background writer's 1% duty cycle allows; rung ends always)", between(0, 1e12))


@dataclass(frozen=True)
class DataSection:
    dataset: str = opt("digits", names_help(DATASETS, "{names} (bundled: core/datasets/) or a plugin's data set"),
                       registered(DATASETS))
    path: str = opt("", "data directory (required for CIFAR: the folder holding cifar-10-batches-py / "
                        "cifar-100-python; for MNIST: the folder holding MNIST/raw/ or FashionMNIST/raw/)")
    noisy_labels: str = opt("", "CIFAR-100N: path to the human noisy labels file (CIFAR-100_human.pt)")
    noise: float = opt(0.4, "fraction of train/val labels moved to a different class, in [0, 1)",
                       between(0.0, 1.0, hi_open=True))
    noise_type: str = opt("symmetric", "symmetric (to another class, the paper's) | random-labels (uniform over all "
                          "classes, He et al.) | pairflip (c to c+1) | asymmetric (similar-class flips, on data sets "
                          "that declare a class map); mappings in docs/lab.md",
                          choice("symmetric", "random-labels", "pairflip", "asymmetric"))
    val_size: int = opt(200, "validation samples held out from the training set (same label noise); 0 = none, "
                             "train on every sample (only with distill.teacher = \"best-test\")",
                        between(0, MAX_SAMPLES))
    train_size: int = opt(1000, "training samples kept after the validation split (0 = all the rest)",
                          between(0, MAX_SAMPLES))
    batch_size: int = opt(128, "samples per training step", between(1, 1 << 20))
    augment: str = opt("auto", "auto (crop+flip for image datasets, none for digits) | none | crop-flip",
                       choice("auto", "none", "crop-flip"))
    synthetic_size: int = opt(2048, "synthetic dataset: number of CIFAR-shaped training images", between(16, 1_000_000))


@dataclass(frozen=True)
class ModelSection:
    arch: str = opt("mlp", names_help(ARCHS, "{names} (bundled: core/archs/; lenet300 = He et al.'s 784-300-100-10) "
                                      "or a plugin's network"),
                    registered(ARCHS))
    hidden: list = opt([512, 512], "mlp: hidden layer widths (neurons)")
    depth: int = opt(5, "vgg: number of blocks δ (each two 3×3 convs and a 2×2 max-pool)", between(1, 5))
    width_exp: int = opt(5, "vgg: the first block has 2^width_exp channels γ, doubling per block", between(0, 10))


@dataclass(frozen=True)
class TrainSection:
    optimizer: str = opt("adam", "sgd | adam", choice("sgd", "adam"))
    lr: float = opt(1e-3, "learning rate at the start of every rung", between(0.0, MAX_LR, lo_open=True))
    momentum: float = opt(0.9, "SGD momentum (ignored by Adam)", between(0.0, 1.0, hi_open=True))
    weight_decay: float = opt(0.0, "L2 weight decay", between(0.0, 1.0))
    epochs: int = opt(30, "epochs per pruning rung", between(0, MAX_EPOCHS))
    dense_epochs: int = opt(100, "epochs of the dense rung (rung 0)", between(0, MAX_EPOCHS))
    milestones: list = opt([], "epochs (within a rung) at which lr is multiplied by lr_gamma")
    lr_gamma: float = opt(0.1, "lr factor at each milestone", between(0.0, 1.0, lo_open=True))
    precision: str = opt("fp32", "fp32 (reference numerics) | bf16 (autocast + channels_last, output layer in fp32; "
                         "opt-in, changes numerics)",
                         choice("fp32", "bf16"))
    compile: bool = opt(False, "torch.compile the model (opt-in, may change numerics)")
    sparse_kernels: object = opt("auto", "auto (CSR kernels on the CPU at one thread, fp32, no compile, for Linear "
                                 "layers of ≥ 32,768 weights with ≤ 20% kept, where bench/sparse_kernels.py measures "
                                 "a win; dense otherwise and on GPUs) | true (those layers on CSR on any device; fp32 "
                                 "and no compile) | false (the exact dense path of runs before 2 Dec 2026)",
                                 kernel_switch)
    on_divergence: str = opt("fail", "on a NaN/Inf loss: fail the run | skip to the next rung",
                             choice("fail", "next-rung"))


@dataclass(frozen=True)
class PruneSection:
    rate: float = opt(0.2, "fraction of the remaining prunable weights removed per rung, in (0, 1)",
                      between(0.0, 1.0, lo_open=True, hi_open=True))
    rungs: int = opt(34, "pruning rungs after the dense rung (sparsity after rung k is 1-(1-rate)^k)", between(0, 200))
    retrain: str = opt("lr-rewind", names_help(RETRAIN, "how a pruned rung retrains: {names} (core/retrain/)"),
                       registered(RETRAIN))
    rewind_epoch: int = opt(0, "weight-rewind: the dense-rung epoch whose weights each rung restarts from",
                              between(0, MAX_EPOCHS))
    rewind_step: int = opt(0, "weight-rewind: the dense-rung training step (optimizer steps, counted from 1) whose "
                              "weights each rung restarts from, instead of an epoch; 0 = use rewind_epoch (He et al. "
                              "2022 rewind to step 1000 on CIFAR)", between(0, 1 << 40))
    finetune_lr: float = opt(1e-3, "finetune: the constant learning rate of every pruned rung (1e-3: He et al. 2022)",
                             between(0.0, MAX_LR, lo_open=True))
    criterion: str = opt("magnitude", lambda: "what a rung ranks kept weights by, lowest pruned first: " + " | ".join(
                         registry(CRITERIA).get(n).summary for n in registry(CRITERIA).bundled_names())
                         + " | a plugin's name (docs/plugins.md)", registered(CRITERIA))
    scope: str = opt("global", "global (one ranking over all pruned layers, the paper's) | layerwise (each layer loses "
                     "prune.rate of its own kept weights)", choice("global", "layerwise"))
    output_layer: bool = opt(True, "prune the output layer (the last Linear) too; false keeps it dense (He et al. on "
                             "MNIST). Sparsity always counts every prunable weight")


@dataclass(frozen=True)
class DistillSection:
    enabled: bool = opt(True, "run the DSD² student phase after the teacher ladder")
    teacher: str = opt("best", "best (best-validation teacher rung) | dense | best-test (the best test-accuracy rung: "
                               "the authors' protocol, uses the test set for selection) | PATH to a checkpoint .pt")
    temperature: float = opt(10.0, "KD temperature T", between(0.0, 1000.0, lo_open=True))
    alpha: float = opt(0.8, "weight of the KD term; 1-alpha weighs the CE on noisy labels, in [0, 1]",
                       between(0.0, 1.0))
    arch: str = opt("", names_help(ARCHS, "student architecture: '' (same as model.arch) | {names} | a plugin's "
                                          "network"),
                    registered(ARCHS, empty="same as model.arch"))
    student_init: str = opt("teacher", "teacher (the student starts from the teacher's dense init, as in the authors' "
                            "code; a student of another architecture is fresh by nature) | fresh (its own seed)",
                            choice("teacher", "fresh"))


@dataclass(frozen=True)
class EntropySection:
    enabled: bool = opt(True, "measure per-layer activation entropy after every rung")


def criteria_list(v):
    rules = registry(STOP_RULES)
    bad = [c for c in v if c not in rules]
    return f"unknown criteria {bad}; allowed: {', '.join(rules.names())}" if bad else None


def gateable_rules() -> list[str]:
    rules = registry(STOP_RULES)
    return [n for n in rules.names() if rules.get(n).gateable]


def gateable(v):
    return None if v in gateable_rules() else f"must be one of {', '.join(gateable_rules())}"


@dataclass(frozen=True)
class StopSection:
    criteria: list = opt(["early-stop", "tolerance-drop", "entropy-gated"],
                         names_help(STOP_RULES, "criteria evaluated after every rung (shadow mode): {names}"),
                         criteria_list)
    active: str = opt("entropy-gated", "the criterion that alerts/stops the teacher phase ('' = none)",
                      registered(STOP_RULES, empty="none"))
    active_student: str = opt("tolerance-drop", "the criterion that alerts/stops the student phase ('' = none)",
                              registered(STOP_RULES, empty="none"))
    action: str = opt("alert", "alert (record and alert, keep going) | stop (end the phase at the firing rung)",
                      choice("alert", "stop"))
    patience: int = opt(3, "early-stop: rungs without a validation improvement before it fires", between(1, 1000))
    min_delta: float = opt(0.0, "early-stop: improvement (fraction of accuracy) that counts", between(0.0, 1.0))
    delta: float = opt(0.03, "tolerance-drop: allowed validation-accuracy drop below the reference (fraction)",
                       between(0.0, 1.0))
    reference: str = opt("best", "tolerance-drop: dense (rung 0) | best (best so far)", choice("dense", "best"))
    smooth: int = opt(5, "validation accuracy: trailing mean over this many rungs (1 = raw; 5 measured on the "
                         "quickstart, docs/results.md)", between(1, 15))
    gate_drop: float = opt(0.1, "entropy-gated: arms once mean entropy fell this fraction below its running max",
                           between(0.0, 1.0, lo_open=True, hi_open=True))
    gated: str = opt("early-stop", lambda: f"entropy-gated: the rule it arms: {' | '.join(gateable_rules())}",
                     gateable)


SECTIONS = {
    "run": RunSection, "data": DataSection, "model": ModelSection, "train": TrainSection,
    "prune": PruneSection, "distill": DistillSection, "entropy": EntropySection, "stop": StopSection,
}


@dataclass(frozen=True)
class Profile:
    run: RunSection = field(default_factory=RunSection)
    data: DataSection = field(default_factory=DataSection)
    model: ModelSection = field(default_factory=ModelSection)
    train: TrainSection = field(default_factory=TrainSection)
    prune: PruneSection = field(default_factory=PruneSection)
    distill: DistillSection = field(default_factory=DistillSection)
    entropy: EntropySection = field(default_factory=EntropySection)
    stop: StopSection = field(default_factory=StopSection)
    description: str = ""

    def to_dict(self) -> dict:
        out = {"description": self.description} if self.description else {}
        for name in SECTIONS:
            out[name] = dataclasses.asdict(getattr(self, name))
        return out

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def replace(self, section: str, **values) -> "Profile":
        return dataclasses.replace(self, **{section: dataclasses.replace(getattr(self, section), **values)})


# ---------------------------------------------------------------- loading and validation

def _type_name(tp) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list"}
    return names.get(tp, str(tp))


def _coerce(tp, value, where: str):
    """Check a TOML value against the declared type; ints are accepted where floats are."""
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif tp is str:
        ok = isinstance(value, str)
    elif tp is list:
        ok = isinstance(value, list)
    elif tp is object:  # a key of several types: its check says which values it takes
        ok = True
    else:  # pragma: no cover
        ok = False
    if not ok:
        raise ProfileError(f"{where}: expected {_type_name(tp)}, got {_describe(value)}")
    return value


def _describe(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}"


def _field_types(cls) -> dict:
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    out = {}
    for name, tp in hints.items():
        tp = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "object": object}.get(tp, tp)
        out[name] = get_origin(tp) or tp
    return out


def _build_section(name: str, cls, raw: Any, source: str):
    if not isinstance(raw, dict):
        raise ProfileError(f"{source}: [{name}] must be a table, got {_describe(raw)}")
    types = _field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        where = f"{source}: {name}.{key}"
        if key not in fields:
            allowed = ", ".join(fields)
            raise ProfileError(f"{where}: unknown key; [{name}] takes {allowed}")
        value = _coerce(types[key], value, where)
        problem = (text_problem(value) if isinstance(value, str) else None) or _check_items(name, key, value) or (
            fields[key].metadata["check"] or (lambda v: None))(value)
        if problem:
            raise ProfileError(f"{where} = {_short(value)}: {problem}")
        values[key] = value
    return cls(**values)


def _short(value) -> str:
    text = tomli_w.dumps({"v": value})[4:].strip() if value is not None else "?"
    return text if len(text) <= 40 else text[:37] + "..."


def _check_items(section: str, key: str, value) -> str | None:
    """Element checks for the list-valued keys."""
    if (section, key) == ("model", "hidden"):
        if not value or len(value) > 64 or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65536
                                                   for v in value):
            return "must be a list of 1 to 64 integers in [1, 65536]"
    if (section, key) == ("train", "milestones"):
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
            return "must be a list of positive integers (epochs)"
        if sorted(set(value)) != value:
            return "must be strictly increasing"
    if (section, key) == ("stop", "criteria"):
        if not all(isinstance(v, str) for v in value):
            return "must be a list of criterion names"
    return None


def _cross_checks(p: Profile, source: str) -> None:
    if p.train.sparse_kernels is True and (p.train.precision != "fp32" or p.train.compile):
        other = "train.compile = true" if p.train.compile else f"train.precision = {p.train.precision!r}"
        raise ProfileError(f"{source}: train.sparse_kernels = true cannot be combined with {other}; "
                           f"turn one of them off")
    limit = min(p.train.epochs, p.train.dense_epochs) if p.prune.rungs else p.train.dense_epochs
    if p.train.milestones and p.train.milestones[-1] > limit:
        raise ProfileError(f"{source}: train.milestones = {p.train.milestones}: milestone {p.train.milestones[-1]} is "
                           f"beyond the {limit} epochs of a rung; use epochs within 1..{limit}")
    _data_checks(p, source)
    problem = registry(RETRAIN).get(p.prune.retrain).check(p.prune, p.train)
    if problem:
        raise ProfileError(f"{source}: {problem}")
    if p.data.val_size == 0 and p.distill.teacher != "best-test":
        raise ProfileError(f"{source}: data.val_size = 0 leaves no validation split, so rungs would be chosen on the "
                           f"test set; say so with distill.teacher = \"best-test\" or keep a validation split")
    if p.prune.rewind_step and p.prune.rewind_epoch:
        raise ProfileError(f"{source}: prune.rewind_step = {p.prune.rewind_step} and prune.rewind_epoch = "
                           f"{p.prune.rewind_epoch}: weight-rewind goes back to one point; set only one of them")
    if p.train.dense_epochs == 0 and p.train.epochs == 0:
        pass
    for key in ("active", "active_student"):
        name = getattr(p.stop, key)
        if name and name not in p.stop.criteria:
            raise ProfileError(f"{source}: stop.{key} = {name!r} is not in stop.criteria {p.stop.criteria}; "
                               f"add it there")


def _loaded(path: str, name: str):
    """The registry's value for `name` where it needs no import (bundled or registered from Python), else
    None: a plugin is only imported and checked by the run's preflight."""
    reg = registry(path)
    if name not in reg:
        return None
    entry = reg.entry(name)
    return entry.value if entry.origin.kind != "plugin" else None


def _data_checks(p: Profile, source: str) -> None:
    """The cross-checks a data set's and an architecture's own declarations drive (core/datasets/,
    core/archs/): a required data.path or data.noisy_labels, an image-only network on data that is not
    3×32×32 images, asymmetric noise without a class map."""
    ds = _loaded(DATASETS, p.data.dataset)
    name = p.data.dataset
    from dsd_tui.core.datasets import fetch_command

    fetch = fetch_command(name) if ds is not None else None
    if ds is not None and ds.path_help and not p.data.path:
        how = f"get it with `{fetch}`, then run with" if fetch else "set it in the profile or with"
        raise ProfileError(f"{source}: data.path is empty: dataset {name} needs {ds.path_help}; {how} "
                           f"--set data.path=DIR")
    if ds is not None and ds.noisy_labels_help and not p.data.noisy_labels:
        how = f"get it with `{fetch_command(name, p.data.path)}`, then run" if fetch else "set it"
        raise ProfileError(f"{source}: data.noisy_labels is empty: {name} needs {ds.noisy_labels_help}; {how} "
                           f"with --set data.noisy_labels=FILE")
    if ds is not None and ds.image_note:
        for key, arch in (("model.arch", p.model.arch), ("distill.arch", p.distill.arch)):
            net = _loaded(ARCHS, arch) if arch else None
            if net is not None and net.needs_images:
                fits = [n for n in registry(ARCHS).bundled_names()
                        if not _loaded(ARCHS, n).needs_images]
                raise ProfileError(f"{source}: {key} = {arch!r} needs 3×32×32 images; {name} is {ds.image_note}: "
                                   f"use {' or '.join(fits)}")
    if p.data.noise_type == "asymmetric" and (ds is None or ds.asymmetric_map is None):
        raise ProfileError(f"{source}: data.noise_type = 'asymmetric' has no class mapping for {name}; "
                           f"use it with {', '.join(asymmetric_datasets())}, or another noise type")


def asymmetric_datasets() -> list[str]:
    """The data sets with a class map for `data.noise_type = "asymmetric"` (their `asymmetric_map`)."""
    reg = registry(DATASETS)
    return [n for n in reg.names() if getattr(_loaded(DATASETS, n), "asymmetric_map", None)]


def from_dict(raw: dict, source: str = "profile") -> Profile:
    if not isinstance(raw, dict):
        raise ProfileError(f"{source}: a profile must be a TOML table")
    sections = {}
    description = ""
    for name, value in raw.items():
        if name == "description":
            if not isinstance(value, str):
                raise ProfileError(f"{source}: description: expected a string, got {_describe(value)}")
            description = value
            continue
        if name not in SECTIONS:
            raise ProfileError(f"{source}: unknown section [{name}]; sections are {', '.join(SECTIONS)}")
        sections[name] = _build_section(name, SECTIONS[name], value, source)
    profile = Profile(description=description, **sections)
    _cross_checks(profile, source)
    return profile


def parse_toml(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{source}: not valid TOML: {e}; fix the syntax at that line") from None


def bundled_folder():
    """The bundled profiles: `dsd_tui/profiles/` inside an installed wheel (pyproject maps the checkout's
    top-level `profiles/` there), the checkout's `profiles/` when the package runs from a bare checkout."""
    installed = resources.files("dsd_tui") / "profiles"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "profiles"


def bundled_names() -> list[str]:
    return sorted(p.name[:-5] for p in bundled_folder().iterdir() if p.name.endswith(".toml"))


def bundled_text(name: str) -> str:
    # the bundled TOML is UTF-8 (δ, ², …) whatever the locale (LC_ALL=C would read it as ASCII)
    return (bundled_folder() / f"{name}.toml").read_text(encoding="utf-8")


def resolve_source(spec: str | None) -> tuple[str, str]:
    """Return (text, label) for a profile given as a path, a bundled name, or None (quickstart)."""
    spec = spec or "quickstart"
    try:
        path = expand(spec, "profile")
    except UsageError as e:
        raise ProfileError(str(e)) from None
    if path.suffix == ".toml" or path.exists() or "/" in spec:
        try:
            return read_bounded(path, "profile", MAX_PROFILE_BYTES).decode(), str(path)
        except ProfileError:
            raise
        except UsageError as e:  # a FIFO, a device, a file over the size bound
            raise ProfileError(str(e)) from None
        except FileNotFoundError:
            raise ProfileError(f"{spec}: no such profile file; give a path to a .toml file or a bundled name "
                               f"({', '.join(bundled_names())})") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ProfileError(f"{spec}: cannot read the profile ({e.__class__.__name__}: {e})") from None
    if spec not in bundled_names():
        raise ProfileError(f"{spec}: no bundled profile of that name; `dsd-tui profiles` lists them "
                           f"({', '.join(bundled_names())})")
    return bundled_text(spec), f"{spec} (bundled)"


def parse_override(item: str) -> tuple[str, str, Any]:
    """`section.key=value` → (section, key, value); the value is read as TOML, else taken as a bare string."""
    if "=" not in item:
        raise ProfileError(f"--set {item}: expected section.key=value, e.g. --set train.epochs=5")
    lhs, text = item.split("=", 1)
    parts = lhs.strip().split(".")
    if len(parts) != 2 or not all(parts):
        raise ProfileError(f"--set {item}: the key must be section.key, e.g. train.epochs")
    section, key = parts
    if section not in SECTIONS:
        raise ProfileError(f"--set {item}: unknown section {section!r}; sections are {', '.join(SECTIONS)}")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    return section, key, value


def load(spec: str | None = None, overrides: tuple[str, ...] | list[str] = ()) -> Profile:
    text, label = resolve_source(spec)
    raw = parse_toml(text, label)
    return apply_overrides(raw, overrides, label)


def apply_overrides(raw: dict, overrides, label: str) -> Profile:
    if not isinstance(raw, dict):
        raise ProfileError(f"{label}: a profile must be a TOML table")
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for item in overrides:
        section, key, value = parse_override(item)
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ProfileError(f"{label}: [{section}] must be a table")
        table[key] = value
    source = label if not overrides else f"{label} with --set"
    return from_dict(raw, source)


def describe_keys() -> list[tuple[str, Any, str]]:
    """(section.key, default, help) for every key: the one place the docs are generated from."""
    rows = []
    for name, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default
            help_ = f.metadata["help"]
            rows.append((f"{name}.{f.name}", default, help_() if callable(help_) else help_))
    return rows

