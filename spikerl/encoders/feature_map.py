"""Feature-map encoding: observations -> features in [0, 1] -> Bernoulli spikes.

:class:`FeatureEncoder` composes a feature map (any object with ``n_features`` and
``__call__(obs [B, *obs_shape]) -> [B, F]`` in ``[0, 1]``: :class:`~spikerl.encoders.
GaussianFields`, :class:`~spikerl.encoders.PixelGrid`, the agent's one-hot code) with
Bernoulli coding. Each input neuron ``i`` spikes at every step independently with

    p_i = clip(max_prob * phi_i(obs), 0, 1)                        (per step, no unit)

so its expected count over a window of ``T`` steps is ``T p_i``. The feature map works on
NumPy arrays (it may be a compiled kernel over raw frames); the spikes are torch tensors
drawn from a ``torch.Generator`` as :func:`~spikerl.encoders.bernoulli_train` draws them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from spikerl.encoders.base import Encoder


class FeatureMapLike(Protocol):
    """``n_features`` and ``__call__(obs [B, *obs]) -> [B, F]`` in ``[0, 1]``."""

    n_features: int

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Features of a batch of observations."""
        raise NotImplementedError


class FeatureEncoder(Encoder):
    """Bernoulli spikes from a feature map's values.

    Args:
        feature_map: Observations -> features ``[B, F]`` in ``[0, 1]``.
        obs_shape: Per-sample observation shape.
        time_steps: Window length ``T`` in steps.
        max_prob: Spike probability per step of a feature at value 1 (clipped to ``[0, 1]``
            after scaling).
        dt: Step (ms; recorded, the probabilities do not depend on it).

    Raises:
        ValueError: ``max_prob`` negative or not finite.
    """

    def __init__(
        self,
        feature_map: FeatureMapLike,
        obs_shape: tuple[int, ...] | int,
        time_steps: int,
        max_prob: float = 1.0,
        dt: float = 1.0,
    ) -> None:
        super().__init__(obs_shape, time_steps, dt)
        if not np.isfinite(max_prob) or max_prob < 0:
            raise ValueError(f"max_prob must be a finite number >= 0, got {max_prob!r}")
        self.feature_map = feature_map
        self.max_prob = float(max_prob)
        self.n_features = int(feature_map.n_features)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.n_features,)

    def probabilities(self, obs: np.ndarray | Tensor) -> np.ndarray:
        """Per-step spike probabilities ``p [B, F]`` (float64) of observations ``[B, *obs]``."""
        x = obs.detach().cpu().numpy() if isinstance(obs, Tensor) else np.asarray(obs)
        phi = np.asarray(self.feature_map(x), dtype=np.float64)
        if phi.ndim != 2 or phi.shape[1] != self.n_features:
            raise ValueError(
                f"feature map returned shape {list(phi.shape)}, expected [B, {self.n_features}]"
            )
        if self.max_prob == 1.0:
            return np.clip(phi, 0.0, 1.0)
        return np.clip(phi * self.max_prob, 0.0, 1.0)

    @staticmethod
    def sample(p: np.ndarray, time_steps: int, generator: torch.Generator | None) -> Tensor:
        """Spikes ``[T, B, F]`` (float64) with probability ``p [B, F]`` per step: the
        uniforms ``u`` that :func:`~spikerl.encoders.bernoulli_train` draws, spike where
        ``u < p`` (its ``max(0, sign(p - u))``, compared in NumPy; the same spikes)."""
        pt = np.asarray(p, dtype=np.float64)
        u = torch.rand((time_steps, *pt.shape), generator=generator, dtype=torch.float64)
        return torch.from_numpy(np.less(u.numpy(), pt).astype(np.float64))

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.sample(self.probabilities(x), self.time_steps, generator)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, n_features={self.n_features}, max_prob={self.max_prob}"


__all__ = ["FeatureEncoder", "FeatureMapLike"]
