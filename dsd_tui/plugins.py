"""What can be plugged in, and what a run used: the three plugin registries read together.

`dsd-tui plugins` lists every model, dataset and pruning criterion with where it comes from (bundled,
a distribution's name and version, or Python code in this process) without importing any plugin; a
run records in `environment.plugins` the non-bundled entries its profile names, so a reader (and a
resume) can tell which package or script a name came from.
"""
from __future__ import annotations

from dsd_tui.registry import Registry

# (concept label, profile keys naming it, registry module, registry attribute)
KINDS = (
    ("model", ("model.arch", "distill.arch"), "dsd_tui.core.archs", "ARCHITECTURES"),
    ("dataset", ("data.dataset",), "dsd_tui.core.datasets", "DATASETS"),
    ("criterion", ("prune.criterion",), "dsd_tui.core.criteria", "CRITERIA"),
)


def registry(module: str, attr: str) -> Registry:
    import importlib
    return getattr(importlib.import_module(module), attr)


def rows() -> list[dict]:
    """One row per registered name: kind (model | dataset | criterion), name, origin (bundled | plugin |
    python), for a plugin its distribution, version and entry point, and the plugins that declared a name
    already taken (`shadowed`: not used, the first entry wins)."""
    out = []
    for kind, keys, module, attr in KINDS:
        for entry in registry(module, attr).entries():
            origin = entry.origin.as_dict()
            row = {"kind": kind, "name": entry.name, "origin": origin.pop("kind"), **origin, "keys": list(keys)}
            if entry.entry_point is not None:
                row["entry_point"] = entry.entry_point.value
            if entry.shadowed:
                row["shadowed"] = [o.describe() for o in entry.shadowed]
            out.append(row)
    return out


def used(profile_dict: dict) -> dict:
    """`environment.plugins`: profile key -> {name, origin, distribution, version} for each non-bundled name
    the profile uses (empty when every name is bundled)."""
    out = {}
    for _kind, keys, module, attr in KINDS:
        reg = registry(module, attr)
        for key in keys:
            section, field = key.split(".")
            value = (profile_dict.get(section) or {}).get(field)
            if value and value in reg and reg.origin(value).kind != "bundled":
                origin = reg.origin(value).as_dict()
                out[key] = {"name": value, "origin": origin.pop("kind"), **origin}
    return out


def describe(row: dict) -> str:
    if row["origin"] == "plugin":
        text = f"{row['distribution']} {row['version']} ({row.get('entry_point', '?')})"
    else:
        text = {"bundled": "bundled", "python": "registered from Python"}[row["origin"]]
    if row.get("shadowed"):
        text += f"; also declared by {', '.join(row['shadowed'])} (not used: one name, one entry)"
    return text


def table() -> str:
    """The plain-text listing of `dsd-tui plugins`: kind, name, where it comes from."""
    return "\n".join(f"{row['kind']:<10} {row['name']:<16} {describe(row)}" for row in rows())
