"""MNIST-format datasets without torchvision.

- :mod:`~spikerl.datasets.idx`: IDX reader/writer (gzip detected by magic bytes).
- :mod:`~spikerl.datasets.layouts`: file names and md5s of MNIST and Fashion-MNIST.
- :mod:`~spikerl.datasets.locate`: search order (``root`` > ``$SPIKERL_DATA`` > cache).
- :mod:`~spikerl.datasets.download`: md5-checked downloads from mirrors (pooch).
- :mod:`~spikerl.datasets.mnist`: :class:`MNIST`, :class:`FashionMNIST` and whole-split loaders.
- :mod:`~spikerl.datasets.transforms`: small torch transforms.
"""

from spikerl.datasets.errors import (
    ChecksumError,
    DatasetNotFoundError,
    DownloadError,
    IdxFormatError,
)
from spikerl.datasets.idx import read_idx, write_idx
from spikerl.datasets.layouts import FASHION_MNIST_LAYOUT, MNIST_LAYOUT, IdxLayout, IdxResource
from spikerl.datasets.locate import ENV_VAR, cache_dir, search_dirs
from spikerl.datasets.mnist import (
    MNIST,
    FashionMNIST,
    IdxImageDataset,
    Split,
    load_fashion_mnist,
    load_mnist,
    load_split,
)

__all__ = [
    "ENV_VAR",
    "FASHION_MNIST_LAYOUT",
    "MNIST",
    "MNIST_LAYOUT",
    "ChecksumError",
    "DatasetNotFoundError",
    "DownloadError",
    "FashionMNIST",
    "IdxFormatError",
    "IdxImageDataset",
    "IdxLayout",
    "IdxResource",
    "Split",
    "cache_dir",
    "load_fashion_mnist",
    "load_mnist",
    "load_split",
    "read_idx",
    "search_dirs",
    "write_idx",
]
