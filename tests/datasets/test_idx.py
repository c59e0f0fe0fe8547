"""IDX reader/writer on tiny files written by the tests."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from spikerl.datasets import IdxFormatError, read_idx, write_idx
from spikerl.datasets.idx import encode_idx, is_gzip, parse_idx

LABELS_BYTES = bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + bytes([3, 1, 4, 1, 5])
IMAGES_BYTES = bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 2, 3) + bytes(range(12))


def test_labels_raw_exact(tmp_path: Path) -> None:
    p = tmp_path / "labels-idx1-ubyte"
    p.write_bytes(LABELS_BYTES)
    out = read_idx(p)
    assert out.dtype == torch.uint8
    assert out.tolist() == [3, 1, 4, 1, 5]


def test_images_raw_exact(tmp_path: Path) -> None:
    p = tmp_path / "images-idx3-ubyte"
    p.write_bytes(IMAGES_BYTES)
    out = read_idx(p)
    assert out.shape == (2, 2, 3)
    assert out.dtype == torch.uint8
    assert torch.equal(out, torch.arange(12, dtype=torch.uint8).reshape(2, 2, 3))


@pytest.mark.parametrize("name", ["images.gz", "images-no-suffix"])
def test_gzip_detected_by_magic_not_suffix(tmp_path: Path, name: str) -> None:
    p = tmp_path / name
    p.write_bytes(gzip.compress(IMAGES_BYTES))
    assert torch.equal(read_idx(p), torch.arange(12, dtype=torch.uint8).reshape(2, 2, 3))


def test_raw_file_with_gz_suffix(tmp_path: Path) -> None:
    p = tmp_path / "labels.gz"
    p.write_bytes(LABELS_BYTES)
    assert read_idx(p).tolist() == [3, 1, 4, 1, 5]


def test_big_endian_dtypes() -> None:
    data = bytes([0, 0, 0x0B, 1]) + struct.pack(">I", 3) + struct.pack(">3h", -2, 300, 7)
    out = parse_idx(data)
    assert out.dtype == torch.int16
    assert out.tolist() == [-2, 300, 7]
    data = bytes([0, 0, 0x0D, 2]) + struct.pack(">2I", 1, 2) + struct.pack(">2f", 1.5, -0.25)
    out = parse_idx(data)
    assert out.dtype == torch.float32
    assert out.tolist() == [[1.5, -0.25]]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_read_round_trip(tmp_path: Path, dtype: type, suffix: str) -> None:
    arr: np.ndarray = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    p = write_idx(tmp_path / f"x{suffix}", arr)
    assert is_gzip(p.read_bytes()) == (suffix == ".gz")
    out = read_idx(p)
    np.testing.assert_array_equal(out.numpy(), arr)
    assert out.numpy().dtype == np.dtype(dtype)


def test_write_accepts_tensor() -> None:
    t = torch.tensor([1, 2, 3], dtype=torch.uint8)
    assert encode_idx(t) == bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3])


def test_wrong_magic_number(tmp_path: Path) -> None:
    p = tmp_path / "bad-magic"
    p.write_bytes(b"\x12\x34" + LABELS_BYTES[2:])
    with pytest.raises(IdxFormatError, match="wrong magic number") as info:
        read_idx(p)
    assert str(p) in str(info.value)


def test_unknown_dtype_code(tmp_path: Path) -> None:
    p = tmp_path / "bad-dtype"
    p.write_bytes(bytes([0, 0, 0x07, 1]) + LABELS_BYTES[4:])
    with pytest.raises(IdxFormatError, match="dtype code 0x07"):
        read_idx(p)


def test_zero_dimensions() -> None:
    with pytest.raises(IdxFormatError, match="zero dimensions"):
        parse_idx(bytes([0, 0, 8, 0]))


@pytest.mark.parametrize("length", [0, 3, 6])
def test_truncated_header(tmp_path: Path, length: int) -> None:
    p = tmp_path / "short"
    p.write_bytes(IMAGES_BYTES[:length])
    with pytest.raises(IdxFormatError, match="truncated") as info:
        read_idx(p)
    assert str(p) in str(info.value)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_payload(tmp_path: Path, compress: bool) -> None:
    data = IMAGES_BYTES[:-1]
    p = tmp_path / "trunc"
    p.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(IdxFormatError, match="truncated IDX file") as info:
        read_idx(p)
    msg = str(info.value)
    assert str(p) in msg
    assert "(2, 2, 3)" in msg and "12 bytes" in msg and "11 bytes" in msg


def test_trailing_bytes(tmp_path: Path) -> None:
    p = tmp_path / "long"
    p.write_bytes(LABELS_BYTES + b"\x00")
    with pytest.raises(IdxFormatError, match="longer than its header"):
        read_idx(p)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    gz = gzip.compress(IMAGES_BYTES * 50)
    p = tmp_path / "cut.gz"
    p.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(IdxFormatError, match="gzip stream is truncated or corrupt") as info:
        read_idx(p)
    assert str(p) in str(info.value)


def test_undecompressed_gzip_hint() -> None:
    with pytest.raises(IdxFormatError, match="gzip"):
        parse_idx(gzip.compress(LABELS_BYTES))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


def test_result_is_writable_native(tmp_path: Path) -> None:
    p = write_idx(tmp_path / "w", np.array([[1.0, 2.0]], dtype=">f4"))
    out = read_idx(p)
    out += 1  # owns its memory, no read-only buffer warning
    assert out.tolist() == [[2.0, 3.0]]
