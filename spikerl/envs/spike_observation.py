"""Gymnasium observation wrappers that turn observations into spike trains."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv, VectorObservationWrapper
from gymnasium.vector.utils import batch_space
from torch import Tensor

from spikerl.encoders.base import Encoder, EncoderBase, StatefulEncoder
from spikerl.envs.seeding import SeededGenerator
from spikerl.envs.validation import observation_tensor, require_box

_ENCODER_STREAM = 0x5E1C0DE


def spike_space(encoder: EncoderBase) -> spaces.Box:
    """``Box(min, max, (T, *output_shape), float32)`` of one encoded observation."""
    lo, hi = encoder.value_range
    return spaces.Box(
        low=np.float32(lo),
        high=np.float32(hi),
        shape=(encoder.time_steps, *encoder.output_shape),
        dtype=np.float32,
    )


def _check_encoder(encoder: object, space: spaces.Box, who: str) -> EncoderBase:
    if not isinstance(encoder, EncoderBase):
        raise TypeError(f"{who} needs a spikerl encoder, got {type(encoder).__name__}")
    if tuple(encoder.input_shape) != tuple(space.shape):
        raise ValueError(
            f"{who}: encoder input_shape {encoder.input_shape} does not match the "
            f"observation space shape {space.shape}"
        )
    return encoder


class _Encoding:
    """The encoding step shared by the single and vector wrappers (state + generator)."""

    def __init__(self, encoder: EncoderBase) -> None:
        self.encoder = encoder
        self.rng = SeededGenerator(_ENCODER_STREAM)
        self.state: Any = None

    def encode(self, x: Tensor) -> Tensor:
        if isinstance(self.encoder, StatefulEncoder):
            spikes, self.state = self.encoder(x, self.state, self.rng.generator)
            return spikes
        assert isinstance(self.encoder, Encoder)
        return self.encoder(x, self.rng.generator)

    def episode_start(self, mask: np.ndarray) -> None:
        if self.state is not None and isinstance(self.encoder, StatefulEncoder) and mask.any():
            self.state = self.encoder.reset_state(
                self.state, torch.as_tensor(mask, dtype=torch.bool)
            )


class SpikeObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Encode each observation into a spike train ``(T, *encoder.output_shape)``.

    The observation space becomes ``Box(min, max, (T, *output_shape), float32)`` (``(0, 1)``
    for spike encoders). Observations are checked first: NaN/inf or values outside the
    wrapped Box's bounds (beyond ``bounds_tolerance``) raise ``ValueError``. Random draws
    come from a generator reseeded by ``reset(seed=...)``; stateful encoders (delta) start
    fresh on every reset.

    Args:
        env: A single environment with a Box observation space.
        encoder: Encoder whose ``input_shape`` equals the observation shape.
        bounds_tolerance: Relative tolerance on the observation bounds.
    """

    def __init__(self, env: gym.Env, encoder: EncoderBase, bounds_tolerance: float = 1e-4) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, encoder=encoder, bounds_tolerance=bounds_tolerance
        )
        gym.ObservationWrapper.__init__(self, env)
        self.inner_space = require_box(env.observation_space, "SpikeObservation")
        self._encoding = _Encoding(_check_encoder(encoder, self.inner_space, "SpikeObservation"))
        self.bounds_tolerance = bounds_tolerance
        self.observation_space = spike_space(encoder)

    @property
    def encoder(self) -> EncoderBase:
        """The encoder in use."""
        return self._encoding.encoder

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self._encoding.rng.reset(seed)
        self._encoding.state = None
        return super().reset(seed=seed, options=options)

    def observation(self, observation: Any) -> np.ndarray:
        x = observation_tensor(observation, self.inner_space, self.bounds_tolerance)
        with torch.no_grad():
            spikes = self._encoding.encode(x)
        return spikes[:, 0].cpu().numpy().astype(np.float32, copy=False)


class VectorSpikeObservation(VectorObservationWrapper):
    """Vector-env version of :class:`SpikeObservation`.

    Each sub-observation becomes ``(T, *output_shape)``; the batch is ``(B, T, ...)``
    (gymnasium is batch-first; transpose to time-first ``[T, B, ...]`` for the network).
    Stateful encoders are reset for sub-envs that autoreset (``NEXT_STEP`` mode) or that
    ``reset(options={"reset_mask": mask})`` resets (``DISABLED`` mode).

    Args:
        env: A vector environment with a Box single observation space.
        encoder: Encoder whose ``input_shape`` equals the single observation shape.
        bounds_tolerance: Relative tolerance on the observation bounds.
    """

    def __init__(
        self, env: VectorEnv, encoder: EncoderBase, bounds_tolerance: float = 1e-4
    ) -> None:
        super().__init__(env)
        self.inner_space = require_box(env.single_observation_space, "VectorSpikeObservation")
        self._encoding = _Encoding(
            _check_encoder(encoder, self.inner_space, "VectorSpikeObservation")
        )
        self.bounds_tolerance = bounds_tolerance
        self.single_observation_space = spike_space(encoder)
        self.observation_space = batch_space(self.single_observation_space, env.num_envs)
        self._pending = np.zeros(env.num_envs, dtype=bool)

    @property
    def encoder(self) -> EncoderBase:
        """The encoder in use."""
        return self._encoding.encoder

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self._encoding.rng.reset(seed)
        mask = None if options is None else options.get("reset_mask")
        if mask is None:
            self._encoding.state = None
        else:
            self._encoding.episode_start(np.asarray(mask, dtype=bool))
        self._pending[:] = False
        obs, infos = self.env.reset(seed=seed, options=options)  # type: ignore[arg-type]
        return self.observations(obs), infos

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        if (
            self.env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
            == AutoresetMode.NEXT_STEP
        ):
            self._encoding.episode_start(self._pending)
            self._pending = np.logical_or(terminations, truncations)
        return self.observations(obs), rewards, terminations, truncations, infos

    def observations(self, observations: Any) -> np.ndarray:
        x = observation_tensor(observations, self.inner_space, self.bounds_tolerance, batched=True)
        with torch.no_grad():
            spikes = self._encoding.encode(x)
        return spikes.transpose(0, 1).cpu().numpy().astype(np.float32, copy=False)
