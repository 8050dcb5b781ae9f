"""`cifar100n`: CIFAR-100 with the CIFAR-100N human noisy labels (`data.noisy_labels`, CIFAR-100_human.pt)
in place of `data.noise`; normalised with CIFAR-100's own statistics, as the reference does for it."""
from __future__ import annotations

from dsd_tui.core.datasets import DATASETS, Dataset, Source
from dsd_tui.core.datasets._normalisation import CIFAR100_MEAN, CIFAR100_STD

NAME = "cifar100n"
# The CIFAR-100N labels file as the DSD² authors ship it (github.com/VGCQ/DSD2, utils/), with the SHA-256 of
# that copy (computed here from the authors' repository on 6 Dec 2026; CIFAR-N publishes no checksum). A
# run also checks its content: its clean_label must equal CIFAR-100's training labels (core/data.py).
LABELS_FILE = "CIFAR-100_human.pt"
LABELS_URL = "https://raw.githubusercontent.com/VGCQ/DSD2/main/utils/CIFAR-100_human.pt"
LABELS_SHA256 = "3ca5e261fcff3a50f5c19044daa342e6b5392eb0ef70c5b9761766f5f9c68192"


def fetch():
    """What a CIFAR-100N run needs: CIFAR-100's archive and the human labels file (`data.noisy_labels =
    DIR/CIFAR-100_human.pt`)."""
    from dsd_tui.core.datasets import Download, cifar100

    return cifar100.fetch() + (Download(NAME, LABELS_FILE, (LABELS_URL,), f"sha256:{LABELS_SHA256}", "file",
                                        LABELS_FILE),)


def source(cfg, seed: int) -> Source:
    from dsd_tui.core.cifar_files import CIFAR100_LAYOUT, CifarFiles
    from dsd_tui.core.data import load_cifar100n_labels
    from dsd_tui.core.datasets import cifar100

    files = CifarFiles(cifar100.NAME, cfg.path, CIFAR100_LAYOUT)  # the messages speak of the cifar100 files
    src = files.source()
    human = load_cifar100n_labels(cfg.noisy_labels, src.train[1], str(files.root / files.folder / "train"))
    return Source(src.train, src.test, src.num_classes, src.checksums_verified, noisy_train_labels=human)


DATASETS.register(NAME, Dataset(
    NAME, source, images=True, input_shape=(3, 32, 32), mean=CIFAR100_MEAN, std=CIFAR100_STD,
    path_help="the folder holding the CIFAR python files (cifar-100-python/)",
    noisy_labels_help="the human noisy labels file (CIFAR-100_human.pt)", full_train=50000, fetch=fetch))
