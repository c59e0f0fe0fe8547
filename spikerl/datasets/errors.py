"""Errors raised by the dataset layer, each with a message that says what to do."""

from __future__ import annotations

__all__ = ["ChecksumError", "DatasetNotFoundError", "DownloadError", "IdxFormatError"]


class IdxFormatError(ValueError):
    """An IDX file is malformed: bad magic number, unknown dtype, truncated or padded."""


class ChecksumError(ValueError):
    """A file's md5 does not match the canonical one: the file is corrupt or not the expected
    dataset."""


class DatasetNotFoundError(FileNotFoundError):
    """Dataset files are missing from every folder searched (and could not be downloaded)."""


class DownloadError(OSError):
    """Every mirror failed for a file (no network, HTTP error or bad checksum)."""
