"""Where dataset files are looked for, in order.

1. the explicit ``root`` argument,
2. the ``SPIKERL_DATA`` environment variable,
3. the user cache folder ``$XDG_CACHE_HOME/spikerl/<dataset>`` (default
   ``~/.cache/spikerl/<dataset>``).

A root (1 or 2) may hold the files directly (``<root>/train-images-idx3-ubyte.gz``) or in a
dataset sub-folder (``<root>/mnist/...``). Each file may be raw or gzip-compressed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import NamedTuple

from spikerl.datasets.errors import DatasetNotFoundError
from spikerl.datasets.layouts import IdxLayout, IdxResource

__all__ = [
    "ENV_VAR",
    "SearchDir",
    "cache_dir",
    "download_dir",
    "find_resource",
    "missing_files_error",
    "search_dirs",
]

ENV_VAR = "SPIKERL_DATA"
"""Environment variable naming a data root."""


class SearchDir(NamedTuple):
    """A folder searched for dataset files and where it came from."""

    path: Path
    origin: str


def cache_dir(dataset: str) -> Path:
    """Return the user cache folder of a dataset.

    Args:
        dataset: Dataset short name (``mnist``).

    Returns:
        ``$XDG_CACHE_HOME/spikerl/<dataset>`` if ``XDG_CACHE_HOME`` is set (and absolute),
        else ``~/.cache/spikerl/<dataset>``.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "spikerl" / dataset


def _roots(root: str | PathLike[str] | None) -> list[tuple[Path, str]]:
    """Return the data roots given by argument and environment, in search order."""
    roots: list[tuple[Path, str]] = []
    if root is not None:
        roots.append((Path(root).expanduser(), "root argument"))
    env = os.environ.get(ENV_VAR, "")
    if env:
        roots.append((Path(env).expanduser(), f"${ENV_VAR}"))
    return roots


def search_dirs(layout: IdxLayout, root: str | PathLike[str] | None = None) -> list[SearchDir]:
    """Return the folders searched for a dataset, in order, without duplicates.

    Args:
        layout: The dataset layout (gives the sub-folder and cache names).
        root: Explicit data root, searched first.

    Returns:
        ``<root>``, ``<root>/<subdir>`` for each root, then the cache folder.
    """
    dirs: list[SearchDir] = []
    for base, origin in _roots(root):
        dirs.append(SearchDir(base, origin))
        dirs.extend(SearchDir(base / sub, origin) for sub in layout.subdirs)
    dirs.append(SearchDir(cache_dir(layout.name), "user cache"))
    seen: set[Path] = set()
    unique: list[SearchDir] = []
    for d in dirs:
        if d.path not in seen:
            seen.add(d.path)
            unique.append(d)
    return unique


def download_dir(layout: IdxLayout, root: str | PathLike[str] | None = None) -> Path:
    """Return where downloads go: ``<root>/<subdir>`` of the first root, else the cache.

    Args:
        layout: The dataset layout.
        root: Explicit data root.

    Returns:
        The folder (not created).
    """
    roots = _roots(root)
    if roots:
        return roots[0][0] / layout.subdirs[0]
    return cache_dir(layout.name)


def find_resource(resource: IdxResource, dirs: Sequence[SearchDir]) -> Path | None:
    """Return the first file of a resource (raw, then ``.gz``) in the folders, or None.

    Args:
        resource: The file to find.
        dirs: Folders in search order.

    Returns:
        The path found, or None.
    """
    for d in dirs:
        for name in resource.names:
            candidate = d.path / name
            if candidate.is_file():
                return candidate
    return None


def missing_files_error(
    layout: IdxLayout,
    missing: Sequence[IdxResource],
    dirs: Sequence[SearchDir],
    root: str | PathLike[str] | None = None,
    extra: str = "",
) -> DatasetNotFoundError:
    """Build the error for files found in no folder.

    Args:
        layout: The dataset layout.
        missing: Resources not found.
        dirs: Folders searched, in order.
        root: Explicit root argument, used to suggest where to put the files.
        extra: More explanation appended to the message (e.g. download failures).

    Returns:
        The error, naming the files, every folder searched and where to put them.
    """
    names = ", ".join(f"{r.name}(.gz)" for r in missing)
    searched = "\n".join(f"  {d.path}  [{d.origin}]" for d in dirs)
    target = download_dir(layout, root)
    msg = (
        f"{layout.title} files not found: {names}.\n"
        f"Folders searched, in order:\n{searched}\n"
        f"Put the files (gzip or raw) in {target}, or in a folder named by the root argument "
        f"or the {ENV_VAR} environment variable (directly or in a '{layout.subdirs[0]}' "
        "sub-folder)"
    )
    msg += "." if extra else ", or pass download=True to fetch them."
    if extra:
        msg += "\n" + extra
    return DatasetNotFoundError(msg)
