"""The files `dsd-tui data fetch` gets for the bundled data sets, read from torchvision's dataset classes
when asked (their URLs and md5 sums are class attributes), so no table of URLs or checksums is copied
here. Each data set's module names the torchvision class; CIFAR-100N's labels file, which torchvision does
not know, is declared in core/datasets/cifar100n.py."""
from __future__ import annotations

from dsd_tui.core.datasets import Download


def cifar_archive(dataset: str, torchvision_class: str) -> tuple[Download, ...]:
    """The CIFAR python archive (`cifar-10-python.tar.gz`, `cifar-100-python.tar.gz`): one .tar.gz whose top
    folder is the class's `base_folder`."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, torchvision_class)
    return (Download(dataset, cls.filename, (cls.url,), f"md5:{cls.tgz_md5}", "tar", cls.base_folder),)


def idx_files(dataset: str, torchvision_class: str) -> tuple[Download, ...]:
    """The four gzipped idx files of MNIST or Fashion-MNIST, each tried at every mirror torchvision lists,
    unpacked to `<class name>/raw/<file>` where core/mnist_files.py reads them."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, torchvision_class)
    return tuple(Download(dataset, name, tuple(m + name for m in cls.mirrors), f"md5:{md5}", "gunzip",
                          f"{torchvision_class}/raw/{name.removesuffix('.gz')}")
                 for name, md5 in cls.resources)
