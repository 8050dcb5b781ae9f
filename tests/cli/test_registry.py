"""The generic registry: bundled entries, Python registrations and entry-point plugins from a dist-info."""
from __future__ import annotations

import sys
import textwrap

import pytest
from fake_files import write_dist

from dsd_tui.registry import PYTHON, PluginError, UnknownName


@pytest.fixture
def bundled_pkg(tmp_path, monkeypatch):
    """A package `regtest_bundled` whose modules register themselves into `regtest_bundled.REG`."""
    pkg = tmp_path / "regtest_bundled"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        from dsd_tui.registry import Registry
        REG = Registry("widget", package=__name__, group="regtest.widgets", adapt=lambda v, e: ("adapted", v))
    """))
    (pkg / "alpha.py").write_text("from regtest_bundled import REG\nREG.register('alpha', 'A')\n")
    (pkg / "beta.py").write_text("from regtest_bundled import REG\nREG.register('beta', 'B')\n")
    (pkg / "_private.py").write_text("raise RuntimeError('never imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield pkg
    for name in [m for m in sys.modules if m.startswith("regtest_")]:
        del sys.modules[name]


def test_bundled_modules_register_on_first_read(bundled_pkg):
    import regtest_bundled
    assert "regtest_bundled.alpha" not in sys.modules  # nothing imported at import time
    assert regtest_bundled.REG.names() == ["alpha", "beta"]
    assert regtest_bundled.REG.get("beta") == "B"  # bundled values are not adapted
    assert regtest_bundled.REG.origin("alpha").kind == "bundled"


def test_python_registration_adapts_and_cannot_take_a_bundled_name(bundled_pkg):
    import regtest_bundled
    reg = regtest_bundled.REG
    reg.register("mine", "M", origin=PYTHON)
    assert reg.get("mine") == ("adapted", "M")
    reg.register("mine", "M2", origin=PYTHON)  # a notebook cell run twice
    assert reg.get("mine") == ("adapted", "M2")
    with pytest.raises(ValueError, match="bundled"):
        reg.register("alpha", "X", origin=PYTHON)
    reg.unregister("mine")
    with pytest.raises(UnknownName, match="no widget named 'mine'.*alpha, beta"):
        reg.get("mine")


def test_plugins_are_listed_from_metadata_and_imported_on_use(bundled_pkg, tmp_path, monkeypatch):
    import regtest_bundled
    site = tmp_path / "site"
    (site / "regtest_plug").mkdir(parents=True)
    (site / "regtest_plug" / "__init__.py").write_text("IMPORTED = True\ndef gamma(): return 'G'\n")
    (site / "regtest_broken.py").write_text("raise ImportError('no module named torch_magic')\n")
    write_dist(site, "regtest-plug", "1.2", "regtest.widgets",
               {"gamma": "regtest_plug:gamma", "broken": "regtest_broken:thing", "alpha": "regtest_plug:gamma"})
    monkeypatch.syspath_prepend(str(site))
    reg = regtest_bundled.REG
    reg.rescan()
    assert reg.names() == ["alpha", "beta", "broken", "gamma"]
    assert "regtest_plug" not in sys.modules  # listing imports nothing
    assert reg.origin("gamma").describe() == "regtest-plug 1.2"
    assert reg.entry("alpha").shadowed[0].distribution == "regtest-plug"  # a bundled name wins
    kind, fn = reg.get("gamma")
    assert kind == "adapted" and fn() == "G"
    with pytest.raises(PluginError) as err:
        reg.get("broken")
    msg = str(err.value)
    assert "'broken' from package regtest-plug 1.2" in msg and "torch_magic" in msg and "\n" not in msg


def test_threads_reading_at_once_all_see_every_bundled_name(tmp_path, monkeypatch):
    """The first read imports the bundled modules; a second thread must wait for them, not see a half list."""
    import threading
    pkg = tmp_path / "regtest_slow"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from dsd_tui.registry import Registry\n"
                                     "REG = Registry('thing', package=__name__)\n")
    for name in ("a", "b", "c"):
        (pkg / f"{name}.py").write_text(f"import time\nfrom regtest_slow import REG\ntime.sleep(0.2)\n"
                                        f"REG.register({name!r}, {name!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import regtest_slow
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(regtest_slow.REG.names())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [["a", "b", "c"]] * 4
    for name in [m for m in sys.modules if m.startswith("regtest_")]:
        del sys.modules[name]
