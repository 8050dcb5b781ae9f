"""The disk edge of the typed records: one way to turn a frozen dataclass into its JSON object and back.

The run's records (a rung's record, a phase's summary, a stop entry, a verdict) are frozen dataclasses in
memory, read by attribute. summary.json and events.jsonl hold them as JSON objects whose keys, key order and
values have stayed the same across versions, so `to_json()` writes the keys in the order the files always
had (`canonical_keys`, absent optional keys left out) and `from_json()` reads a record of any version:
missing keys take their defaults, and the keys it had, in their order, and any key this version does not
know are kept, so a record read from an old or newer file is written back unchanged.

Records are read by attribute only: code that wants a JSON key by name (an export writing every number
a record holds, a `--metric` given on the command line) asks `to_json()`.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

EDGE_FIELDS = ("json_keys", "extra")  # every record's bookkeeping fields: never JSON keys themselves


class JsonRecord:
    """Base of the typed records; subclasses are frozen dataclasses ending with `json_keys` and `extra`:

        json_keys: tuple[str, ...] | None = field(default=None, compare=False, repr=False)
        extra: dict = field(default_factory=dict, compare=False, repr=False)
    """

    json_keys: tuple[str, ...] | None
    extra: dict
    REQUIRED: ClassVar[tuple[str, ...]] = ()  # fields from_json fills with a placeholder when a file lacks them

    def canonical_keys(self) -> tuple[str, ...]:
        """The JSON keys of a record built here, in the files' order (absent optional keys left out)."""
        return tuple(k for k in self.fields() if getattr(self, k) is not None)

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in EDGE_FIELDS)

    def keys_in_json(self) -> tuple[str, ...]:
        """A record read from a file: its keys, then any field set since (`dataclasses.replace`) that the file
        lacked; a record built here: `canonical_keys()`."""
        if self.json_keys is None:
            return self.canonical_keys()
        return self.json_keys + tuple(k for k in self.canonical_keys() if k not in self.json_keys and self._set(k))

    def _set(self, key: str) -> bool:
        f = self.__dataclass_fields__.get(key)  # type: ignore[attr-defined]
        if f is None:
            return True
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        return getattr(self, key) != default

    def to_json(self) -> dict:
        return {k: _json(self._value(k)) for k in self.keys_in_json()}

    @classmethod
    def from_json(cls, data: Mapping):
        names = cls.fields()
        known = {k: cls._field_from_json(k, data[k]) for k in names if k in data}
        for k in cls.REQUIRED:
            known.setdefault(k, cls._placeholder(k))
        return cls(**known, json_keys=tuple(data), extra={k: v for k, v in data.items() if k not in names})

    @classmethod
    def _field_from_json(cls, name: str, value: Any) -> Any:
        return value

    @classmethod
    def _placeholder(cls, name: str) -> Any:
        return None

    def _value(self, key: str) -> Any:
        known = key in self.__dataclass_fields__ and key not in EDGE_FIELDS  # type: ignore[attr-defined]
        return getattr(self, key) if known else self.extra[key]


def _json(value: Any) -> Any:
    if isinstance(value, JsonRecord):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return value
