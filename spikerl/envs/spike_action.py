"""Gymnasium action wrappers that turn output spikes into environment actions."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import VectorActionWrapper, VectorEnv
from gymnasium.vector.utils import batch_space
from torch import Tensor

from spikerl.decoders.base import Decoder, DiscreteDecoder
from spikerl.decoders.continuous import PopulationActionDecoder
from spikerl.encoders.base import check_time_steps
from spikerl.envs.seeding import SeededGenerator

_DECODER_STREAM = 0xDEC0DE


def check_decoder(decoder: object, space: spaces.Space, who: str) -> Decoder:
    """Raise unless ``decoder`` can produce actions of ``space`` (Discrete or Box)."""
    if not isinstance(decoder, Decoder):
        raise TypeError(f"{who} needs a spikerl decoder, got {type(decoder).__name__}")
    if isinstance(space, spaces.Discrete):
        if not isinstance(decoder, DiscreteDecoder):
            raise TypeError(
                f"{who}: a Discrete action space needs a DiscreteDecoder, "
                f"got {type(decoder).__name__}"
            )
        if decoder.n_actions != int(space.n):
            raise ValueError(
                f"{who}: decoder has {decoder.n_actions} actions, the env {int(space.n)}"
            )
    elif isinstance(space, spaces.Box):
        if not isinstance(decoder, PopulationActionDecoder):
            raise TypeError(
                f"{who}: a Box action space needs a PopulationActionDecoder, "
                f"got {type(decoder).__name__}"
            )
        if decoder.action_shape != space.shape:
            raise ValueError(
                f"{who}: decoder action shape {decoder.action_shape} != env {space.shape}"
            )
    else:
        raise TypeError(
            f"{who} supports Discrete and Box action spaces, got {type(space).__name__} ({space})"
        )
    return decoder


def spike_action_space(time_steps: int, n_inputs: int) -> spaces.MultiBinary:
    """``MultiBinary((T, n))``: one raster of the output neurons per env step."""
    return spaces.MultiBinary((time_steps, n_inputs))


def _to_env_actions(decoded: Tensor, space: spaces.Space) -> np.ndarray:
    if isinstance(space, spaces.Discrete):
        return (decoded.cpu().numpy() + int(space.start)).astype(np.int64)
    assert isinstance(space, spaces.Box)
    return np.clip(decoded.cpu().numpy().astype(space.dtype), space.low, space.high)


def _spike_tensor(action: Any, time_steps: int, n: int, batched: bool, who: str) -> Tensor:
    t = action if isinstance(action, Tensor) else torch.as_tensor(np.asarray(action))
    lead = 1 if batched else 0
    raster = t.dim() == lead + 2 and tuple(t.shape[lead:]) == (time_steps, n)
    counts = t.dim() == lead + 1 and t.shape[-1] == n
    if not (raster or counts) or (batched and t.shape[0] < 1):
        b = "B, " if batched else ""
        raise ValueError(
            f"{who}: expected a spike raster [{b}{time_steps}, {n}] or counts [{b}{n}], "
            f"got shape {list(t.shape)}"
        )
    if t.dtype == torch.bool or not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    if not batched:
        t = t.unsqueeze(0)  # [1, T, n] or [1, n]
    return t.transpose(0, 1) if raster else t  # [T, B, n] or [B, n]


class SpikeAction(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """Decode the agent's output spikes into an environment action.

    The action space becomes ``MultiBinary((T, n))``, a raster of the ``n = decoder.n_inputs``
    output neurons over the T steps of one env step; counts of shape ``(n,)`` are also
    accepted. Wrong shapes raise ``ValueError``. Random draws (stochastic decoders, tie
    breaks) come from a generator reseeded by ``reset(seed=...)``.

    Args:
        env: An environment with a Discrete or Box action space.
        decoder: A decoder matching the action space.
        time_steps: T, the simulation steps per env step.
    """

    def __init__(self, env: gym.Env, decoder: Decoder, time_steps: int) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, decoder=decoder, time_steps=time_steps)
        gym.ActionWrapper.__init__(self, env)
        self.inner_action_space = env.action_space
        self.decoder = check_decoder(decoder, env.action_space, "SpikeAction")
        self.time_steps = check_time_steps(time_steps)
        self.action_space = spike_action_space(self.time_steps, decoder.n_inputs)
        self._rng = SeededGenerator(_DECODER_STREAM)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self._rng.reset(seed)
        return super().reset(seed=seed, options=options)

    def action(self, action: Any) -> Any:
        spikes = _spike_tensor(action, self.time_steps, self.decoder.n_inputs, False, "SpikeAction")
        with torch.no_grad():
            decoded = self.decoder(spikes, self._rng.generator)
        out = _to_env_actions(decoded, self.inner_action_space)[0]
        return int(out) if isinstance(self.inner_action_space, spaces.Discrete) else out


class VectorSpikeAction(VectorActionWrapper):
    """Vector-env version of :class:`SpikeAction`: actions ``(B, T, n)`` or counts ``(B, n)``.

    Args:
        env: A vector environment with a Discrete or Box single action space.
        decoder: A decoder matching the single action space.
        time_steps: T, the simulation steps per env step.
    """

    def __init__(self, env: VectorEnv, decoder: Decoder, time_steps: int) -> None:
        super().__init__(env)
        self.inner_action_space = env.single_action_space
        self.decoder = check_decoder(decoder, env.single_action_space, "VectorSpikeAction")
        self.time_steps = check_time_steps(time_steps)
        self.single_action_space = spike_action_space(self.time_steps, decoder.n_inputs)
        self.action_space = batch_space(self.single_action_space, env.num_envs)
        self._rng = SeededGenerator(_DECODER_STREAM)

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self._rng.reset(seed)
        return self.env.reset(seed=seed, options=options)  # type: ignore[arg-type]

    def actions(self, actions: Any) -> Any:
        spikes = _spike_tensor(
            actions, self.time_steps, self.decoder.n_inputs, True, "VectorSpikeAction"
        )
        batch = spikes.shape[1] if spikes.dim() == 3 else spikes.shape[0]
        if batch != self.num_envs:
            raise ValueError(
                f"VectorSpikeAction: got actions for {batch} envs, expected {self.num_envs}"
            )
        with torch.no_grad():
            decoded = self.decoder(spikes, self._rng.generator)
        return _to_env_actions(decoded, self.inner_action_space)
