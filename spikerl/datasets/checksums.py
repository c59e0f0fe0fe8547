"""md5 checks of dataset files: decompressed content first, else the ``.gz`` archive."""

from __future__ import annotations

import hashlib
import warnings

from spikerl.datasets.errors import ChecksumError
from spikerl.datasets.idx import is_gzip
from spikerl.datasets.layouts import IdxResource

__all__ = ["md5_hex", "verify_resource"]


def md5_hex(data: bytes) -> str:
    """Return the md5 of ``data`` as 32 lowercase hex digits."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _corrupt(source: str, what: str, actual: str, expected: str, hint: str = "") -> ChecksumError:
    return ChecksumError(
        f"{source}: file is corrupt or not the expected dataset: md5 of the {what} is {actual}, "
        f"expected {expected}. Delete it and download or copy it again{hint} "
        "(or pass verify=False to skip the check)."
    )


def verify_resource(source: str, file_bytes: bytes, content: bytes, resource: IdxResource) -> None:
    """Check a file against the canonical md5 of its resource.

    The md5 of the decompressed ``content`` is checked when the resource knows it; otherwise
    the md5 of the file itself is checked against the archive md5 when the file is gzip.
    With neither available (a decompressed file whose dataset only publishes archive md5s)
    a ``UserWarning`` says the file could not be verified.

    Args:
        source: Name used in messages (the file path).
        file_bytes: The file as stored (gzip or raw).
        content: The decompressed bytes.
        resource: The expected resource.

    Raises:
        ChecksumError: The md5 does not match; the message says the file is corrupt.
    """
    if resource.md5 is not None:
        actual = md5_hex(content)
        if actual != resource.md5:
            raise _corrupt(source, "decompressed content", actual, resource.md5)
        return
    if resource.gz_md5 is not None and is_gzip(file_bytes):
        actual = md5_hex(file_bytes)
        if actual != resource.gz_md5:
            hint = (
                " (only the md5 of the original .gz archive is known, so a re-compressed "
                "file also fails this check)"
            )
            raise _corrupt(source, "gzip archive", actual, resource.gz_md5, hint)
        return
    warnings.warn(
        f"{source}: no checksum known for an uncompressed {resource.name}; "
        "keep the original .gz file to have it verified",
        UserWarning,
        stacklevel=3,
    )
