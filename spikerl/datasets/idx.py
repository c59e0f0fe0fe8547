"""Reader and writer for the IDX format used by MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, one big-endian ``uint32`` per dimension, then the data
in C order, big-endian::

    magic = 0x00 0x00 <dtype code> <ndim>
    dims  = ndim x uint32 (big-endian)
    data  = prod(dims) x itemsize bytes

dtype codes: ``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32,
``0x0E`` float64. MNIST labels are idx1 uint8 (magic ``0x00000801``), images are idx3 uint8
(magic ``0x00000803``).

Files may be gzip-compressed; compression is detected from the first two bytes (``1f 8b``),
not from the file name.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from spikerl.datasets.errors import IdxFormatError

__all__ = [
    "GZIP_MAGIC",
    "IDX_DTYPES",
    "decompress_if_gzip",
    "encode_idx",
    "is_gzip",
    "parse_idx",
    "read_idx",
    "read_idx_bytes",
    "write_idx",
]

GZIP_MAGIC = b"\x1f\x8b"
"""First two bytes of every gzip stream."""

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX dtype code -> big-endian numpy dtype of the payload."""

_HEADER = 4


def is_gzip(data: bytes) -> bool:
    """Return whether ``data`` starts with the gzip magic bytes ``1f 8b``.

    Args:
        data: The raw bytes of a file (or at least its first two bytes).

    Returns:
        True for a gzip stream.
    """
    return data[:2] == GZIP_MAGIC


def decompress_if_gzip(data: bytes, source: str = "<bytes>") -> bytes:
    """Decompress ``data`` if it is a gzip stream, else return it unchanged.

    Args:
        data: Raw file bytes.
        source: Name used in error messages (usually the file path).

    Returns:
        The decompressed bytes.

    Raises:
        IdxFormatError: The gzip stream is truncated or corrupt.
    """
    if not is_gzip(data):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise IdxFormatError(
            f"{source}: gzip stream is truncated or corrupt ({exc}); "
            "delete the file and download or copy it again"
        ) from exc


def read_idx_bytes(path: str | PathLike[str]) -> bytes:
    """Read a file and return its decompressed content (gzip detected by magic bytes).

    Args:
        path: Path to a raw or gzip-compressed file.

    Returns:
        The decompressed bytes.

    Raises:
        IdxFormatError: The gzip stream is truncated or corrupt.
    """
    p = Path(path)
    return decompress_if_gzip(p.read_bytes(), str(p))


def _parse_header(data: bytes, source: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """Validate an IDX header; return (payload dtype, dims, header length in bytes)."""
    if len(data) < _HEADER:
        raise IdxFormatError(
            f"{source}: truncated IDX file: {len(data)} bytes, shorter than the 4-byte magic number"
        )
    magic = int.from_bytes(data[:_HEADER], "big")
    if data[0] != 0 or data[1] != 0:
        hint = " (it looks like a gzip stream that was not decompressed)" if is_gzip(data) else ""
        raise IdxFormatError(
            f"{source}: wrong magic number 0x{magic:08x}{hint}; an IDX file starts with two zero "
            "bytes, a dtype code and the number of dimensions (0x00000801 for idx1 uint8 labels, "
            "0x00000803 for idx3 uint8 images)"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise IdxFormatError(
            f"{source}: wrong magic number 0x{magic:08x}: unknown IDX dtype code 0x{code:02x} "
            f"(known: {known})"
        )
    if ndim == 0:
        raise IdxFormatError(f"{source}: wrong magic number 0x{magic:08x}: zero dimensions")
    header_len = _HEADER + 4 * ndim
    if len(data) < header_len:
        raise IdxFormatError(
            f"{source}: truncated IDX header: {ndim} dimensions need {header_len} header bytes, "
            f"the file has {len(data)}"
        )
    dims = struct.unpack(f">{ndim}I", data[_HEADER:header_len])
    return IDX_DTYPES[code], tuple(int(d) for d in dims), header_len


def parse_idx(data: bytes, source: str = "<bytes>") -> Tensor:
    """Parse decompressed IDX bytes into a tensor.

    Args:
        data: The decompressed content of an IDX file.
        source: Name used in error messages (usually the file path).

    Returns:
        A tensor of shape ``dims`` in native byte order (``uint8`` for MNIST files).

    Raises:
        IdxFormatError: Wrong magic number, unknown dtype code, or a payload whose length
            does not match the dimensions in the header.
    """
    dtype, dims, header_len = _parse_header(data, source)
    expected = math.prod(dims) * dtype.itemsize
    actual = len(data) - header_len
    if actual != expected:
        kind = "truncated IDX file" if actual < expected else "IDX payload longer than its header"
        raise IdxFormatError(
            f"{source}: {kind}: header says dims {dims} of {dtype.name} = {expected} bytes of "
            f"data, but {actual} bytes follow the header"
        )
    array = np.frombuffer(data, dtype=dtype, count=math.prod(dims), offset=header_len)
    native = array.astype(dtype.newbyteorder("="), copy=True).reshape(dims)
    return torch.from_numpy(native)


def read_idx(path: str | PathLike[str]) -> Tensor:
    """Read a raw or gzip-compressed IDX file.

    Args:
        path: Path to the file; gzip is detected by magic bytes, whatever the suffix.

    Returns:
        The array as a tensor with the file's dimensions.

    Raises:
        FileNotFoundError: The file does not exist.
        IdxFormatError: The file is not a valid IDX file (the message names it).
    """
    p = Path(path)
    return parse_idx(read_idx_bytes(p), str(p))


def _idx_code(dtype: np.dtype) -> int:
    """Return the IDX dtype code of a numpy dtype."""
    for code, idx_dtype in IDX_DTYPES.items():
        if idx_dtype.kind == dtype.kind and idx_dtype.itemsize == dtype.itemsize:
            return code
    raise TypeError(f"dtype {dtype} has no IDX code; use one of uint8, int8, int16, int32, f4, f8")


def encode_idx(array: Tensor | np.ndarray) -> bytes:
    """Encode an array as IDX bytes (uncompressed).

    Args:
        array: Tensor or array of a dtype IDX supports, with 1 to 255 dimensions.

    Returns:
        The IDX bytes.
    """
    arr = array.detach().cpu().numpy() if isinstance(array, Tensor) else np.asarray(array)
    if not 1 <= arr.ndim <= 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {arr.ndim}")
    code = _idx_code(arr.dtype)
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(
    path: str | PathLike[str], array: Tensor | np.ndarray, compress: bool | None = None
) -> Path:
    """Write an array as an IDX file.

    Args:
        path: Destination file.
        array: Tensor or array of a dtype IDX supports.
        compress: Gzip the file; ``None`` means gzip when the name ends in ``.gz``.

    Returns:
        The path written.
    """
    p = Path(path)
    data = encode_idx(array)
    if compress if compress is not None else p.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    p.write_bytes(data)
    return p
