"""One registry per concept: which names a profile may use, and what each name stands for.

A concept (architectures, datasets, pruning criteria, retraining modes, stop criteria, export formats)
owns one `Registry`. Its entries come from three places, and one name maps to one entry:

- **bundled**: each bundled item registers itself in its own module of the concept's package (one file
  per variant); the registry imports that package's modules the first time it is read, never at import.
- **plugins**: installed distributions declare entry points in the concept's group (`dsd_tui.models`,
  `dsd_tui.datasets`, `dsd_tui.criteria`). Their names are listed from the distributions' metadata
  (`importlib.metadata`, so a `*.dist-info` on `sys.path` is enough) without importing them; a plugin is
  imported only when something uses its name, so a broken plugin never breaks another command.
- **Python**: `Registry.register(name, value, origin=PYTHON)` (the API's `dsd_tui.register_model` and
  friends) adds an entry for this process only.

A bundled name cannot be taken by a plugin or from Python (the plugin is listed as shadowed). Values
loaded from a plugin or registered from Python pass through the registry's `adapt` function, so a
concept can hold its richer bundled form and the plugin contract side by side.
"""
from __future__ import annotations

import importlib
import pkgutil
import threading
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Generic, Iterator, TypeVar

from dsd_tui.errors import UsageError

T = TypeVar("T")


@dataclass(frozen=True)
class Origin:
    """Where an entry comes from: bundled, a plugin distribution (name, version) or Python code."""

    kind: str  # "bundled" | "plugin" | "python"
    distribution: str | None = None
    version: str | None = None

    def describe(self) -> str:
        if self.kind == "plugin":
            return f"{self.distribution} {self.version}"
        return self.kind

    def as_dict(self) -> dict:
        out: dict = {"kind": self.kind}
        if self.kind == "plugin":
            out.update(distribution=self.distribution, version=self.version)
        return out


BUNDLED = Origin("bundled")
PYTHON = Origin("python")


class PluginError(UsageError):
    """A plugin that cannot be used (fails to import, wrong type, wrong shapes): one line naming it and its
    package, exit 2, before any run directory exists."""


class UnknownName(UsageError):
    """A name that no registry entry carries."""


@dataclass
class Entry(Generic[T]):
    name: str
    origin: Origin
    value: Any = None  # the loaded (and adapted) object; None for a plugin not imported yet
    entry_point: metadata.EntryPoint | None = None
    shadowed: list[Origin] = field(default_factory=list)  # plugins that declared the same name

    @property
    def loaded(self) -> bool:
        return self.value is not None

    def where(self) -> str:
        """`'name' from package X 1.2 (entry point module:attr)`, for messages about a plugin."""
        if self.origin.kind == "plugin" and self.entry_point is not None:
            return f"{self.name!r} from package {self.origin.describe()} ({self.entry_point.value})"
        return f"{self.name!r} ({self.origin.describe()})"


