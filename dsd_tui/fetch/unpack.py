"""Unpacking a verified download inside the staging folder: a CIFAR .tar.gz, a gzipped idx file, or a file
kept as it is.

Why careful: an archive names its own paths. Only regular files and folders under the one expected top
folder are taken (no absolute path, no `..`, no links, no devices), and tarfile's "data" filter is used
as well where this Python has it, so a crafted archive cannot write outside the staging folder.
"""
from __future__ import annotations

import gzip
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from dsd_tui.errors import FetchFailed, UsageError


class BadArchive(UsageError):
    """An archive that is not what the data set's files are (unsafe paths, another layout, unreadable)."""


def unpack(kind: str, archive: Path, into: Path, target: str) -> Path:
    """Unpack `archive` so that `into/target` holds the result; returns that path."""
    out = into / target
    out.parent.mkdir(parents=True, exist_ok=True)
    if kind == "tar":
        extract_tar(archive, into, target)
    elif kind == "gunzip":
        try:
            with gzip.open(archive, "rb") as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (gzip.BadGzipFile, EOFError, zlib.error) as e:
            raise BadArchive(f"{archive.name}: cannot be gunzipped ({e.__class__.__name__}: {str(e)[:80]}); it is "
                             f"not the gzipped idx file") from None
        except OSError as e:
            raise no_room(archive, into, e) from None
    else:
        shutil.move(archive, out)
    if not out.exists():
        raise BadArchive(f"{archive.name}: holds no {target}; it is not this data set's archive")
    return out


def extract_tar(archive: Path, into: Path, top: str) -> None:
    """Extract a .tar.gz whose members all lie under `top/` (regular files and folders only)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for m in members:
                path = PurePosixPath(m.name)
                if path.is_absolute() or ".." in path.parts or not (m.isfile() or m.isdir()) \
                        or path.parts[:1] != (top,):
                    raise BadArchive(f"{archive.name}: member {m.name!r} is not a file or folder under {top}/; "
                                     f"refused (the official archive has only those)")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(into, members=members, filter="data")
            else:  # pragma: no cover - Python before 3.11.4: the checks above are the filter
                tar.extractall(into, members=members)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise BadArchive(f"{archive.name}: cannot be extracted ({e.__class__.__name__}: {str(e)[:80]}); it is not "
                         f"the data set's .tar.gz") from None
    except OSError as e:
        raise no_room(archive, into, e) from None


def no_room(archive: Path, into: Path, e: OSError) -> FetchFailed:
    """A write that failed while unpacking (a full disk, a quota): exit code 1."""
    return FetchFailed(f"cannot unpack {archive.name} in {into.parent} ({e.strerror or e}); free space there or "
                       f"choose another --path")
