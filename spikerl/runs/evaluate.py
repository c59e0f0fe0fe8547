"""Greedy evaluation of a trained model, and one greedy episode as an MP4."""

from __future__ import annotations

import contextlib
import pathlib
from typing import Any


def evaluate(
    model: Any,
    env_name: str,
    overrides: dict[str, Any],
    episodes: int,
    seed: int,
    video_path: pathlib.Path | None = None,
) -> dict[str, Any]:
    """Greedy evaluation: returns, their mean/std, the action distribution, and how often
    the spike vote tied (a seeded draw decided) with the readout that decided."""
    import numpy as np

    from spikerl.agents.envs import make_agent_vec_env
    from spikerl.agents.evaluation import greedy_episodes
    from spikerl.agents.persistence import check_spaces
    from spikerl.agents.sb3.algorithms import SafeSaveMixin
    from spikerl.agents.sb3.factory import sb3_vec_env

    make = sb3_vec_env if isinstance(model, SafeSaveMixin) else make_agent_vec_env
    env = make(env_name, 1, seed, overrides)
    check_spaces(f"evaluate on {env_name}", model.observation_space, model.action_space, env)
    res = greedy_episodes(model, env, episodes)
    env.close()
    if video_path is not None:
        with contextlib.suppress(Exception):
            record_video(model, env_name, overrides, seed, video_path)
    total = max(sum(res.action_counts), 1)
    config = getattr(model, "config", None)
    readout = getattr(getattr(config, "snn", None), "readout", None)
    if getattr(config, "network", None) is not None or "network" in getattr(
        model, "policy_kwargs", {}
    ):
        readout = "counts"  # a parts policy's decoder reads spike counts
    return {
        "env": env_name,
        "episodes": episodes,
        "mean_reward": res.mean,
        "std_reward": res.std,
        "returns": [round(x, 2) for x in res.returns],
        "action_distribution": [round(int(c) / total, 4) for c in res.action_counts],
        "readout": None if readout is None else str(readout),
        "tie_fraction": None if np.isnan(res.tie_fraction) else round(res.tie_fraction, 4),
        "decision_margin": None if np.isnan(res.margin) else round(res.margin, 3),
    }


def record_video(
    model: Any,
    env_name: str,
    overrides: dict[str, Any],
    seed: int,
    path: pathlib.Path,
    max_steps: int = 3000,
    frame_every: int = 2,
) -> pathlib.Path:
    """Write one greedy episode as an MP4 (or GIF, by the suffix of ``path``), every
    ``frame_every``-th frame at the env's ``render_fps / frame_every``."""
    from spikerl.agents.envs import make_agent_env_fn
    from spikerl.plotting.episode import record_episode, write_video

    env = make_agent_env_fn(env_name, overrides, render_mode="rgb_array")
    try:
        rec = record_episode(model, env, seed, max_steps=max_steps, frame_every=frame_every)
    finally:
        env.close()
    fps = max(1, int(env.metadata.get("render_fps") or 30) // frame_every)
    return write_video(rec.frames, path, fps=fps)


def _frame(env: Any) -> Any:
    """``env.render()``, or a simple drawing of CartPole when pygame is not installed."""
    import numpy as np
    from gymnasium.error import DependencyNotInstalled

    try:
        return np.asarray(env.render())
    except DependencyNotInstalled:
        state = getattr(env.unwrapped, "state", None)
        if state is None or len(state) != 4:
            raise
        x, _, theta, _ = (float(v) for v in state)
        img = np.full((100, 200, 3), 255, dtype=np.uint8)
        img[78:80, :] = 0
        cx = int(np.clip(100 + x / 2.4 * 90, 10, 189))
        img[70:78, cx - 10 : cx + 10] = (40, 40, 40)
        for k in range(45):
            px = round(cx + k * np.sin(theta))
            py = round(70 - k * np.cos(theta))
            if 0 <= px < 200 and 0 <= py < 100:
                img[py, max(px - 1, 0) : px + 2] = (200, 110, 50)
        return img