class Registry(Generic[T]):
    """The entries of one concept. `concept` is the singular noun used in messages ("architecture")."""

    def __init__(self, concept: str, *, package: str | None = None, group: str | None = None,
                 adapt: Callable[[Any, "Entry"], T] | None = None, python_api: str | None = None):
        self.concept = concept
        self.python_api = python_api  # how a script registers one ("dsd_tui.register_model"), for messages
        self.package = package  # the bundled items' package: every module in it is imported on first read
        self.group = group  # the entry-point group plugins declare (None: bundled and Python only)
        self.adapt = adapt
        self._entries: dict[str, Entry] = {}
        self._lock = threading.RLock()
        self._bundled_loaded = package is None
        self._loading = False
        self._plugins_listed = group is None

    # ------------------------------------------------------------ adding
    def register(self, name: str, value: Any = None, *, origin: Origin = BUNDLED):
        """Add `value` under `name`; without a value, a decorator. A bundled name cannot be replaced; a
        name registered from Python may be registered again (a notebook cell run twice)."""
        if value is None:
            def decorator(obj):
                self.register(name, obj, origin=origin)
                return obj
            return decorator
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"a {self.concept} name must be a non-empty string without surrounding spaces: "
                             f"{name!r}")
        with self._lock:
            if origin.kind != "bundled":
                self._load_bundled()
            old = self._entries.get(name)
            if old is not None and old.origin.kind == "bundled" and origin.kind != "bundled":
                raise ValueError(f"{self.concept} {name!r} is bundled with dsd_tui; register yours under "
                                 f"another name")
            if old is not None and old.origin.kind == "bundled" and origin.kind == "bundled":
                raise ValueError(f"bundled {self.concept} {name!r} is registered twice")
            entry = Entry(name, origin)
            entry.value = value if origin.kind == "bundled" or self.adapt is None else self.adapt(value, entry)
            self._entries[name] = entry
        return value

    def unregister(self, name: str) -> None:
        """Remove an entry registered from Python (tests, notebooks); bundled and plugin entries stay."""
        with self._lock:
            entry = self._entries.get(name)
            if entry is not None and entry.origin.kind == "python":
                del self._entries[name]

    # ------------------------------------------------------------ discovering
    def _load_bundled(self) -> None:
        if self._bundled_loaded:
            return
        with self._lock:  # another thread waits here until every bundled module has registered
            if self._bundled_loaded or self._loading:  # _loading: this thread, re-entered from a module
                return
            self._loading = True
            try:
                pkg = importlib.import_module(self.package)
                for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
                    if not mod.name.startswith("_"):
                        importlib.import_module(f"{self.package}.{mod.name}")
                self._bundled_loaded = True
            finally:
                self._loading = False

    def _list_plugins(self) -> None:
        if self._plugins_listed:
            return
        with self._lock:
            if self._plugins_listed:
                return
            self._load_bundled()
            for ep in plugin_entry_points(self.group):
                dist = getattr(ep, "dist", None)
                origin = Origin("plugin", dist.name if dist else "?", dist.version if dist else "?")
                old = self._entries.get(ep.name)
                if old is not None:
                    if old.origin.kind == "bundled" or old.origin != origin:
                        old.shadowed.append(origin)
                    continue
                self._entries[ep.name] = Entry(ep.name, origin, entry_point=ep)
            self._plugins_listed = True

    def rescan(self) -> None:
        """Forget the plugins listed so far and list them again on the next read (a package installed, or a
        dist-info put on sys.path, since this process first looked)."""
        with self._lock:
            self._entries = {n: e for n, e in self._entries.items() if e.origin.kind != "plugin"}
            for e in self._entries.values():
                e.shadowed = []
            self._plugins_listed = self.group is None

    def _all(self) -> dict[str, Entry]:
        self._load_bundled()
        self._list_plugins()
        return self._entries

    # ------------------------------------------------------------ reading
    def names(self, kinds: tuple[str, ...] = ("bundled", "plugin", "python")) -> list[str]:
        """Every name, bundled first (in registration order), then plugins and Python ones (sorted)."""
        entries = self._all()
        bundled = [n for n, e in entries.items() if e.origin.kind == "bundled" and "bundled" in kinds]
        others = sorted(n for n, e in entries.items() if e.origin.kind != "bundled" and e.origin.kind in kinds)
        return bundled + others

    def bundled_names(self) -> list[str]:
        self._load_bundled()
        return [n for n, e in self._entries.items() if e.origin.kind == "bundled"]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._all()

    def entry(self, name: str) -> Entry:
        """The entry named `name` (not loaded); `UnknownName` lists what there is."""
        entries = self._all()
        if name not in entries:
            raise UnknownName(self.unknown_message(name))
        return entries[name]

    def entries(self) -> Iterator[Entry]:
        entries = self._all()
        for name in self.names():
            yield entries[name]

    def get(self, name: str) -> T:
        """The value named `name`, importing its plugin on first use; `PluginError` if that fails."""
        entry = self.entry(name)
        if entry.value is None:
            with self._lock:
                if entry.value is None:
                    try:
                        raw = entry.entry_point.load()
                    except Exception as e:  # noqa: BLE001 - whatever a plugin raises on import is one line
                        raise PluginError(f"{self.concept} plugin {entry.where()} cannot be imported "
                                          f"({e.__class__.__name__}: {str(e)[:120]}); fix or uninstall that "
                                          f"package") from None
                    entry.value = self.adapt(raw, entry) if self.adapt is not None else raw
        return entry.value

    def origin(self, name: str) -> Origin:
        return self.entry(name).origin

    def unknown_message(self, name: str) -> str:
        more = f"{self.concept}s from an installed plugin package" if self.group else ""
        if self.python_api:
            more += f"{' or ' if more else ''}{self.python_api}({name!r}, ...) in a script"
        extra = f"; {more} add more (docs/plugins.md)" if more else ""
        return f"no {self.concept} named {name!r} is registered; {self.concept}s: {', '.join(self.names())}{extra}"


def plugin_entry_points(group: str) -> list[metadata.EntryPoint]:
    """The installed entry points of `group`, one per (distribution, name), from metadata only."""
    seen = set()
    out = []
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        key = (dist.name if dist else None, ep.name)
        if key not in seen:
            seen.add(key)
            out.append(ep)
    return out
