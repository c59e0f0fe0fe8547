"""Locate the YAML preset folders shipped with spikerl (``envs/``, ``agents/``)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path


class PresetKind(StrEnum):
    """Kinds of YAML presets; each is a folder of ``<Name>.yaml`` files."""

    ENVS = "envs"
    AGENTS = "agents"


_PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # .../spikerl
_REPO_ROOT = _PACKAGE_ROOT.parent


def preset_dir(kind: PresetKind | str) -> Path:
    """Folder holding the presets of ``kind``.

    Looks in ``spikerl/_presets/<kind>`` inside the installed package first (the wheel
    ships them there), then in ``<repo root>/<kind>`` (editable install / source tree).

    Args:
        kind: ``"envs"`` or ``"agents"`` (or a :class:`PresetKind`).

    Raises:
        ValueError: for an unknown kind.
        FileNotFoundError: when neither folder exists.
    """
    try:
        k = PresetKind(kind)
    except ValueError:
        valid = ", ".join(repr(m.value) for m in PresetKind)
        raise ValueError(f"unknown preset kind {kind!r}; expected one of {valid}") from None
    candidates = (_PACKAGE_ROOT / "_presets" / k.value, _REPO_ROOT / k.value)
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(
        f"no {k.value} preset folder found; looked in {', '.join(str(p) for p in candidates)}"
    )


def preset_files(kind: PresetKind | str) -> dict[str, Path]:
    """Map of preset name (file stem) to YAML path for ``kind``, sorted by name."""
    folder = preset_dir(kind)
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    return {p.stem: p for p in sorted(files, key=lambda p: p.stem)}
