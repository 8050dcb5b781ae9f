"""Studies as files: one TOML file names a base profile, its overrides, the grid, the seeds and the figure.

An analysis of the literature (noise level, retraining mode, width and depth, pruning criterion) is
many ladders that differ in one or two keys. A study file holds that plan, so the analysis is one
command (`dsd-tui sweep STUDY`) instead of hand-typed `--grid` arguments:

    description = "one line for `dsd-tui studies`"
    profile = "quickstart"          # a bundled profile name, or a .toml path (relative to this file)
    seeds = [0, 1, 2]
    [set.train]                     # overrides of the base profile, by section (like --set)
    epochs = 15
    [grid.data]                     # the values to sweep, by section (like --grid); their product is run
    noise = [0.2, 0.4]
    [plot]                          # what `dsd-tui plot` draws for the sweep (optional)
    metric = "test_acc"             # any rung metric
    title = "..."

The plan it makes is exactly the one of `dsd-tui sweep PROFILE --set ... --grid ... --seeds ...`
(the same sweep identity and folder names), so one can be continued by the other. Bundled studies are
the top-level `studies/` folder (shipped as `dsd_tui/studies` in the wheel).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import tomli_w

from dsd_tui import profile as profile_mod
from dsd_tui.errors import UsageError
from dsd_tui.paths import read_bounded

KEYS = ("description", "profile", "seeds", "set", "grid", "plot")
PLOT_KEYS = ("metric", "title")


@dataclass(frozen=True)
class Study:
    name: str
    source: str  # where it came from, for messages
    description: str
    profile: str  # a bundled profile name or an absolute path
    seeds: list[int]
    overrides: list[str]  # "section.key=value", in file order
    grid: list[str]  # "section.key=v1,v2", in file order
    plot: dict = field(default_factory=dict)

    def as_index_entry(self) -> dict:
        """What sweep.json keeps of the study (so `dsd-tui plot` draws its figure)."""
        return {"name": self.name, "description": self.description, "plot": dict(self.plot)}


def bundled_folder():
    installed = resources.files("dsd_tui") / "studies"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[2] / "studies"


def bundled_names() -> list[str]:
    folder = bundled_folder()
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")) if folder.is_dir() else []


def is_study_spec(spec: str | None) -> bool:
    """A bundled study name, or a .toml file whose top level has `grid` or `profile` (a profile has neither)."""
    if not spec:
        return False
    if spec in bundled_names() and spec not in profile_mod.bundled_names():
        return True
    path = Path(spec)
    if not path.exists():
        return False
    try:  # a FIFO, a device or a huge file is one line here, before it is opened or read whole
        data = read_text(path, "profile or study")
    except (OSError, UnicodeDecodeError):
        return False  # the profile loader says what is wrong with it
    try:
        raw = profile_mod.parse_toml(data, str(path))
    except UsageError:
        return False
    return isinstance(raw, dict) and ("grid" in raw or "profile" in raw)


def read_text(path: Path, what: str) -> str:
    """A study file's text, through the guard profiles have (`paths.read_bounded`): a FIFO, a device or a
    directory is refused before it is opened, a file over profile.MAX_PROFILE_BYTES before it is read."""
    return read_bounded(path, what, profile_mod.MAX_PROFILE_BYTES).decode()


def load(spec: str) -> Study:
    """A study by bundled name or path; every problem is one UsageError line."""
    path = Path(spec)
    if spec in bundled_names() and not path.is_file():
        text = (bundled_folder() / f"{spec}.toml").read_text(encoding="utf-8")  # whatever the locale
        source, name, base_dir = f"{spec} (bundled study)", spec, None
    else:
        try:
            text = read_text(path, "study")
        except FileNotFoundError:
            raise UsageError(f"{spec}: no such study file; give a .toml path or a bundled study "
                             f"({', '.join(bundled_names())})") from None
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"{spec}: cannot read the study ({e.__class__.__name__})") from None
        source, name, base_dir = str(path), path.stem, path.resolve().parent
    raw = profile_mod.parse_toml(text, source)
    return from_dict(raw, name, source, base_dir)


def from_dict(raw: dict, name: str, source: str, base_dir: Path | None) -> Study:
    unknown = [k for k in raw if k not in KEYS]
    if unknown:
        raise UsageError(f"{source}: unknown key {unknown[0]!r}; a study takes {', '.join(KEYS)}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise UsageError(f"{source}: description must be a string")
    base = raw.get("profile", "quickstart")
    if not isinstance(base, str) or not base:
        raise UsageError(f"{source}: profile must be a bundled profile name or a .toml path")
    if base not in profile_mod.bundled_names() and base_dir is not None and not Path(base).is_absolute():
        base = str(base_dir / base)
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool)
                                                           for s in seeds):
        raise UsageError(f"{source}: seeds must be a non-empty list of integers, e.g. seeds = [0, 1, 2]")
    overrides = [f"{key}={_toml(v)}" for key, v in _flatten(raw.get("set", {}), "set", source)]
    grid = []
    for key, values in _flatten(raw.get("grid", {}), "grid", source):
        if not isinstance(values, list) or not values:
            raise UsageError(f"{source}: grid {key} must be a non-empty list of values, e.g. [0.1, 0.2]")
        grid.append(f"{key}=" + ",".join(_toml(v) for v in values))
    plot = raw.get("plot", {})
    if not isinstance(plot, dict) or any(k not in PLOT_KEYS for k in plot) or \
            not all(isinstance(v, str) for v in plot.values()):
        raise UsageError(f"{source}: [plot] takes metric and title (strings)")
    return Study(name, source, description, base, list(seeds), overrides, grid, dict(plot))


def _flatten(table, what: str, source: str) -> list[tuple[str, object]]:
    """{"prune": {"rate": 0.2}} → [("prune.rate", 0.2)]: sections of the profile, as --set/--grid take them."""
    if not isinstance(table, dict):
        raise UsageError(f"{source}: [{what}] must be a table of profile sections, e.g. [{what}.prune]")
    out = []
    for section, keys in table.items():
        if section not in profile_mod.SECTIONS or not isinstance(keys, dict):
            raise UsageError(f"{source}: [{what}.{section}]: not a profile section; sections are "
                             f"{', '.join(profile_mod.SECTIONS)}")
        out += [(f"{section}.{key}", value) for key, value in keys.items()]
    return out


def _toml(value) -> str:
    """A value as one line of TOML (tomli_w spreads arrays over lines)."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return tomli_w.dumps({"v": value})[4:].strip()


def listing() -> list[tuple[str, str]]:
    """(name, description) of every bundled study."""
    return [(name, load(name).description) for name in bundled_names()]
