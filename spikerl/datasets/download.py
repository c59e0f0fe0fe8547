"""Download dataset files from a list of mirrors with :mod:`pooch`, checked before kept.

Each file is fetched by ``pooch.retrieve``: into a temporary file beside its destination,
its md5 compared with the known md5 of the distributed ``.gz`` archive, and only then moved
into place (a mismatch deletes it). The file is then decompressed and parsed as IDX (and,
for datasets that publish only content md5s, checked by :func:`verify_resource`); a file
that fails is deleted, so an interrupted or corrupt download never leaves a file that looks
valid. ``file://`` mirrors (local copies, offline machines) are copied by
:func:`copy_file_url`, pooch's downloader interface for them.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spikerl.datasets.checksums import verify_resource
from spikerl.datasets.errors import DownloadError
from spikerl.datasets.idx import decompress_if_gzip, parse_idx
from spikerl.datasets.layouts import IdxResource

__all__ = ["DEFAULT_TIMEOUT", "copy_file_url", "download_resource", "resource_url"]

DEFAULT_TIMEOUT = 10.0
"""Seconds to wait for a connection or data before trying the next mirror."""


def resource_url(mirror: str, resource: IdxResource) -> str:
    """Return the URL of a resource's ``.gz`` file on a mirror (``<mirror>/<name>.gz``)."""
    return f"{mirror.rstrip('/')}/{resource.name}.gz"


def copy_file_url(url: str, output_file: str, pooch: Any = None) -> None:
    """A pooch downloader for ``file://`` URLs: copy the local file to ``output_file``."""
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    shutil.copyfile(Path(url2pathname(urlparse(url).path)), output_file)


def _fetch(url: str, resource: IdxResource, dest_dir: Path, timeout: float, verify: bool) -> Path:
    """``pooch.retrieve`` one URL into ``dest_dir`` (md5 of the archive checked)."""
    import pooch

    pooch.get_logger().setLevel("WARNING")
    known = f"md5:{resource.gz_md5}" if verify and resource.gz_md5 else None
    downloader: Any = (
        copy_file_url
        if url.startswith("file:")
        else pooch.HTTPDownloader(timeout=timeout, progressbar=False)
    )
    return Path(
        pooch.retrieve(
            url, known_hash=known, fname=resource.names[1], path=dest_dir, downloader=downloader
        )
    )


def _check(path: Path, resource: IdxResource, verify: bool, source: str) -> None:
    """Parse the downloaded file as IDX; check the content md5 when only that is known."""
    file_bytes = path.read_bytes()
    content = decompress_if_gzip(file_bytes, source)
    parse_idx(content, source)
    if verify and resource.gz_md5 is None:
        verify_resource(source, file_bytes, content, resource)


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
        The stored file, ``<dest_dir>/<name>.gz``.

    Raises:
        DownloadError: Every mirror failed; the message lists each URL and its error.
    """
    if not mirrors:
        raise DownloadError(f"no mirror configured for {resource.name}")
    created = not dest_dir.exists()
    errors: list[str] = []
    for mirror in mirrors:
        url = resource_url(mirror, resource)
        path: Path | None = None
        try:
            path = _fetch(url, resource, dest_dir, timeout, verify)
            _check(path, resource, verify, url)
            return path
        except (OSError, ValueError) as exc:  # requests' errors are OSErrors
            errors.append(f"  {url}: {' '.join(str(exc).split())}")
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
    if created:
        with contextlib.suppress(OSError):
            dest_dir.rmdir()  # leave no empty folder behind; fails harmlessly if not empty
    raise DownloadError(f"could not download {resource.name}:\n" + "\n".join(errors))
