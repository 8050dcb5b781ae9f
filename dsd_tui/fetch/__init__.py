"""`dsd-tui data fetch NAME --path DIR`: a data set's files downloaded, verified and unpacked into DIR.

Each bundled data set declares what it fetches (`Dataset.fetch` in core/datasets/: the official URLs and
checksums, read from torchvision's dataset classes), so this module names no data set. The order makes
a failure leave nothing behind: every file goes to a staging folder inside DIR (a temporary name, on
the same file system), is checked against its published checksum, and is unpacked there; only when
every file of the data set is in order are the results renamed into place. A checksum that does not
match is a `ChecksumMismatch` (exit 2) unless `--allow-unverified`, which unpacks it anyway (the CIFAR
loader then records `checksums_verified: false` in the runs on it, since its files do not match the
official ones; the idx files, whose .gz checksums cannot be checked once unpacked, get a `<file>.unverified`
marker that their loader reads); a download that fails is a `FetchFailed` (exit 1). Files already in
DIR are kept.

`--mirror URL` (or DSD_TUI_DATA_MIRROR) replaces the official URLs by URL/<data set>/<file name>, the
layout of a cluster's local copy. DSD_TUI_DATA_CHECKSUMS names a JSON file {"<data set>/<file name>":
"md5:<hex>" | "sha256:<hex>"} that replaces published checksums (tests point it at archives they wrote).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dsd_tui.core.datasets import DATASETS, Download
from dsd_tui.errors import ChecksumMismatch, FetchFailed, UsageError

MIRROR_ENV = "DSD_TUI_DATA_MIRROR"
CHECKSUMS_ENV = "DSD_TUI_DATA_CHECKSUMS"
STAGING_PREFIX = ".dsd-tui-fetch-"
UNVERIFIED_SUFFIX = ".unverified"  # beside a target unpacked with --allow-unverified


@dataclass(frozen=True)
class Fetched:
    """What one fetch did: the targets written, those already there, and the files kept unverified."""

    written: tuple
    present: tuple
    unverified: tuple


def downloads(name: str) -> tuple[Download, ...]:
    """The files `name` fetches; one line naming the data sets that can be fetched otherwise."""
    from dsd_tui.registry import BUNDLED

    DATASETS.entry(name)  # an unknown name: one line listing the names
    value = DATASETS.get(name)
    if value.fetch is None:
        can = [n for n in DATASETS.bundled_names() if DATASETS.get(n).fetch is not None]
        how = "it comes with its package" if DATASETS.origin(name) == BUNDLED else "a plugin loads its own data"
        raise UsageError(f"data set {name!r} has nothing to fetch ({how}); `dsd-tui data fetch` knows "
                         f"{', '.join(can)}")
    return tuple(value.fetch())


def checksum_table() -> dict:
    """DSD_TUI_DATA_CHECKSUMS's replacements, {"<data set>/<file name>": "<algorithm>:<hex>"} ({} if unset)."""
    path = os.environ.get(CHECKSUMS_ENV)
    if not path:
        return {}
    try:
        table = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"{CHECKSUMS_ENV} = {path!r}: cannot be read as JSON ({e.__class__.__name__}); give a "
                         f"JSON file of {{\"<data set>/<file>\": \"md5:<hex>\"}}") from None
    if not isinstance(table, dict):
        raise UsageError(f"{CHECKSUMS_ENV} = {path!r}: is not a JSON object of "
                         f"{{\"<data set>/<file>\": \"md5:<hex>\"}}")
    return table


def urls_of(d: Download, mirror: str | None) -> tuple:
    return (f"{mirror.rstrip('/')}/{d.folder}/{d.name}",) if mirror else d.urls


def fetch(name: str, path: str, mirror: str | None = None, allow_unverified: bool = False,
          progress: Callable[[str], Callable[[int, int | None], None]] | None = None,
          warn: Callable[[str], None] = lambda _line: None) -> Fetched:
    """Fetch data set `name` into the folder `path` (created if missing; removed again if the fetch fails
    and it was empty). `progress(file name)` gives the per-chunk callback of one transfer; `warn` gets a
    line for each file unpacked without a matching checksum."""
    from dsd_tui.fetch.transfer import download
    from dsd_tui.fetch.unpack import unpack
    from dsd_tui.paths import expand

    files = downloads(name)
    root = expand(path, "--path")
    if root.exists() and not root.is_dir():
        raise UsageError(f"--path {path!r}: is a file, not a folder; give the folder the data goes in")
    todo = [d for d in files if not (root / d.target).exists()]
    present = tuple(d.target for d in files if d not in todo)
    if not todo:
        return Fetched((), present, ())
    expected = checksum_table()
    created = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=root))
    except OSError as e:
        raise FetchFailed(f"cannot create a folder in {root} ({e.strerror}); choose a writable --path") from None
    unverified = []
    try:
        out = staging / "out"
        for d in todo:
            part = staging / d.name  # a data set's file names differ; the staging folder is the temporary name
            want = expected.get(f"{d.folder}/{d.name}", d.checksum)
            algorithm, _, digest = want.partition(":")
            found = transfer_any(urls_of(d, mirror), part, algorithm, download,
                                 progress(d.name) if progress else None)
            if found != digest:
                line = (f"{d.name}: checksum mismatch: expected {algorithm} {digest}, found {algorithm} {found}")
                if not allow_unverified:
                    raise ChecksumMismatch(f"{line}; nothing was written to {root} (a damaged or changed file: "
                                           f"fetch again, or use --allow-unverified to keep it anyway)")
                warn(f"{line}; unpacked anyway (--allow-unverified)")
                unverified.append(d.target)
            unpack(d.unpack, part, out, d.target)
            part.unlink(missing_ok=True)
        for d in todo:  # every file is in order: into place, each with one rename on the same file system
            final = root / d.target
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(out / d.target, final)
        for target in unverified:  # for loaders that cannot check the unpacked files themselves (idx files)
            (root / f"{target}{UNVERIFIED_SUFFIX}").write_text("fetched with --allow-unverified: its checksum did "
                                                                "not match the published one\n")
    except OSError as e:
        raise FetchFailed(f"cannot write to {root} ({e.strerror or e}); free space there or choose another "
                          f"--path") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            try:
                root.rmdir()  # only if empty: a failed fetch into a new folder leaves no folder
            except OSError:
                pass
    return Fetched(tuple(d.target for d in todo), present, tuple(unverified))


def transfer_any(urls: tuple, part: Path, algorithm: str, download, progress) -> str:
    """Try each URL in order (a data set may list several mirrors); the last failure if none works."""
    failure = None
    for url in urls:
        try:
            return download(url, part, algorithm, progress)
        except FetchFailed as e:
            failure = e
            part.unlink(missing_ok=True)
    raise failure
