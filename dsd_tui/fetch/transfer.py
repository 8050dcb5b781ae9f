"""One HTTP(S) download to a file, hashed as it is written (urllib only: no extra dependency).

Why our own transfer: torchvision's downloader writes the final file name in place, so a cut transfer or
a full disk leaves a half-written archive that looks like the real one. Here the bytes go to a file the
caller names (a temporary one in the fetch folder), the byte count is checked against Content-Length, and
every way the transfer can fail is one `FetchFailed` line (exit code 1) naming the URL and what to do.
"""
from __future__ import annotations

import hashlib
import http.client
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from dsd_tui.errors import FetchFailed

CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60  # seconds without a byte before the transfer counts as lost


def download(url: str, dest: Path, algorithm: str, progress: Callable[[int, int | None], None] | None = None) -> str:
    """Write `url` to `dest`; returns the hex digest (`algorithm`: "md5" | "sha256") of the bytes written.
    `progress(bytes so far, total or None)` is called per chunk."""
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "dsd-tui"}),
                                          timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        raise FetchFailed(f"cannot download {url}: HTTP {e.code} {e.reason}; check the file is there (or the "
                          f"--mirror URL)") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise FetchFailed(f"cannot reach {url} ({reason}); check the network or give a reachable --mirror") from None
    total = response.length  # Content-Length, None when the server does not say
    digest = hashlib.new(algorithm)
    got = 0
    with response:
        try:
            out = open(dest, "wb")
        except OSError as e:
            raise FetchFailed(f"cannot write {dest.parent} ({e.strerror}); choose a writable --path") from None
        with out:
            while True:
                try:
                    chunk = response.read(CHUNK_BYTES)
                except (http.client.IncompleteRead, ConnectionError, socket.timeout, OSError) as e:
                    raise FetchFailed(f"the transfer of {url} was cut after {got:,} bytes ({e.__class__.__name__}); "
                                      f"fetch again") from None
                if not chunk:
                    break
                try:
                    out.write(chunk)
                except OSError as e:
                    raise FetchFailed(f"cannot write {url.rsplit('/', 1)[-1]} to {dest.parent} ({e.strerror}); free "
                                      f"space there or choose another --path") from None
                digest.update(chunk)
                got += len(chunk)
                if progress is not None:
                    progress(got, total)
            try:
                out.flush()
            except OSError as e:
                raise FetchFailed(f"cannot write {url.rsplit('/', 1)[-1]} to {dest.parent} ({e.strerror}); free space "
                                  f"there or choose another --path") from None
    if total is not None and got != total:
        raise FetchFailed(f"the transfer of {url} stopped at {got:,} of {total:,} bytes; fetch again")
    return digest.hexdigest()
