"""Dataset classes, checksums and downloads on tiny MNIST-like files."""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from spikerl.datasets import (
    FASHION_MNIST_LAYOUT,
    MNIST,
    MNIST_LAYOUT,
    ChecksumError,
    DatasetNotFoundError,
    FashionMNIST,
    IdxFormatError,
    IdxImageDataset,
    IdxLayout,
    load_split,
)
from spikerl.datasets.idx import encode_idx
from spikerl.datasets.locate import cache_dir
from spikerl.datasets.transforms import Flatten

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"


def dataset_class(layout: IdxLayout) -> type[IdxImageDataset]:
    class Tiny(IdxImageDataset):
        layout: ClassVar[IdxLayout]

    Tiny.layout = layout
    return Tiny


def test_layout_constants() -> None:
    assert MNIST.layout is MNIST_LAYOUT and FashionMNIST.layout is FASHION_MNIST_LAYOUT
    assert MNIST_LAYOUT.train_images.md5 == "6bbc9ace898e44ae57da46a324031adb"
    assert MNIST_LAYOUT.train_labels.md5 == "a25bea736e30d166cdddb491f175f624"
    assert MNIST_LAYOUT.test_images.md5 == "2646ac647ad5339dbf082846283269ea"
    assert MNIST_LAYOUT.test_labels.md5 == "27ae3e4e09519cfbb04c329615203637"
    fashion = FASHION_MNIST_LAYOUT
    assert fashion.train_images.gz_md5 == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
    assert fashion.train_labels.gz_md5 == "25c81989df183df01b3e8a0aad5dffbe"
    assert fashion.test_images.gz_md5 == "bef4ecab320f06d8554ea6380940ec79"
    assert fashion.test_labels.gz_md5 == "bb300cfdad3c16e7a12a480ee83cd310"
    for lay in (MNIST_LAYOUT, FASHION_MNIST_LAYOUT):
        assert lay.split(True)[0].name == TRAIN_IMAGES
        assert lay.split(False)[1].name == "t10k-labels-idx1-ubyte"
        assert len(lay.classes) == 10 and lay.mirrors


def test_dataset_items(
    tmp_path: Path, arrays: dict[str, np.ndarray], write: Callable[..., Path], layout: IdxLayout
) -> None:
    write(tmp_path, arrays)
    ds = dataset_class(layout)(tmp_path)
    n = len(arrays[TRAIN_LABELS])
    assert len(ds) == n
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (n, 28, 28)
    assert ds.labels.dtype == torch.int64 and ds.labels.shape == (n,)
    image, label = ds[3]
    assert image.dtype == torch.float32 and image.shape == (1, 28, 28)
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    expected = torch.from_numpy(arrays[TRAIN_IMAGES][3]).float() / 255
    torch.testing.assert_close(image[0], expected)
    assert label.dtype == torch.int64 and int(label) == int(arrays[TRAIN_LABELS][3])
    assert ds.classes == layout.classes
    assert "split=train" in repr(ds)
    batch_x, batch_y = next(iter(DataLoader(ds, batch_size=4)))
    assert batch_x.shape == (4, 1, 28, 28) and batch_y.dtype == torch.int64


def test_test_split_and_transform(
    tmp_path: Path, arrays: dict[str, np.ndarray], write: Callable[..., Path], layout: IdxLayout
) -> None:
    write(tmp_path, arrays)
    ds = dataset_class(layout)(tmp_path, train=False, transform=Flatten())
    assert len(ds) == len(arrays["t10k-labels-idx1-ubyte"])
    image, _ = ds[0]
    assert image.shape == (784,)
    assert ds.images[0].dtype == torch.uint8  # stored split untouched


