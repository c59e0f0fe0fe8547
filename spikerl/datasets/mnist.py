"""MNIST and Fashion-MNIST as torch datasets and as whole-split tensors.

>>> from spikerl.datasets import MNIST
>>> train = MNIST(train=True)            # finds the files: root > $SPIKERL_DATA > cache
>>> image, label = train[0]             # float32 [1, 28, 28] in [0, 1], int64 scalar
>>> train.images.shape, train.labels.shape   # uint8 [60000, 28, 28], int64 [60000]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path
from typing import ClassVar, NamedTuple

import torch
from torch import Tensor
from torch.utils.data import Dataset

from spikerl.datasets.checksums import verify_resource
from spikerl.datasets.download import DEFAULT_TIMEOUT, download_resource
from spikerl.datasets.errors import DownloadError, IdxFormatError
from spikerl.datasets.idx import decompress_if_gzip, parse_idx
from spikerl.datasets.layouts import FASHION_MNIST_LAYOUT, MNIST_LAYOUT, IdxLayout, IdxResource
from spikerl.datasets.locate import download_dir, find_resource, missing_files_error, search_dirs

__all__ = [
    "MNIST",
    "FashionMNIST",
    "IdxImageDataset",
    "Split",
    "load_fashion_mnist",
    "load_mnist",
    "load_resource",
    "load_split",
    "locate_split",
]

Transform = Callable[[Tensor], Tensor]


class Split(NamedTuple):
    """A whole split as tensors.

    Attributes:
        images: ``uint8`` tensor ``[N, H, W]``, values 0..255.
        labels: ``int64`` tensor ``[N]``.
        images_path: File the images came from.
        labels_path: File the labels came from.
    """

    images: Tensor
    labels: Tensor
    images_path: Path
    labels_path: Path


def load_resource(path: Path, resource: IdxResource, verify: bool = True) -> Tensor:
    """Read one IDX file, check its structure and (optionally) its md5.

    Args:
        path: The file (raw or gzip).
        resource: What the file should be.
        verify: Check the md5.

    Returns:
        The ``uint8`` tensor stored in the file.

    Raises:
        IdxFormatError: Malformed file, or not ``uint8`` with ``resource.ndim`` dimensions.
        ChecksumError: md5 mismatch (with ``verify``).
    """
    source = str(path)
    file_bytes = path.read_bytes()
    content = decompress_if_gzip(file_bytes, source)
    tensor = parse_idx(content, source)
    if verify:
        verify_resource(source, file_bytes, content, resource)
    if tensor.dim() != resource.ndim or tensor.dtype != torch.uint8:
        raise IdxFormatError(
            f"{source}: expected idx{resource.ndim} uint8 data for {resource.name}, got "
            f"{tensor.dim()} dimensions of {tensor.dtype}"
        )
    return tensor


def _check_split(images: Tensor, labels: Tensor, layout: IdxLayout, split: Split) -> None:
    """Check that images and labels agree with each other and with the layout."""
    if tuple(images.shape[1:]) != layout.image_shape:
        raise IdxFormatError(
            f"{split.images_path}: images of shape {tuple(images.shape[1:])}, expected "
            f"{layout.image_shape} for {layout.title}"
        )
    if images.shape[0] != labels.shape[0]:
        raise IdxFormatError(
            f"{split.images_path} holds {images.shape[0]} images but {split.labels_path} holds "
            f"{labels.shape[0]} labels"
        )
    if labels.numel() and int(labels.max()) >= len(layout.classes):
        raise IdxFormatError(
            f"{split.labels_path}: label {int(labels.max())} out of range for "
            f"{len(layout.classes)} classes"
        )


def locate_split(
    layout: IdxLayout,
    train: bool = True,
    root: str | PathLike[str] | None = None,
    download: bool = False,
    verify: bool = True,
    mirrors: Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[Path, Path]:
    """Find (or download) the image and label files of a split.

    Args:
        layout: The dataset layout.
        train: Training split if True, else test split.
        root: Explicit data root, searched before ``$SPIKERL_DATA`` and the cache.
        download: Fetch missing files into :func:`~spikerl.datasets.locate.download_dir`.
        verify: Check downloads against their md5.
        mirrors: Base URLs to download from; default ``layout.mirrors``.
        timeout: Seconds urllib waits per connection or read.

    Returns:
        ``(images_path, labels_path)``.

    Raises:
        DatasetNotFoundError: A file is missing (and could not be downloaded); the message
            names the files, every folder searched and where to put them.
    """
    dirs = search_dirs(layout, root)
    resources = layout.split(train)
    found = [find_resource(r, dirs) for r in resources]
    missing = [r for r, p in zip(resources, found) if p is None]
    if missing and download:
        target = download_dir(layout, root)
        sources = tuple(layout.mirrors if mirrors is None else mirrors)
        try:
            for r in missing:
                found[resources.index(r)] = download_resource(r, target, sources, timeout, verify)
        except DownloadError as exc:
            raise missing_files_error(
                layout, missing, dirs, root, f"Download failed: {exc}"
            ) from exc
        missing = []
    if missing:
        raise missing_files_error(layout, missing, dirs, root)
    images_path, labels_path = found
    assert images_path is not None and labels_path is not None
    return images_path, labels_path


def load_split(
    layout: IdxLayout,
    train: bool = True,
    root: str | PathLike[str] | None = None,
    download: bool = False,
    verify: bool = True,
    mirrors: Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Split:
    """Load a whole split as tensors.

    Args:
        layout: The dataset layout.
        train: Training split if True, else test split.
        root: Explicit data root, searched before ``$SPIKERL_DATA`` and the cache.
        download: Fetch missing files.
        verify: Check each file's md5 (on by default).
        mirrors: Base URLs to download from; default ``layout.mirrors``.
        timeout: Seconds urllib waits per connection or read.

    Returns:
        The :class:`Split`: ``uint8`` images ``[N, H, W]`` and ``int64`` labels ``[N]``.

    Raises:
        DatasetNotFoundError: Files missing.
        IdxFormatError: A file is malformed or the two files disagree.
        ChecksumError: A file is corrupt (with ``verify``).
    """
    images_path, labels_path = locate_split(layout, train, root, download, verify, mirrors, timeout)
    images_res, labels_res = layout.split(train)
    images = load_resource(images_path, images_res, verify)
    labels = load_resource(labels_path, labels_res, verify).to(torch.int64)
    split = Split(images, labels, images_path, labels_path)
    _check_split(images, labels, layout, split)
    return split


def load_mnist(
    train: bool = True,
    root: str | PathLike[str] | None = None,
    download: bool = False,
    verify: bool = True,
) -> Split:
    """Load an MNIST split as tensors; see :func:`load_split`."""
    return load_split(MNIST_LAYOUT, train, root, download, verify)


def load_fashion_mnist(
    train: bool = True,
    root: str | PathLike[str] | None = None,
    download: bool = False,
    verify: bool = True,
) -> Split:
    """Load a Fashion-MNIST split as tensors; see :func:`load_split`."""
    return load_split(FASHION_MNIST_LAYOUT, train, root, download, verify)


class IdxImageDataset(Dataset[tuple[Tensor, Tensor]]):
    """A classification dataset of IDX image and label files, held in memory.

    Subclasses set :attr:`layout`. Item ``i`` is ``(image, label)``: ``image`` a ``float32``
    tensor ``[1, H, W]`` with values ``pixel / 255`` in ``[0, 1]`` (then ``transform``),
    ``label`` an ``int64`` scalar tensor. For vectorised use, :attr:`images` (``uint8``
    ``[N, H, W]``) and :attr:`labels` (``int64`` ``[N]``) hold the whole split.

    Args:
        root: Data root searched first, then ``$SPIKERL_DATA``, then the user cache
            (``~/.cache/spikerl/<dataset>``); ``<root>`` and ``<root>/<dataset>`` both work.
        train: Training split if True, else test split.
        download: Download missing files (md5-checked) when a network is reachable.
        transform: Applied to each ``float32`` image ``[1, H, W]``.
        verify: Check each file's md5 (on by default).
        mirrors: Base URLs to download from; default ``layout.mirrors``.
        timeout: Seconds urllib waits per connection or read.

    Raises:
        DatasetNotFoundError: Files missing (a ``FileNotFoundError``).
        IdxFormatError: A file is malformed.
        ChecksumError: A file is corrupt.
    """

    layout: ClassVar[IdxLayout]

    def __init__(
        self,
        root: str | PathLike[str] | None = None,
        train: bool = True,
        download: bool = False,
        transform: Transform | None = None,
        verify: bool = True,
        *,
        mirrors: Sequence[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        split = load_split(type(self).layout, train, root, download, verify, mirrors, timeout)
        self.images: Tensor = split.images
        self.labels: Tensor = split.labels
        self.files: tuple[Path, Path] = (split.images_path, split.labels_path)
        self.train = train
        self.transform = transform

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names, index = label."""
        return type(self).layout.classes

    def __len__(self) -> int:
        """Number of examples."""
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """Return ``(image float32 [1, H, W] in [0, 1] after transform, label int64)``."""
        image = self.images[index].unsqueeze(0).to(torch.float32).div_(255.0)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return (
            f"{type(self).__name__}(split={split}, n={len(self)}, "
            f"folder={self.files[0].parent}, transform={self.transform!r})"
        )


class MNIST(IdxImageDataset):
    """MNIST handwritten digits: 60000 train / 10000 test, 28x28, 10 classes.

    See :class:`IdxImageDataset` for the arguments.
    """

    layout: ClassVar[IdxLayout] = MNIST_LAYOUT


class FashionMNIST(IdxImageDataset):
    """Fashion-MNIST article images: 60000 train / 10000 test, 28x28, 10 classes.

    Its files are checked against the md5s of the original ``.gz`` archives (the only ones
    published), so keep them compressed as downloaded. See :class:`IdxImageDataset`.
    """

    layout: ClassVar[IdxLayout] = FASHION_MNIST_LAYOUT
