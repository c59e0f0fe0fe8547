"""Make environments from short names or recipes: ``make_env("Breakout", seed=0)``."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium.vector import SyncVectorEnv, VectorEnv
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

from spikerl.envs.atari import ExactALEPickle, FireResetWrapper, StallGuard
from spikerl.envs.components import build_decoder, build_encoder
from spikerl.envs.presets import PresetKind, preset_files
from spikerl.envs.recipe import AtariFrames, EnvRecipe
from spikerl.envs.spike_action import SpikeAction, VectorSpikeAction
from spikerl.envs.spike_observation import SpikeObservation, VectorSpikeObservation


def list_presets() -> list[str]:
    """Short names of the environment presets (YAML files in ``envs/``), sorted."""
    return list(preset_files(PresetKind.ENVS))


def load_recipe(name_or_recipe: str | Path | EnvRecipe) -> EnvRecipe:
    """Resolve a short name (``"Breakout"``), a YAML path or a recipe to a recipe.

    Raises:
        ValueError: for an unknown name, listing the available ones.
    """
    if isinstance(name_or_recipe, EnvRecipe):
        return name_or_recipe
    if isinstance(name_or_recipe, Path) or str(name_or_recipe).endswith((".yaml", ".yml")):
        return EnvRecipe.from_yaml(name_or_recipe)
    if not isinstance(name_or_recipe, str):
        raise TypeError(
            f"expected a preset name, YAML path or EnvRecipe, got {type(name_or_recipe).__name__}"
        )
    files = preset_files(PresetKind.ENVS)
    if name_or_recipe in files:
        return EnvRecipe.from_yaml(files[name_or_recipe])
    recipe = gym_id_recipe(name_or_recipe)
    if recipe is None:
        raise ValueError(
            f"unknown environment {name_or_recipe!r}: neither a preset ({', '.join(files)}) "
            "nor a registered Gymnasium id (e.g. 'Acrobot-v1', 'ALE/Pong-v5')"
        )
    return recipe


#: Episode limit of a generic recipe whose Gymnasium id registers none (e.g.
#: ``CliffWalking-v1``, ``Blackjack-v1``): without it a policy that never reaches a terminal
#: state evaluates forever. The limit is in the recipe, hence in every run's saved config.
GENERIC_EPISODE_LIMIT = 1000


def gym_id_recipe(env_id: str) -> EnvRecipe | None:
    """A recipe for any registered Gymnasium id without a preset, or None if unregistered.

    A preset whose ``id`` is ``env_id`` wins (``"CartPole-v1"`` gives the CartPole preset).
    Otherwise the encoder and decoder are chosen from the spaces when the env is built
    (population coding; vote or binned actions), and ALE ids get the v5 protocol with
    AtariPreprocessing defaults (no FIRE wrappers: a game that needs FIRE to start should
    get a preset). An id registered without ``max_episode_steps`` gets
    :data:`GENERIC_EPISODE_LIMIT` (ALE games end by their own frame limit).
    """
    from spikerl.envs.recipe import (
        AtariSettings,
        DecoderKind,
        DecoderSpec,
        EncoderKind,
        EncoderSpec,
    )

    for path in preset_files(PresetKind.ENVS).values():
        recipe = EnvRecipe.from_yaml(path)
        if recipe.id == env_id:
            return recipe
    if env_id.startswith("ALE/"):
        _register_ale()
    if env_id not in gym.registry:
        return None
    atari = AtariSettings() if env_id.startswith("ALE/") else None
    make_kwargs: dict[str, Any] = (
        {"frameskip": 1, "repeat_action_probability": 0.25, "full_action_space": False}
        if atari is not None
        else {}
    )
    limit = None
    if atari is None and gym.spec(env_id).max_episode_steps is None:
        limit = GENERIC_EPISODE_LIMIT
    return EnvRecipe(
        name=env_id,
        id=env_id,
        encoder=EncoderSpec(EncoderKind.POISSON if atari else EncoderKind.POPULATION),
        decoder=DecoderSpec(DecoderKind.POPULATION_VOTE),
        make_kwargs=make_kwargs,
        atari=atari,
        max_episode_steps=limit,
        description=f"generic recipe for the Gymnasium id {env_id}"
        + (f" (episodes truncated at {limit} steps: the id registers no limit)" if limit else ""),
    )


def _register_ale() -> None:
    import ale_py

    gym.register_envs(ale_py)


def make_base_env(
    recipe: EnvRecipe, render_mode: str | None = None, *, exact_pickle: bool = False
) -> gym.Env:
    """The environment of ``recipe`` with its preprocessing, before spike encoding.

    Order for Atari: ``gym.make(id, **make_kwargs)`` (-> :class:`ExactALEPickle` when
    ``exact_pickle``) -> gymnasium's ``AtariPreprocessing`` (``atari.frames: gymnasium``; with
    ``native`` the emulator skips the frames and the full frame is kept) ->
    ``FireResetWrapper`` -> ``StallGuard`` -> ``FrameStackObservation`` (if stacking).

    Args:
        recipe: The environment recipe.
        render_mode: Passed to ``gym.make``.
        exact_pickle: Wrap the emulator in :class:`ExactALEPickle` (a pickled copy continues
            the same game: checkpoints that resume exactly).

    Raises:
        ValueError: Atari settings on a non-ALE id, or ``atari.frames: native`` with no-op
            starts or life-loss terminals
            (AtariPreprocessing features the native pipeline does not have).
    """
    if recipe.atari is not None and not recipe.id.startswith("ALE/"):
        raise ValueError(
            f"recipe {recipe.name}: atari settings apply to ALE ids only, got id {recipe.id!r}"
        )
    if recipe.is_atari:
        _register_ale()
    kwargs: dict[str, Any] = dict(recipe.make_kwargs)
    if recipe.max_episode_steps is not None:
        kwargs["max_episode_steps"] = recipe.max_episode_steps
    a = recipe.atari
    native = a is not None and a.frames is AtariFrames.NATIVE
    if a is not None and native:
        if a.noop_max or a.terminal_on_life_loss:
            raise ValueError(
                f"recipe {recipe.name}: atari.frames native has no no-op starts or life-loss "
                f"terminals (noop_max={a.noop_max}, terminal_on_life_loss="
                f"{a.terminal_on_life_loss}); use atari.frames gymnasium for them"
            )
        kwargs["frameskip"] = a.frame_skip
        kwargs["obs_type"] = "grayscale" if a.grayscale else "rgb"
    env = gym.make(recipe.id, render_mode=render_mode, **kwargs)
    if a is not None and exact_pickle:
        env = ExactALEPickle(env)
    if a is not None:
        if not native:
            env = AtariPreprocessing(
                env,
                noop_max=a.noop_max,
                frame_skip=a.frame_skip,
                screen_size=a.screen_size,
                terminal_on_life_loss=a.terminal_on_life_loss,
                grayscale_obs=a.grayscale,
            )
        if a.fire_on_reset or a.fire_on_life_loss:
            env = FireResetWrapper(env, on_reset=a.fire_on_reset, on_life_loss=a.fire_on_life_loss)
        if a.stall_fire_after is not None or a.stall_truncate_after is not None:
            env = StallGuard(env, a.stall_fire_after, a.stall_truncate_after)
        if a.frame_stack > 1:
            env = FrameStackObservation(env, a.frame_stack)
    return env


def make_env(
    name_or_recipe: str | Path | EnvRecipe,
    seed: int | None = None,
    render_mode: str | None = None,
    **overrides: Any,
) -> gym.Env:
    """A spiking environment: observations are spike trains, actions are output spikes.

    Args:
        name_or_recipe: Preset short name (see :func:`list_presets`), YAML path or recipe.
        seed: If given, the env (and the encoder/decoder generators) are seeded by one
            ``reset(seed=seed)`` and the spaces by ``space.seed(seed)``.
        render_mode: Passed to ``gym.make``.
        **overrides: Recipe overrides (see :meth:`EnvRecipe.with_overrides`).

    Returns:
        ``SpikeAction(SpikeObservation(base_env))``; ``env.observation_space`` is
        ``Box(.., (T, *encoder.output_shape))`` and ``env.action_space`` ``MultiBinary((T, n))``.
        The recipe is at ``env.get_wrapper_attr("recipe")``.
    """
    recipe = load_recipe(name_or_recipe).with_overrides(**overrides)
    base = make_base_env(recipe, render_mode)
    encoder = build_encoder(recipe.encoder, base.observation_space, recipe.time_steps, recipe.dt)
    decoder = build_decoder(recipe.decoder, base.action_space)
    env: gym.Env = SpikeAction(SpikeObservation(base, encoder), decoder, recipe.time_steps)
    env.recipe = recipe  # type: ignore[attr-defined]
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
        env.observation_space.seed(seed)
    return env


def make_vec_env(
    name_or_recipe: str | Path | EnvRecipe,
    n_envs: int,
    seed: int | None = None,
    **overrides: Any,
) -> VectorEnv:
    """``n_envs`` copies in a ``SyncVectorEnv``, spike-wrapped as a batch.

    Observations are ``(n_envs, T, *output_shape)``; actions ``(n_envs, T, n)`` or counts
    ``(n_envs, n)``. With ``seed``, sub-env i is reset with ``seed + i``.
    """
    if not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs must be an int >= 1, got {n_envs!r}")
    recipe = load_recipe(name_or_recipe).with_overrides(**overrides)
    vec = SyncVectorEnv([partial(make_base_env, recipe) for _ in range(n_envs)])
    encoder = build_encoder(
        recipe.encoder, vec.single_observation_space, recipe.time_steps, recipe.dt
    )
    decoder = build_decoder(recipe.decoder, vec.single_action_space)
    env = VectorSpikeAction(VectorSpikeObservation(vec, encoder), decoder, recipe.time_steps)
    if seed is not None:
        env.reset(seed=[seed + i for i in range(n_envs)])
        env.action_space.seed(seed)
    return env
