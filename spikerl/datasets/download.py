"""Download dataset files from a list of mirrors, checked before they are kept.

Each file is fetched with :mod:`urllib` (short timeout) into a temporary file beside its
destination, decompressed, parsed and checked against its md5, and only then renamed into
place, so an interrupted or corrupt download never leaves a file that looks valid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from spikerl.datasets.checksums import verify_resource
from spikerl.datasets.errors import DownloadError
from spikerl.datasets.idx import decompress_if_gzip, is_gzip, parse_idx
from spikerl.datasets.layouts import IdxResource

__all__ = ["DEFAULT_TIMEOUT", "download_resource", "resource_url"]

DEFAULT_TIMEOUT = 10.0
"""Seconds urllib waits for a connection or data before trying the next mirror."""


def resource_url(mirror: str, resource: IdxResource) -> str:
    """Return the URL of a resource's ``.gz`` file on a mirror (``<mirror>/<name>.gz``)."""
    return f"{mirror.rstrip('/')}/{resource.name}.gz"


def _fetch(url: str, dest: Path, timeout: float) -> None:
    """Copy ``url`` into the file ``dest``."""
    import urllib.request  # deferred: keeps `import spikerl.datasets` light

    request = urllib.request.Request(url, headers={"User-Agent": "spikerl"})
    with urllib.request.urlopen(request, timeout=timeout) as response, dest.open("wb") as out:
        shutil.copyfileobj(response, out)


def _check(path: Path, resource: IdxResource, verify: bool, source: str) -> bytes:
    """Parse the downloaded file and check its md5; return its bytes as stored."""
    file_bytes = path.read_bytes()
    content = decompress_if_gzip(file_bytes, source)
    parse_idx(content, source)
    if verify:
        verify_resource(source, file_bytes, content, resource)
    return file_bytes


def download_resource(
    resource: IdxResource,
    dest_dir: Path,
    mirrors: Sequence[str],
    timeout: float = DEFAULT_TIMEOUT,
    verify: bool = True,
) -> Path:
    """Download one resource, trying the mirrors in order.

    Args:
        resource: The file to fetch (``<mirror>/<name>.gz``).
        dest_dir: Folder to store it in (created if needed).
        mirrors: Base URLs (``https://``, ``http://`` or ``file://``).
        timeout: Seconds to wait for each connection or read.
        verify: Check the md5 before keeping the file.

    Returns:
        The stored file: ``<name>.gz``, or ``<name>`` if the mirror served it uncompressed.

    Raises:
        DownloadError: Every mirror failed; the message lists each URL and its error.
    """
    if not mirrors:
        raise DownloadError(f"no mirror configured for {resource.name}")
    created = not dest_dir.exists()
    dest_dir.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for mirror in mirrors:
        url = resource_url(mirror, resource)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{resource.name}.", suffix=".part", dir=dest_dir)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _fetch(url, tmp, timeout)
            file_bytes = _check(tmp, resource, verify, url)
            final = dest_dir / (resource.names[1] if is_gzip(file_bytes) else resource.names[0])
            os.replace(tmp, final)
            return final
        except (OSError, ValueError) as exc:
            errors.append(f"  {url}: {exc}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    if created:
        with contextlib.suppress(OSError):
            dest_dir.rmdir()  # leave no empty folder behind; fails harmlessly if not empty
    raise DownloadError(f"could not download {resource.name}:\n" + "\n".join(errors))
