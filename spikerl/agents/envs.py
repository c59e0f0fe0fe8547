"""Environments for the agents: SB3 VecEnvs built from the ``envs/`` recipes.

The R-STDP agent reads raw observations through its own feature map (its encoder), so it
uses the recipe's environment (:func:`spikerl.envs.make.make_base_env`, the one builder that
``make_env`` and the SB3 policies use too) but not the recipe's spike encoder/decoder. Its
Atari presets choose ``atari.frames: native`` in their ``env_overrides`` (saved with every
run): the emulator skips frames itself (``frameskip=4``) and the agent sees full-resolution
grey frames (210x160), several times faster than AtariPreprocessing's resampling of every
frame. The ALE env is wrapped in :class:`~spikerl.envs.atari.ExactALEPickle`, so a resumed
run continues the same game.
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
    from spikerl.envs.make import make_base_env

    recipe = load_recipe(name)
    if overrides:
        recipe = recipe.with_overrides(**overrides)
    env = make_base_env(recipe, render_mode, exact_pickle=True)
    if isinstance(env.action_space, gym.spaces.Box):
        from spikerl.envs.actions import BinnedActions

        return BinnedActions(env, recipe.action_bins)
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
