"""`dsd-tui data fetch` through a real HTTP server on 127.0.0.1 (a thread, port 0) serving archives the
tests write in the real formats (a tiny CIFAR python .tar.gz, gzipped MNIST idx files): verified and
unverified fetches, every failure leaving nothing in the folder, and a run on what was fetched. Never the
internet: the official URLs are replaced by --mirror."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_cifar
from fake_files import write_mnist

from dsd_tui.cli import main

pytestmark = pytest.mark.e2e  # real ladders, subprocesses or terminals: not in the fast lane (README)

SETS = ["prune.rungs=1", "train.dense_epochs=1", "train.epochs=1", "data.val_size=10", "model.arch='vgg'",
        "distill.enabled=false"]


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the mirror folder; a path under /cut/ sends half of the file with the full Content-Length."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/cut/"):
            body = (Path(self.directory) / self.path[len("/cut/"):]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that gave up on a cut transfer is what the test wants, not a report


@pytest.fixture
def mirror(tmp_path):
    """(base URL, folder served) of an HTTP server on 127.0.0.1."""
    folder = tmp_path / "mirror"
    folder.mkdir()

    def handler(*args, **kwargs):
        return Handler(*args, directory=str(folder), **kwargs)
    server = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


def cifar_archive(mirror_dir: Path, tmp: Path, dataset="cifar10", name="cifar-10-python.tar.gz", **kw) -> Path:
    """A .tar.gz of tiny CIFAR files in the real layout, at mirror/<dataset>/<name>."""
    src = write_cifar(tmp / f"src-{dataset}", dataset, **kw)
    out = mirror_dir / dataset / name
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as tar:
        for top in src.iterdir():
            tar.add(top, arcname=top.name)
    return out


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def checksums(tmp: Path, table: dict) -> dict:
    path = tmp / "checksums.json"
    path.write_text(json.dumps(table))
    return {"DSD_TUI_DATA_CHECKSUMS": str(path)}


def fetch(*args, env=None):
    return CliRunner().invoke(main, ["data", "fetch", *args], env=env or {})


def one_line(result, code):
    assert result.exit_code == code, (result.output, result.exception)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output, result.stderr
    return result.stderr


def test_verified_fetch_unpacks_the_archive_and_a_run_reads_it(mirror, tmp_path):
    url, served = mirror
    archive = cifar_archive(served, tmp_path)
    env = checksums(tmp_path, {"cifar10/cifar-10-python.tar.gz": f"md5:{md5(archive)}"})
    data = tmp_path / "data"
    result = fetch("cifar10", "--path", str(data), "--mirror", url, env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    assert sorted(p.name for p in data.iterdir()) == ["cifar-10-batches-py"]  # no staging folder left
    src = tmp_path / "src-cifar10" / "cifar-10-batches-py"
    for f in src.iterdir():
        assert (data / "cifar-10-batches-py" / f.name).read_bytes() == f.read_bytes()
    assert f"--set data.path={data}" in result.stdout
    again = fetch("cifar10", "--path", str(data), "--mirror", url + "/nothing-here", env=env)
    assert again.exit_code == 0 and "already in" in again.stdout  # kept, not fetched again
    run = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(tmp_path / "out"), "--set", "data.dataset=cifar10",
                                    "--set", f"data.path={data}", *sum((["--set", s] for s in SETS), [])])
    assert run.exit_code == 0, (run.output, run.exception)


def test_a_checksum_mismatch_is_refused_with_nothing_left(mirror, tmp_path):
    url, served = mirror
    archive = cifar_archive(served, tmp_path)
    data = tmp_path / "data"
    line = one_line(fetch("cifar10", "--path", str(data), "--mirror", url), 2)  # the published md5 (torchvision's)
    import torchvision
    assert f"cifar-10-python.tar.gz: checksum mismatch: expected md5 {torchvision.datasets.CIFAR10.tgz_md5}, " \
           f"found md5 {md5(archive)}" in line
    assert not data.exists()
    data.mkdir()  # an existing folder stays, empty
    one_line(fetch("cifar10", "--path", str(data), "--mirror", url), 2)
    assert list(data.iterdir()) == []


def test_allow_unverified_unpacks_and_the_run_records_it(mirror, tmp_path):
    url, served = mirror
    cifar_archive(served, tmp_path)
    data = tmp_path / "data"
    result = fetch("cifar10", "--path", str(data), "--mirror", url, "--allow-unverified")
    assert result.exit_code == 0, (result.output, result.exception)
    assert "checksum mismatch" in result.stderr and "unverified" in result.stdout
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["run", "--no-tui", "--out", str(out), "--set", "data.dataset=cifar10",
                                    "--set", f"data.path={data}", *sum((["--set", s] for s in SETS), [])])
    assert run.exit_code == 0, (run.output, run.exception)
    summary = json.loads(next(out.glob("*/summary.json")).read_text())
    assert summary["data"]["checksums_verified"] is False


@pytest.mark.parametrize("case", ["missing", "refused", "cut"])
def test_a_failed_transfer_is_one_line_exit_1_and_nothing_written(mirror, tmp_path, case):
    url, served = mirror
    archive = cifar_archive(served, tmp_path)
    env = checksums(tmp_path, {"cifar10/cifar-10-python.tar.gz": f"md5:{md5(archive)}"})
    if case == "missing":
        archive.unlink()
    elif case == "refused":
        with socket.socket() as s:  # a port that nothing listens on
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}"
    else:
        url += "/cut"
    data = tmp_path / "data"
    data.mkdir()
    line = one_line(fetch("cifar10", "--path", str(data), "--mirror", url, env=env), 1)
    assert {"missing": "HTTP 404", "refused": "Connection refused", "cut": "fetch again"}[case] in line
    assert list(data.iterdir()) == []


def test_a_full_disk_is_one_line_exit_1(mirror, tmp_path):
    """The file-size limit (RLIMIT_FSIZE) makes the write fail as a full disk does (EFBIG instead of ENOSPC)."""
    url, served = mirror
    archive = cifar_archive(served, tmp_path, n_train=500)
    env = {**os.environ, **checksums(tmp_path, {"cifar10/cifar-10-python.tar.gz": f"md5:{md5(archive)}"})}
    data = tmp_path / "data"
    data.mkdir()

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    done = subprocess.run([sys.executable, "-m", "dsd_tui", "data", "fetch", "cifar10", "--path", str(data),
                           "--mirror", url], env=env, capture_output=True, text=True, preexec_fn=limit, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "free space" in done.stderr, done.stderr
    assert list(data.iterdir()) == []


def test_an_archive_reaching_outside_its_folder_is_refused(mirror, tmp_path):
    url, served = mirror
    out = served / "cifar10" / "cifar-10-python.tar.gz"
    out.parent.mkdir(parents=True)
    with tarfile.open(out, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/../../escaped")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    data = tmp_path / "data"
    env = checksums(tmp_path, {"cifar10/cifar-10-python.tar.gz": f"md5:{md5(out)}"})
    line = one_line(fetch("cifar10", "--path", str(data), "--mirror", url, env=env), 2)
    assert "cifar-10-python.tar.gz: member 'cifar-10-batches-py/../../escaped'" in line
    assert not data.exists() and not (tmp_path / "escaped").exists()


def test_mnist_idx_files_are_gunzipped_where_the_loader_reads_them(mirror, tmp_path):
    url, served = mirror
    src = write_mnist(tmp_path / "src")
    table = {}
    for raw in (src / "MNIST" / "raw").iterdir():
        gz = served / "mnist" / f"{raw.name}.gz"
        gz.parent.mkdir(parents=True, exist_ok=True)
        gz.write_bytes(gzip.compress(raw.read_bytes()))
        table[f"mnist/{gz.name}"] = f"md5:{md5(gz)}"
    data = tmp_path / "data"
    result = fetch("mnist", "--path", str(data), "--mirror", url, env=checksums(tmp_path, table))
    assert result.exit_code == 0, (result.output, result.exception)
    for raw in (src / "MNIST" / "raw").iterdir():
        assert (data / "MNIST" / "raw" / raw.name).read_bytes() == raw.read_bytes()
    from dsd_tui import profile as profile_mod
    from dsd_tui.core.data import load_data
    prof = profile_mod.load("mnist-lenet300-noise20", [f"data.path={data}", "data.val_size=50"])
    bundle = load_data(prof.data, 0)
    assert len(bundle.test) == 100 and "checksums_verified" not in bundle.noise  # as before: nothing to check
    unverified = tmp_path / "unverified"  # the published md5s: every file mismatches, kept anyway
    result = fetch("mnist", "--path", str(unverified), "--mirror", url, "--allow-unverified")
    assert result.exit_code == 0 and result.stderr.count("checksum mismatch") == 4, result.output
    prof = profile_mod.load("mnist-lenet300-noise20", [f"data.path={unverified}", "data.val_size=50"])
    assert load_data(prof.data, 0).noise["checksums_verified"] is False


def test_cifar100n_checks_the_labels_file_against_the_authors_sha256(mirror, tmp_path):
    """CIFAR-100N: CIFAR-100's archive and the labels file; a labels file other than the authors' copy is
    refused against the recorded SHA-256, and nothing (not even the verified CIFAR-100 folder) is kept."""
    url, served = mirror
    archive = cifar_archive(served, tmp_path, "cifar100", "cifar-100-python.tar.gz")
    labels = served / "cifar100n" / "CIFAR-100_human.pt"
    labels.parent.mkdir(parents=True)
    labels.write_bytes(b"not the labels file")
    env = checksums(tmp_path, {"cifar100/cifar-100-python.tar.gz": f"md5:{md5(archive)}"})
    data = tmp_path / "data"
    line = one_line(fetch("cifar100n", "--path", str(data), "--mirror", url, env=env), 2)
    from dsd_tui.core.datasets.cifar100n import LABELS_SHA256
    assert f"CIFAR-100_human.pt: checksum mismatch: expected sha256 {LABELS_SHA256}" in line
    assert not data.exists()


def test_a_data_set_without_files_and_an_unknown_name(tmp_path):
    assert "nothing to fetch" in one_line(fetch("digits", "--path", str(tmp_path / "d")), 2)
    assert "cifar10" in one_line(fetch("imagenet", "--path", str(tmp_path / "d")), 2)
    assert not (tmp_path / "d").exists()


def test_no_dataset_module_is_named_by_the_fetch_code():
    """The files come from each data set's own module (Dataset.fetch), not from a table in dsd_tui/fetch/."""
    text = "".join(p.read_text() for p in Path(__file__).parents[2].joinpath("dsd_tui", "fetch").glob("*.py"))
    for name in ("cifar10", "cifar-10", "mnist", "MNIST", "toronto"):
        assert name not in text, name


