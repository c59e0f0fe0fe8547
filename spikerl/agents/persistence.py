"""Checkpoint files: atomic writes and clear errors for corrupt or foreign archives."""

from __future__ import annotations

import json
import os
import pathlib
import zipfile
from collections.abc import Callable
from typing import Any


class CheckpointError(ValueError):
    """A file is not a readable R-STDP checkpoint."""


def zip_path(path: str | os.PathLike[str]) -> pathlib.Path:
    """The path SB3 writes for ``path`` (``.zip`` appended when there is no suffix)."""
    p = pathlib.Path(path)
    return p if p.suffix else p.with_suffix(".zip")


def atomic_save(write: Callable[[Any], None], path: Any) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    An interrupted write leaves the previous file intact. File-like targets are written
    directly.
    """
    if not isinstance(path, str | os.PathLike):
        write(path)
        return
    from spikerl.core.io import atomic_write

    atomic_write(write, zip_path(path), suffix=".tmp.zip")


def check_checkpoint(path: Any) -> None:
    """Raise :class:`CheckpointError` unless ``path`` is an R-STDP SB3 zip.

    Raises:
        FileNotFoundError: The file does not exist.
        CheckpointError: Corrupt or truncated archive, or another algorithm's checkpoint.
    """
    if not isinstance(path, str | os.PathLike):
        return
    p = zip_path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint not found: {p}")
    try:
        with zipfile.ZipFile(p) as zf:
            names = set(zf.namelist())
            if "data" not in names or "policy.pth" not in names:
                raise CheckpointError(
                    f"{p}: not an SB3 checkpoint of RSTDP (entries: {sorted(names)})"
                )
            bad = zf.testzip()
            if bad is not None:
                raise CheckpointError(f"{p}: corrupted checkpoint (bad entry {bad!r})")
            data = json.loads(zf.read("data").decode())
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"{p}: corrupted or truncated checkpoint ({exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{p}: corrupted checkpoint metadata ({exc})") from exc
    if "config_dict" not in data:
        cls = data.get("policy_class", {})
        name = cls.get("__module__", "?") if isinstance(cls, dict) else "?"
        raise CheckpointError(
            f"{p}: a foreign checkpoint (policy from {name}), not an spikerl RSTDP model"
        )
