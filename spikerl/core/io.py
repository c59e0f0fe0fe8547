"""Safe persistence: atomic writes (temporary file then rename) and weights-only loads."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

#: Permissions of written files: what a plain ``open(path, "w")`` gives under umask 022
#: (``mkstemp`` would otherwise leave 0600).
_FILE_MODE = 0o644


def atomic_write(write: Callable[[str], None], path: str | Path, suffix: str = ".tmp") -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, flush it to disk, then rename
    it over ``path``: ``path`` is always either the old or the new file, never partial.

    Args:
        write: Writes the content to the file name it is given.
        path: Final file (its folder is created).
        suffix: Ending of the temporary name (e.g. ``".tmp.zip"`` for writers that append
            an extension otherwise).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(data: bytes, path: str | Path) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""

    def write(tmp: str) -> None:
        Path(tmp).write_bytes(data)

    atomic_write(write, path)


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``."""
    atomic_write(lambda tmp: torch.save(obj, tmp), path)


def safe_torch_load(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(weights_only=True)`` with a clear error for missing or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupt archive, foreign pickle, truncated file
        raise ValueError(f"{path}: not a readable spikerl checkpoint ({exc})") from exc
