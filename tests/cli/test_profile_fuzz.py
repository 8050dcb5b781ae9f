"""Property tests: whatever a profile file or a `--set` holds, loading gives a valid Profile or a
clean ProfileError (one line, exit code 2), never another exception; a valid profile written out
as a run's profile.toml loads back to the same profile (so every run can be resumed)."""
from __future__ import annotations

import dataclasses
import math
import string
import tempfile
from pathlib import Path

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsd_tui import profile as P

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = {name: [f.name for f in dataclasses.fields(cls)] for name, cls in P.SECTIONS.items()}
words = st.text(alphabet=string.ascii_letters + string.digits + "_-.", min_size=0, max_size=12)
scalars = st.one_of(st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=20), st.sampled_from(["digits", "cifar10", "mlp", "vgg", "sgd", "adam",
                                                           "best", "dense", "stop", "alert", "finetune",
                                                           "early-stop", "entropy-gated", "fp32", "auto"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(words, inner, max_size=3)), max_leaves=6)
section_names = st.one_of(st.sampled_from(list(P.SECTIONS)), words)


@st.composite
def raw_profiles(draw):
    raw = {}
    for section in draw(st.lists(section_names, max_size=4, unique=True)):
        keys = KEYS.get(section, [])
        key_names = st.one_of(st.sampled_from(keys), words) if keys else words
        raw[section] = draw(st.dictionaries(key_names, values, max_size=4))
    if draw(st.booleans()):
        raw["description"] = draw(values)
    return raw


def load_or_clean_error(spec, overrides=()):
    try:
        prof = P.load(spec, overrides)
    except P.ProfileError as e:
        assert "\n" not in str(e) and str(e), repr(e)
        return None
    assert isinstance(prof, P.Profile)
    again = P.from_dict(P.parse_toml(prof.to_toml(), "profile.toml"), "profile.toml")
    assert _same(again, prof), "a resolved profile must load back unchanged"
    return prof


def _same(a, b) -> bool:
    da, db = a.to_dict(), b.to_dict()
    return da == db or _nan_equal(da, db)


def _nan_equal(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return x == y or (math.isnan(x) and math.isnan(y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_nan_equal(x[k], y[k]) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_nan_equal(p, q) for p, q in zip(x, y))
    return x == y


def _write(text: str) -> str:
    folder = Path(tempfile.mkdtemp())
    path = folder / "fuzz.toml"
    path.write_text(text)
    return str(path)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_as_a_profile_file(text):
    load_or_clean_error(_write(text))


@FUZZ
@given(raw_profiles())
def test_any_toml_tables_as_a_profile(raw):
    try:
        text = tomli_w.dumps(raw)
    except (TypeError, ValueError):
        return  # not expressible in TOML, so no user can write it
    load_or_clean_error(_write(text))


@FUZZ
@given(st.lists(st.text(max_size=40), max_size=3))
def test_any_set_text(items):
    load_or_clean_error(None, items)


@FUZZ
@given(st.lists(st.tuples(section_names, st.one_of(st.sampled_from(sum(KEYS.values(), [])), words),
                          st.one_of(st.text(max_size=20), values.map(lambda v: _toml_value(v)))), max_size=3))
def test_any_set_section_key_value(triples):
    load_or_clean_error(None, [f"{s}.{k}={v}" for s, k, v in triples])


def _toml_value(v) -> str:
    try:
        return tomli_w.dumps({"v": v})[4:].strip()
    except (TypeError, ValueError):
        return repr(v)
