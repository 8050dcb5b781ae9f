"""A sweep's plan: `--grid key=v1,v2` and `--seeds 0,1,2` expanded into ladders.

Every ladder is the base profile with one value per grid key and one seed. Its folder name is
made from those settings, and the sweep's folder from a hash of the base profile and the grid, so
the same command always lands in the same place and a re-run finds the ladders it already ran.
All combinations are validated before anything is written: a bad value is one line, exit 2.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass

import tomli_w

from dsd_tui import profile as profile_mod
from dsd_tui.errors import UsageError

SAFE = re.compile(r"[^A-Za-z0-9._-]")
# A sweep of more ladders than this is a typo (a paper study is tens to a few hundred): refused in one line
# before the grid is expanded, so `--dry-run` of a 10^6-point grid answers at once instead of filling memory.
MAX_LADDERS = 10_000
# Ladder folder names past this many characters (a file name may hold 255 bytes) keep a readable head and a hash.
MAX_NAME = 120


@dataclass(frozen=True)
class LadderPlan:
    """One ladder of a sweep: its grid settings, its seed, its folder name and its resolved profile."""

    settings: dict  # {"section.key": value} in grid order
    seed: int
    name: str  # the run directory's name inside the sweep directory
    profile: profile_mod.Profile

    @property
    def setting_key(self) -> str:
        return setting_key(self.settings)


def setting_key(settings: dict) -> str:
    """A canonical text for a settings dict: ladders that differ only by seed share it."""
    return json.dumps(settings, sort_keys=True)


def split_values(text: str) -> list[str]:
    """Split on commas outside brackets and quotes, so `[512,512],[256,256]` is two values."""
    out, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    out.append(cur.strip())
    return out


def parse_grid(items) -> dict:
    """`("data.noise=0.1,0.2", ...)` → {"data.noise": [0.1, 0.2], ...}, values read as TOML like --set."""
    grid: dict = {}
    points = 1
    for item in items:
        if "=" not in item:
            raise UsageError(f"--grid {item}: expected section.key=v1,v2,..., e.g. --grid data.noise=0.1,0.2")
        key, text = item.split("=", 1)
        key = key.strip()
        if key == "run.seed":
            raise UsageError(f"--grid {item}: seeds are given with --seeds 0,1,2, not as a grid key")
        if key in grid:
            raise UsageError(f"--grid {key}: given twice; put all its values in one --grid {key}=v1,v2")
        texts = split_values(text)
        points *= len(texts)
        check_size(points, f"--grid {key}")  # before its values are parsed: a huge list is refused at once
        if not all(texts):
            raise UsageError(f"--grid {item}: an empty value; separate values with single commas")
        values = [profile_mod.parse_override(f"{key}={t}")[2] for t in texts]
        if len({json.dumps(v) for v in values}) != len(values):
            raise UsageError(f"--grid {item}: a value is repeated; list each value once")
        grid[key] = values
    return grid


def check_size(ladders: int, where: str) -> None:
    if ladders > MAX_LADDERS:
        raise UsageError(f"{where}: the sweep would have {ladders:,} ladders, more than the {MAX_LADDERS:,} a sweep "
                         f"takes; use fewer values (or seeds), or split it into several sweeps")


def parse_seeds(text: str | None, default: int) -> list[int]:
    if not text:
        return [default]
    check_size(text.count(",") + 1, "--seeds")
    try:
        seeds = [int(t) for t in text.split(",")]
    except ValueError:
        raise UsageError(f"--seeds {text}: expected integers separated by commas, e.g. --seeds 0,1,2") from None
    if any(s < 0 or s > 2**31 - 1 for s in seeds) or len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds {text}: seeds must be distinct integers in [0, 2^31-1]")
    return seeds


def value_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "x".join(value_text(v) for v in value) or "empty"
    return str(value)


def value_slug(value) -> str:
    """A folder-safe text for a value; a short hash keeps values that only differ by odd characters apart."""
    text = value_text(value)
    slug = SAFE.sub("_", text)
    if slug != text or len(slug) > 32 or not slug:
        digest = hashlib.sha1(json.dumps(value).encode()).hexdigest()[:6]
        slug = f"{slug[-24:].strip('_.') or 'v'}-{digest}"
    return slug


def ladder_name(settings: dict, seed: int) -> str:
    """`key-value__key-value__seed-N`; past MAX_NAME characters (a 10-key grid made names the file system
    refused, after sweep.json was written) the settings part is cut and a hash of all of it keeps names apart."""
    parts = "__".join(f"{key}-{value_slug(settings[key])}" for key in sorted(settings))
    tail = f"seed-{seed}"
    if len(parts) + len(tail) + 2 > MAX_NAME:
        digest = hashlib.sha1(parts.encode()).hexdigest()[:12]
        parts = f"{parts[:MAX_NAME - len(tail) - 16].rstrip('_.-')}-{digest}"
    return "__".join(([parts] if parts else []) + [tail])


def expand(raw: dict, label: str, grid: dict, seeds: list[int]) -> list[LadderPlan]:
    """The cartesian product grid × seeds, each combination validated as a whole profile."""
    keys = list(grid)
    total = len(seeds)
    for k in keys:
        total *= len(grid[k])
    check_size(total, "--grid and --seeds")  # before itertools.product makes a single combination
    plans = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        settings = dict(zip(keys, combo))
        overrides = [f"{k}={_toml_value(v)}" for k, v in settings.items()]
        for seed in seeds:
            try:
                prof = profile_mod.apply_overrides(raw, overrides + [f"run.seed={seed}"], label)
            except UsageError as e:
                raise UsageError(f"--grid {_describe(settings)}: {e}") from None
            plans.append(LadderPlan(settings, seed, ladder_name(settings, seed), prof))
    return plans


def _describe(settings: dict) -> str:
    return " ".join(f"{k}={value_text(v)}" for k, v in settings.items()) or "(no grid)"


def _toml_value(value) -> str:
    return tomli_w.dumps({"v": value})[4:].strip()


OUTPUT_ONLY = ("keep_checkpoints", "tensorboard", "wandb")  # run.* keys that do not change a ladder's numbers


def identity(base: profile_mod.Profile, grid: dict) -> str:
    """8 hex digits naming the sweep: the base profile (seed, output folder and the keys that only choose
    what is written beside the results aside, so adding those kept existing sweeps' identities) and the grid."""
    d = base.to_dict()
    d["run"] = {k: v for k, v in d["run"].items() if k not in ("seed", "out") + OUTPUT_ONLY}
    values = {k: sorted(json.dumps(v) for v in vals) for k, vals in grid.items()}
    text = json.dumps({"profile": d, "grid": values}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:8]
