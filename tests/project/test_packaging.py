"""The built wheel: the package, the bundled profiles and the TUI's styles (app.tcss), usable outside the checkout.

The checkout keeps the profiles in a top-level `profiles/` folder; pyproject.toml ships them inside the
wheel as `dsd_tui/profiles/`. These tests build the real wheel from a copy of the sources, install it into a
folder of its own and run the CLI from elsewhere, so a packaging slip (a subpackage left out of the list, the
profiles or the .tcss missing) fails here rather than on a user's machine.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "dsd_tui", src / "dsd_tui", ignore=ignore)
    shutil.copytree(ROOT / "profiles", src / "profiles", ignore=ignore)
    shutil.copytree(ROOT / "studies", src / "studies", ignore=ignore)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = out.glob("dsd_tui-*.whl")
    return built


def test_wheel_holds_every_module_the_profiles_and_the_styles(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "dsd_tui").rglob("*.py")}
    assert modules - names == set(), "modules missing from the wheel (pyproject's package list?)"
    profiles = {f"dsd_tui/profiles/{p.name}" for p in (ROOT / "profiles").glob("*.toml")}
    assert "dsd_tui/profiles/quickstart.toml" in profiles
    assert profiles <= names
    assert "dsd_tui/tui/app.tcss" in names
    studies = {f"dsd_tui/studies/{p.name}" for p in (ROOT / "studies").glob("*.toml")}
    assert "dsd_tui/studies/cpu-criteria.toml" in studies and studies <= names
    assert not any(n.startswith(("profiles/", "studies/", "tests/")) for n in names), \
        "only the package goes in the wheel"


def test_installed_wheel_lists_and_loads_profiles_from_any_folder(wheel, tmp_path):
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import dsd_tui, sys; print(dsd_tui.__file__);"
            "from dsd_tui.cli import main; sys.argv = ['dsd-tui', 'profiles']; main()")
    done = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    first, *lines = done.stdout.splitlines()
    assert Path(first).resolve().is_relative_to(target.resolve()), "the installed copy, not the checkout"
    listed = {line.split()[0] for line in lines if line.strip()}
    assert listed == {p.stem for p in (ROOT / "profiles").glob("*.toml")}
    code = "import sys; from dsd_tui.cli import main; sys.argv = ['dsd-tui', 'studies']; main()"
    done = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {line.split()[0] for line in done.stdout.splitlines()} == {p.stem for p in (ROOT / "studies").glob("*.toml")}
    code = ("from dsd_tui import profile; p = profile.load('cifar10-vgg-noise10', ['data.path=/data']);"
            "print(p.model.arch, p.data.dataset)")
    done = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["vgg", "cifar10"]


def test_bare_checkout_finds_the_top_level_profiles(tmp_path):
    """No install at all: PYTHONPATH at the checkout, as bench/ and scripts/ use it."""
    code = "from dsd_tui import profile; print(profile.bundled_folder()); print(len(profile.bundled_names()))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    folder, count = done.stdout.split()
    assert Path(folder).resolve() == (ROOT / "profiles").resolve()
    assert int(count) == len(list((ROOT / "profiles").glob("*.toml")))