@pytest.mark.parametrize("profile, dataset", [("cifar10-resnet18-noise10", "cifar10"),
                                              ("cifar100-vgg-noise10", "cifar100"),
                                              ("cifar100n-resnet18", "cifar100n"),
                                              ("mnist-lenet300-noise20", "mnist")])
def test_a_paper_profile_without_its_data_names_the_fetch_command(tmp_path, profile, dataset):
    out = tmp_path / "runs"
    empty = tmp_path / "empty"
    empty.mkdir()
    line = one_line(CliRunner().invoke(main, ["run", profile, "--no-tui", "--out", str(out)]), 2)
    assert f"get it with `dsd-tui data fetch {dataset} --path DIR`, then run with --set data.path=DIR" in line
    sets = ["--set", f"data.path={empty}"] + (["--set", f"data.noisy_labels={empty}/CIFAR-100_human.pt"]
                                              if dataset == "cifar100n" else [])
    line = one_line(CliRunner().invoke(main, ["run", profile, "--no-tui", "--out", str(out), *sets]), 2)
    named = "cifar100" if dataset == "cifar100n" else dataset  # the CIFAR-100 files are what is missing
    assert f"`dsd-tui data fetch {named} --path {empty}`" in line
    assert not out.exists()


def test_every_data_set_that_needs_files_declares_them_from_torchvision():
    """Each bundled data set with a data.path declares its downloads; the URLs and md5 sums are torchvision's
    class attributes (read when asked, not copied), CIFAR-100N's labels file has the authors' SHA-256."""
    import torchvision.datasets as tvd

    from dsd_tui.core.datasets import DATASETS
    from dsd_tui.fetch import downloads
    for name in DATASETS.bundled_names():
        ds = DATASETS.get(name)
        assert (ds.fetch is not None) == (ds.path_help is not None), name
    (c10,) = downloads("cifar10")
    assert (c10.urls, c10.checksum) == ((tvd.CIFAR10.url,), f"md5:{tvd.CIFAR10.tgz_md5}")
    mnist = downloads("mnist")
    assert [(d.name, d.checksum) for d in mnist] == [(n, f"md5:{m}") for n, m in tvd.MNIST.resources]
    assert all(d.urls == tuple(m + d.name for m in tvd.MNIST.mirrors) for d in mnist)
    assert {d.target for d in downloads("fashion-mnist")} == {f"FashionMNIST/raw/{f}" for f in (
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    labels = downloads("cifar100n")[-1]
    assert labels.checksum.startswith("sha256:") and len(labels.checksum) == len("sha256:") + 64
    assert downloads("cifar100n")[0] == downloads("cifar100")[0]
