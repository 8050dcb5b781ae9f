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
        if not all(texts):
            raise UsageError(f"--grid {item}: an empty value; separate values with single commas")
        values = [profile_mod.parse_override(f"{key}={t}")[2] for t in texts]
        if len({json.dumps(v) for v in values}) != len(values):
            raise UsageError(f"--grid {item}: a value is repeated; list each value once")
        grid[key] = values
    return grid


def parse_seeds(text: str | None, default: int) -> list[int]:
    if not text:
        return [default]
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
    parts = [f"{key}-{value_slug(settings[key])}" for key in sorted(settings)]
    return "__".join(parts + [f"seed-{seed}"])


def expand(raw: dict, label: str, grid: dict, seeds: list[int]) -> list[LadderPlan]:
    """The cartesian product grid × seeds, each combination validated as a whole profile."""
    keys = list(grid)
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