def test_corrupt_file_checksum(
    tmp_path: Path, arrays: dict[str, np.ndarray], write: Callable[..., Path], layout: IdxLayout
) -> None:
    corrupted = dict(arrays)
    corrupted[TRAIN_IMAGES] = arrays[TRAIN_IMAGES].copy()
    corrupted[TRAIN_IMAGES][0, 0, 0] ^= 1
    write(tmp_path, corrupted)
    with pytest.raises(ChecksumError, match="corrupt") as info:
        load_split(layout, True, tmp_path)
    assert str(tmp_path / f"{TRAIN_IMAGES}.gz") in str(info.value)
    assert "verify=False" in str(info.value)
    split = load_split(layout, True, tmp_path, verify=False)  # check can be turned off
    assert split.images[0, 0, 0] == corrupted[TRAIN_IMAGES][0, 0, 0]


def test_recompressed_file_passes_decompressed_md5(
    tmp_path: Path, arrays: dict[str, np.ndarray], layout: IdxLayout
) -> None:
    for name, arr in arrays.items():  # different gzip wrapper (mtime, level) than the layout's
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(encode_idx(arr), 1, mtime=12345))
    assert len(load_split(layout, True, tmp_path).labels) == len(arrays[TRAIN_LABELS])


def test_gz_only_checksums(
    tmp_path: Path,
    arrays: dict[str, np.ndarray],
    write: Callable[..., Path],
    make_layout: Callable[..., IdxLayout],
) -> None:
    layout = make_layout(arrays, gz_only=True)  # like Fashion-MNIST: only archive md5s known
    write(tmp_path / "gz", arrays)
    load_split(layout, True, tmp_path / "gz")
    (tmp_path / "re").mkdir()
    for name, arr in arrays.items():
        (tmp_path / "re" / f"{name}.gz").write_bytes(gzip.compress(encode_idx(arr), mtime=99))
    with pytest.raises(ChecksumError, match=r"re-compressed"):
        load_split(layout, True, tmp_path / "re")
    write(tmp_path / "raw", arrays, compress=False)
    with pytest.warns(UserWarning, match="no checksum known"):
        load_split(layout, True, tmp_path / "raw")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_split(layout, True, tmp_path / "raw", verify=False)


def test_truncated_dataset_file(
    tmp_path: Path, arrays: dict[str, np.ndarray], write: Callable[..., Path], layout: IdxLayout
) -> None:
    write(tmp_path, arrays, compress=False)
    p = tmp_path / TRAIN_IMAGES
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(IdxFormatError, match="truncated") as info:
        load_split(layout, True, tmp_path)
    assert str(p) in str(info.value)


def test_wrong_magic_dataset_file(
    tmp_path: Path, arrays: dict[str, np.ndarray], write: Callable[..., Path], layout: IdxLayout
) -> None:
    write(tmp_path, arrays, compress=False)
    p = tmp_path / TRAIN_LABELS
    p.write_bytes(b"\x08\x01\x00\x00" + p.read_bytes()[4:])
    with pytest.raises(IdxFormatError, match="wrong magic number") as info:
        load_split(layout, True, tmp_path)
    assert str(p) in str(info.value)


def test_wrong_ndim_and_count_mismatch(
    tmp_path: Path,
    arrays: dict[str, np.ndarray],
    write: Callable[..., Path],
    make_layout: Callable[..., IdxLayout],
) -> None:
    swapped = dict(arrays)
    swapped[TRAIN_LABELS] = arrays[TRAIN_IMAGES]
    write(tmp_path / "a", swapped)
    with pytest.raises(IdxFormatError, match="expected idx1 uint8"):
        load_split(make_layout(swapped), True, tmp_path / "a")
    short = dict(arrays)
    short[TRAIN_LABELS] = arrays[TRAIN_LABELS][:-1]
    write(tmp_path / "b", short)
    with pytest.raises(IdxFormatError, match="labels"):
        load_split(make_layout(short), True, tmp_path / "b")


def test_missing_dataset_names_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path / "nowhere", train=True)
    msg = str(info.value)
    assert "train-images-idx3-ubyte" in msg and "train-labels-idx1-ubyte" in msg
    assert str(tmp_path / "nowhere") in msg and str(cache_dir("mnist")) in msg
    with pytest.raises(DatasetNotFoundError, match="fashion-mnist"):
        FashionMNIST(tmp_path / "nowhere", train=False)


