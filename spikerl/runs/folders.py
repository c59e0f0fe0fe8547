"""Run folders: ``<runs_dir>/<env>__<agent>__<seed>__<time>/`` with the resolved config."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from spikerl.core.io import atomic_write


def run_dir_name(cfg: Any, stamp: str) -> str:
    """``<env>__<agent>__<seed>__<stamp>`` of a :class:`~spikerl.agents.presets.TrainConfig`."""
    env = str(cfg.env).replace("/", "-")  # Gymnasium ids such as ALE/Pong-v5
    return f"{env}__{cfg.agent}__{cfg.seed}__{stamp}"


def write_config(cfg: Any, run_dir: Path) -> None:
    """Write ``config.yaml`` (the resolved config, key order kept) into ``run_dir``."""
    from spikerl.agents.presets import to_dict

    text = yaml.safe_dump(to_dict(cfg), sort_keys=False)

    def write(tmp: str) -> None:
        Path(tmp).write_text(text)

    atomic_write(write, run_dir / "config.yaml")


def create_run_dir(runs_dir: Path, cfg: Any, stamp: str | None = None) -> Path:
    """Create a fresh run folder under ``runs_dir`` and write its ``config.yaml``.

    Args:
        runs_dir: Parent folder (created).
        cfg: The resolved :class:`~spikerl.agents.presets.TrainConfig`.
        stamp: Time stamp of the name (default: now, ``%Y%m%d-%H%M%S``); a ``-2``, ``-3``...
            suffix keeps names unique.

    Returns:
        The new folder.
    """
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    runs_dir.mkdir(parents=True, exist_ok=True)
    base = run_dir_name(cfg, stamp)
    n = 1
    while True:
        run_dir = runs_dir / (base if n == 1 else f"{base}-{n}")
        try:
            run_dir.mkdir()  # atomic: two processes never get the same folder
        except FileExistsError:
            n += 1
            continue
        write_config(cfg, run_dir)
        return run_dir
