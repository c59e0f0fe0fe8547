"""``spikerl enjoy RUN``: watch a trained agent, live or as an MP4 (rl-zoo's ``enjoy`` and
``record_video``), and the run-folder lookup that ``spikerl eval`` shares.

A run folder's model is ``best_model.zip``, else ``final.zip``, else
``checkpoints/last.zip``; its environment and overrides come from ``config.yaml``. A bare
zip names its environment itself (``env_name`` in the zip) or needs ``--env``.
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass
from typing import Any

from spikerl.runs.errors import RunInputError

#: The model zips of a run folder, in order of preference.
RUN_MODELS = ("best_model.zip", "final.zip", "checkpoints/last.zip")


@dataclass(frozen=True)
class RunTarget:
    """A model to play and the environment it was trained on.

    Attributes:
        model: The loaded model (``RSTDP``, ``PPO``, ...).
        zip_path: The zip it was loaded from.
        env_name: Short name or Gymnasium id.
        overrides: The run's ``env_overrides``.
    """

    model: Any
    zip_path: pathlib.Path
    env_name: str
    overrides: dict[str, Any]


def load_target(target: pathlib.Path, env: str | None = None) -> RunTarget:
    """Load the model of a run folder or a bare zip, with its environment.

    Raises:
        RunInputError: Not a run folder or zip, no model zip, no environment name, an
            unknown environment, or malformed ``env_overrides``.
        CheckpointError: The zip is unsafe or malformed.
    """
    from spikerl.agents.envs import env_names, is_known_env
    from spikerl.agents.sb3.factory import model_class_of
    from spikerl.agents.validation import read_yaml_mapping

    overrides: dict[str, Any] = {}
    env_name = env
    path = pathlib.Path(target)
    if path.is_dir():
        cfg_path = path / "config.yaml"
        if not cfg_path.is_file():
            raise RunInputError(f"{path}: not a run folder (no config.yaml)")
        cfg = read_yaml_mapping(cfg_path, "run config")
        if not isinstance(cfg.get("env"), str) and env_name is None:
            raise RunInputError(f"{cfg_path}: no 'env' name in the run config; pass --env NAME")
        env_name = env_name or cfg["env"]
        overrides = cfg.get("env_overrides") or {}
        if not isinstance(overrides, dict):
            raise RunInputError(f"{cfg_path}: env_overrides must be a mapping, got {overrides!r}")
        for name in RUN_MODELS:
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise RunInputError(f"{target}: no model zip in the run folder")
    elif not path.is_file():
        raise RunInputError(f"{path}: no such run folder or model zip")
    model = model_class_of(path).load(path)
    env_name = env_name or getattr(model, "env_name", None)
    if not isinstance(env_name, str):
        raise RunInputError(f"{path}: the zip names no environment; pass --env NAME")
    if not is_known_env(env_name):
        raise RunInputError(
            f"unknown environment {env_name!r}; options: a preset ({', '.join(env_names())}) "
            "or a registered Gymnasium id such as Acrobot-v1 or ALE/Pong-v5"
        )
    if not overrides:
        overrides = getattr(model, "env_overrides", None) or {}
        if not isinstance(overrides, dict):
            raise RunInputError(f"{path}: env_overrides in the zip is not a mapping")
    return RunTarget(model, path, env_name, dict(overrides))


def has_display() -> bool:
    """Whether a window can be opened (X11 or Wayland display set)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def enjoy(
    target: RunTarget,
    *,
    episodes: int = 1,
    seed: int = 0,
    video: pathlib.Path | None = None,
    figure: pathlib.Path | None = None,
    max_steps: int = 10_000,
) -> dict[str, Any]:
    """Play ``episodes`` greedy episodes: in a window, or into ``video`` (MP4/GIF).

    Episode ``k`` resets with seed ``seed + k``. With ``figure``, the first episode's
    spike raster and membrane potentials (:func:`spikerl.plotting.episode.episode_figure`)
    are saved as a PNG (spiking RSTDP policies).

    Returns:
        ``{"returns": [...], "lengths": [...], "video": path or None, "figure": ...}``.

    Raises:
        RunInputError: No ``video`` and no display to show a window on, or rendering
            needs a package that is not installed.
    """
    from gymnasium.error import DependencyNotInstalled

    from spikerl.agents.envs import make_agent_env_fn
    from spikerl.plotting.episode import EpisodeRecord, episode_figure, record_episode, write_video

    if episodes < 1:
        raise RunInputError(f"enjoy --episodes: {episodes} is outside the allowed range >= 1")
    live = video is None
    if live and not has_display():
        raise RunInputError("no display to show the agent on; write a file with --video out.mp4")
    mode = "human" if live else "rgb_array"
    try:
        env = make_agent_env_fn(target.env_name, target.overrides, render_mode=mode)
    except DependencyNotInstalled as exc:
        raise RunInputError(f"cannot render {target.env_name} live: {exc}") from None
    records: list[EpisodeRecord] = []
    fps = int(env.metadata.get("render_fps") or 30)
    try:
        for k in range(episodes):
            try:
                rec = record_episode(
                    target.model, env, seed + k, max_steps=max_steps, render=not live
                )
            except DependencyNotInstalled as exc:
                raise RunInputError(f"cannot render {target.env_name}: {exc}") from None
            records.append(rec)
    finally:
        env.close()
    out: dict[str, Any] = {
        "model": str(target.zip_path),
        "env": target.env_name,
        "returns": [r.episode_return for r in records],
        "lengths": [r.length for r in records],
        "video": None,
        "figure": None,
    }
    if video is not None:
        frames = [f for r in records for f in r.frames]
        out["video"] = str(write_video(frames, video, fps=fps))
    if figure is not None and records[0].spikes is not None:
        from spikerl.plotting.export import save_figure

        out["figure"] = str(save_figure(episode_figure(records[0]), figure))
    return out