# -- downloads through file:// mirrors (no network needed) ---------------------------------


def test_download_from_file_mirror(
    tmp_path: Path, arrays: dict[str, np.ndarray], write: Callable[..., Path], layout: IdxLayout
) -> None:
    mirror = write(tmp_path / "mirror", arrays)
    bad_mirror = (tmp_path / "no-such-mirror").as_uri()
    ds = dataset_class(layout)(
        tmp_path / "data", download=True, mirrors=[bad_mirror, mirror.as_uri()]
    )
    assert ds.files[0] == tmp_path / "data" / "tiny" / f"{TRAIN_IMAGES}.gz"
    assert sorted(p.name for p in (tmp_path / "data" / "tiny").iterdir()) == [
        f"{TRAIN_IMAGES}.gz",
        f"{TRAIN_LABELS}.gz",
    ]  # no leftover temporary files, test split not fetched
    np.testing.assert_array_equal(ds.images.numpy(), arrays[TRAIN_IMAGES])


def test_download_to_cache_without_root(
    tmp_path: Path, arrays: dict[str, np.ndarray], write: Callable[..., Path], layout: IdxLayout
) -> None:
    mirror = write(tmp_path / "mirror", arrays)
    split = load_split(layout, False, download=True, mirrors=[mirror.as_uri()])
    assert split.images_path.parent == cache_dir("tiny")


def test_download_corrupt_rejected(
    tmp_path: Path,
    arrays: dict[str, np.ndarray],
    write: Callable[..., Path],
    make_arrays: Callable[..., dict[str, np.ndarray]],
    layout: IdxLayout,
) -> None:
    mirror = write(tmp_path / "mirror", make_arrays(seed=42))  # wrong content
    with pytest.raises(DatasetNotFoundError) as info:
        load_split(layout, True, tmp_path / "data", download=True, mirrors=[mirror.as_uri()])
    msg = str(info.value)
    assert "Download failed" in msg and "corrupt" in msg and mirror.as_uri() in msg
    assert not (tmp_path / "data" / "tiny").exists()  # nothing kept, not even the folder


def test_download_offline_error(tmp_path: Path, layout: IdxLayout) -> None:
    unreachable = "http://127.0.0.1:9/"  # discard port: connection refused at once
    with pytest.raises(DatasetNotFoundError) as info:
        load_split(layout, True, tmp_path, download=True, mirrors=[unreachable], timeout=2.0)
    msg = str(info.value)
    assert "Download failed" in msg and "127.0.0.1:9" in msg
    assert str(tmp_path) in msg and TRAIN_IMAGES in msg


def test_download_not_needed_when_present(
    tmp_path: Path, arrays: dict[str, np.ndarray], write: Callable[..., Path], layout: IdxLayout
) -> None:
    write(tmp_path, arrays)
    split = load_split(layout, True, tmp_path, download=True, mirrors=["http://127.0.0.1:9/"])
    assert split.images_path.parent == tmp_path


def test_download_over_http_through_pooch(
    tmp_path: Path, arrays: dict[str, np.ndarray], write: Callable[..., Path], layout: IdxLayout
) -> None:
    """A real HTTP download (a server on 127.0.0.1 serving the mirror folder): pooch fetches
    the .gz, checks its md5 and keeps it; a second load reads the kept file."""
    import functools
    import http.server
    import threading

    mirror = write(tmp_path / "mirror", arrays)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        split = load_split(layout, False, tmp_path / "data", download=True, mirrors=[url])
    finally:
        server.shutdown()
        server.server_close()
    np.testing.assert_array_equal(split.labels.numpy(), arrays["t10k-labels-idx1-ubyte"])
    assert split.images_path == tmp_path / "data" / "tiny" / "t10k-images-idx3-ubyte.gz"
    again = load_split(layout, False, tmp_path / "data")  # offline now: the kept files
    assert again.images_path == split.images_path
