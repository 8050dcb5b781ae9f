"""The codebase's own rules: the engine never imports a UI, every module says why it exists.

The engine (core/, record/, stops/, speed/) feeds the TUI, the headless printer and the run files through
one event stream; importing Textual there would tie it to one of its listeners.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "dsd_tui"
ENGINE = ("core", "record", "stops", "speed")


def engine_modules() -> list[str]:
    names = []
    for sub in ENGINE:
        for path in sorted((PACKAGE / sub).glob("*.py")):
            stem = "" if path.stem == "__init__" else f".{path.stem}"
            names.append(f"dsd_tui.{sub}{stem}")
    return names


def test_the_engine_imports_no_ui():
    modules = engine_modules()
    assert "dsd_tui.core.ladder" in modules and "dsd_tui.record.summary" in modules
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'click')))\n"
            "print(sorted(m for m in sys.modules if m.startswith('dsd_tui.tui') or m == 'dsd_tui.cli'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    ui, ours = done.stdout.splitlines()
    assert ui == "[]", f"the engine pulled in a UI library: {ui}"
    assert ours == "[]", f"the engine pulled in the TUI or the CLI: {ours}"


def test_every_module_has_a_docstring_saying_why_it_exists():
    missing = [str(p.relative_to(ROOT)) for p in sorted(PACKAGE.rglob("*.py"))
               if p.name != "__main__.py" and not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == []


def test_widget_and_screen_files_are_named_after_their_classes():
    """`tui/widgets/ladder_plot.py` holds `LadderPlot`: the file name answers "where is X drawn"."""
    for folder in ("widgets", "screens"):
        for path in sorted((PACKAGE / "tui" / folder).glob("*.py")):
            if path.stem == "__init__":
                continue
            classes = [n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef)
                       and not n.name.startswith("_")]
            camel = "".join(part.capitalize() for part in path.stem.split("_"))
            assert any(c == camel or c.startswith(camel) for c in classes), (path.name, classes)


def test_the_study_package_imports_nothing_from_the_tui():
    """study/ is analysis (sweeps, aggregates, figures); its commands and the compare screen live beside the
    CLI (cli_study.py, tui/), so a sweep worker or a notebook never pulls in the UI, not even lazily."""
    offenders = []
    for path in sorted((PACKAGE / "study").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names
                          if n.startswith("dsd_tui.tui") or n in ("dsd_tui.cli", "dsd_tui.cli_study")]
    assert offenders == []


# tests/ is laid out like the code: one folder per sub-package of dsd_tui, `cli/` for the top-level modules
# (the CLI and what it drives), `project/` for the rounds that cross packages; shared helpers sit in tests/.
TEST_FOLDERS_BESIDE_PACKAGES = {"cli", "project", "data", "__snapshots__", "__pycache__"}


def test_the_tests_are_laid_out_like_the_code():
    tests = ROOT / "tests"
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and list(p.glob("*.py"))}  # core/ has no __init__
    folders = {p.name for p in tests.iterdir() if p.is_dir()}
    assert packages <= folders, f"sub-packages without a tests/ folder: {sorted(packages - folders)}"
    assert folders <= packages | TEST_FOLDERS_BESIDE_PACKAGES, \
        f"tests/ folders that name no package: {sorted(folders - packages - TEST_FOLDERS_BESIDE_PACKAGES)}"
    loose = sorted(p.name for p in tests.glob("test_*.py"))
    assert loose == [], f"test files belong in their package's folder: {loose}"
    for folder in folders - {"data", "__snapshots__", "__pycache__"}:
        assert list((tests / folder).glob("test_*.py")), f"tests/{folder}/ holds no tests"
    names = [p.name for p in tests.glob("*/test_*.py")]
    assert len(names) == len(set(names)), "two test files share a name (pytest imports them by name)"


def test_a_test_module_imports_test_modules_of_its_own_folder_only():
    """Helpers several folders share live in tests/ (conftest, relhelp, fake_files, ...): a test file that
    imported another folder's test module could not be run on its own (`pytest tests/core/test_x.py`)."""
    wrong = []
    for path in sorted((ROOT / "tests").glob("*/test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name.startswith("test_") and not (path.parent / f"{name}.py").is_file():
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []
