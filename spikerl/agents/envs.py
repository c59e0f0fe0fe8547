"""Environments for the agents: SB3 VecEnvs built from the ``envs/`` recipes.

The R-STDP agent reads raw observations through its own feature map (its encoder), so it
uses the recipe's environment id, make arguments and Atari settings but not the recipe's
spike encoder/decoder. For Atari the agent path keeps the recipe's v5 protocol (sticky
actions 0.25, minimal action set, 108000-frame cap, FIRE on reset and life loss, stall
guard) but lets ALE skip frames natively (``frameskip=4``) and returns full-resolution
grey frames (210x160) without resizing: the ball/paddle features need no downsampling,
and this is several times faster than resampling every frame. The ALE env is wrapped in
:class:`~spikerl.envs.atari.ExactALEPickle`, so a resumed run continues the same game.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv


def env_names() -> list[str]:
    """Environment short names with a recipe (``envs/*.yaml``)."""
    from spikerl.envs import list_presets

    return list_presets()


def canonical_env_name(name: str) -> str:
    """The preset short name for a Gymnasium id that has a preset (``"CartPole-v1"`` ->
    ``"CartPole"``), so that its agent preset applies; other names are returned as given."""
    from spikerl.envs import load_recipe

    if name in env_names():
        return name
    try:
        recipe = load_recipe(name)
    except ValueError:
        return name
    return recipe.name if recipe.name in env_names() else name


def is_known_env(name: str) -> bool:
    """A preset short name or a registered Gymnasium id (``ALE/...`` ids included)."""
    from spikerl.envs.make import gym_id_recipe

    return name in env_names() or gym_id_recipe(name) is not None


def make_agent_env_fn(
    name: str, overrides: dict[str, Any] | None = None, render_mode: str | None = None
) -> gym.Env:
    """One environment for a short name (see :func:`env_names`) or a Gymnasium id.

    A ``Box`` action space is offered as ``Discrete`` bins (:class:`~spikerl.envs.BinnedActions`,
    ``recipe.action_bins`` per dimension) for the agents' vote decoders.

    Raises:
        ValueError: unknown name (the message lists the options).
    """
    from spikerl.envs import load_recipe

    recipe = load_recipe(name)
    if overrides:
        recipe = recipe.with_overrides(**overrides)
    kwargs: dict[str, Any] = dict(recipe.make_kwargs)
    if recipe.max_episode_steps is not None:
        kwargs["max_episode_steps"] = recipe.max_episode_steps
    a = recipe.atari
    if a is None:
        env0 = gym.make(recipe.id, render_mode=render_mode, **kwargs)
        if isinstance(env0.action_space, gym.spaces.Box):
            from spikerl.envs.actions import BinnedActions

            return BinnedActions(env0, recipe.action_bins)
        return env0
    import ale_py

    from spikerl.envs.atari import ExactALEPickle, FireResetWrapper, StallGuard

    gym.register_envs(ale_py)
    kwargs["frameskip"] = a.frame_skip
    kwargs["obs_type"] = "grayscale" if a.grayscale else "rgb"
    env: gym.Env = ExactALEPickle(gym.make(recipe.id, render_mode=render_mode, **kwargs))
    if a.fire_on_reset or a.fire_on_life_loss:
        env = FireResetWrapper(env, on_reset=a.fire_on_reset, on_life_loss=a.fire_on_life_loss)
    if a.stall_fire_after is not None or a.stall_truncate_after is not None:
        env = StallGuard(env, a.stall_fire_after, a.stall_truncate_after)
    if a.frame_stack > 1:
        env = gym.wrappers.FrameStackObservation(env, a.frame_stack)
    return env


def make_agent_vec_env(
    name: str,
    n_envs: int = 1,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
    monitor_dir: str | None = None,
    render_mode: str | None = None,
) -> VecEnv:
    """``n_envs`` Monitor-wrapped copies in an SB3 ``DummyVecEnv``."""
    make_agent_env_fn(name, overrides).close()  # fail early (unknown name, bad override)
    return make_vec_env(
        lambda: make_agent_env_fn(name, overrides, render_mode),
        n_envs=n_envs,
        seed=seed,
        monitor_dir=monitor_dir,
        vec_env_cls=DummyVecEnv,
    )
