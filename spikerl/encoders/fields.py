"""Gaussian receptive fields with conjunctive pairs: a flat ``Box`` observation -> features.

:class:`GaussianFields` is the R-STDP agent's population code for vector observations (the
CartPole, Acrobot, MountainCar and Pendulum presets): per dimension ``d`` a row of Gaussian
fields over the declared (or the space's) range, plus, for every pair of dimensions, the
products of their fields on a coarser grid (conjunctive features), plus a bias. Its output
is one value in ``[0, 1]`` per feature, read by the agent's input population as a
per-step spike probability (times ``input_rate``), and by the critic as its features.

The field itself, ``exp(-(x - c)^2 / (2 s^2))``, is :func:`spikerl.encoders.population.
gaussian_fields`, the same function that :class:`~spikerl.encoders.GaussianPopulationEncoder`
(the parts policy's encoder) uses; NumPy arrays are evaluated in NumPy (float64), tensors
in torch. The two encoders are two parameterisations of one concept and differ, on purpose
(each is bit-for-bit what its users' saved models and reported runs were trained with), in:

* coordinates: here ``u = clip((x - low) / (high - low), 0, 1)`` and centres
  ``linspace(0, 1, n)``, width ``width / (n - 1)`` in ``u``; the population encoder works in
  ``x`` (centres ``low + j (high - low) / (n - 1)``, width ``width (high - low) / (n - 1)``):
  the same function of ``x`` inside the range, rounded differently (about 1e-16 relative);
* out of range: here ``u`` is clipped, so the edge fields stay at 1 beyond the range; the
  population encoder does not clip (the edge fields fall off);
* unbounded dimensions: here squashed, ``x / (1 + |x|)`` in ``(-1, 1)`` (stateless); there
  standardised by running statistics (a :class:`~spikerl.encoders.RunningNormalizer`,
  updated in training mode) over +-3 standard deviations;
* conjunctive pair fields and a bias feature: here only;
* output: here probabilities ``[B, F]`` in float64 NumPy (the agent samples the spikes in
  its compiled window); there spike trains ``[T, B, D, n]`` in torch's dtype, with
  ``p = a max_rate dt / 1000``;
* defaults: width 0.6 of the spacing and 7 fields (5 per pair dimension) here; width 1.0
  and an explicit ``neurons_per_dim >= 2`` there (here ``n = 1`` is allowed).

Inside the range, without pairs and bias, the two give the same activations (a test holds
them to 1e-12).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikerl.encoders.population import gaussian_fields

__all__ = ["GaussianFields", "GaussianFieldsConfig", "resolve_bounds"]


@dataclass(frozen=True)
class GaussianFieldsConfig:
    """Gaussian receptive fields per state dimension, with optional conjunctive pairs.

    Attributes:
        low: Lower end of each state dimension's range (values are clipped to it); None
            takes the observation space's bounds (see :func:`resolve_bounds`).
        high: Upper end of each dimension's range (None: the space's bounds).
        n_centres: Receptive fields per dimension, evenly spaced over ``[low, high]``.
        width: Field standard deviation as a fraction of the centre spacing.
        pair_centres: Fields per dimension in the 2-D conjunctive grids (0: no pairs).
        bias: Append one always-on feature.
    """

    low: Sequence[float] | None = None
    high: Sequence[float] | None = None
    n_centres: int = 7
    width: float = 0.6
    pair_centres: int = 5
    bias: bool = True


@dataclass
class GaussianFields:
    """Population coding: ``phi_k(x) = exp(-(u_d - c_k)^2 / (2 s^2))`` per dimension ``d``,
    with ``u_d = clip((x_d - low_d) / (high_d - low_d), 0, 1)``, centres
    ``c_k = k / (n - 1)`` and ``s = width / (n - 1)`` (``n = n_centres``; dimensionless).

    Conjunctive features are products of two dimensions' fields on a coarser grid
    (``pair_centres`` per dimension, for every pair of dimensions ``i < j``):
    ``phi_ijkl = g_ik g_jl``. Dimensions whose range is unbounded (``squash``) are first
    mapped to ``x / (1 + |x|)`` in ``(-1, 1)``. Features, in this order: the per-dimension
    fields ``[D, n]`` row-major, the pair fields ``[pairs, m, m]``, then a bias of 1.

    Satisfies the agent's feature-map protocol (``n_features``; ``__call__(obs [B, D]) ->
    [B, F]`` in ``[0, 1]``); the module docstring says how it differs from
    :class:`~spikerl.encoders.GaussianPopulationEncoder`.
    """

    config: GaussianFieldsConfig = field(default_factory=GaussianFieldsConfig)
    space: Any = None

    def __post_init__(self) -> None:
        c = self.config
        low, high, squash = resolve_bounds(c.low, c.high, self.space)
        self.low, self.high, self.squash = low, high, squash
        if self.low.shape != self.high.shape or bool((self.high <= self.low).any()):
            raise ValueError("GaussianFields: low and high must match in length and low < high")
        self.n_dims = int(self.low.size)
        pairs = list(itertools.combinations(range(self.n_dims), 2)) if c.pair_centres else []
        self._pi = np.array([i for i, _ in pairs], dtype=np.int64)
        self._pj = np.array([j for _, j in pairs], dtype=np.int64)
        self.n_features = self.n_dims * c.n_centres + len(pairs) * c.pair_centres**2 + int(c.bias)
        self._c1 = np.linspace(0.0, 1.0, c.n_centres)
        self._s1 = c.width / max(c.n_centres - 1, 1)
        n2 = max(c.pair_centres, 1)
        self._c2 = np.linspace(0.0, 1.0, n2)
        self._s2 = c.width / max(n2 - 1, 1)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Map ``[B, D]`` observations to ``[B, F]`` features."""
        x = np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)
        if x.shape[1] != self.n_dims:
            raise ValueError(
                f"GaussianFields: expected observations of {self.n_dims} values, got shape "
                f"{list(np.shape(obs))}"
            )
        if self.squash.any():
            x = np.where(self.squash, x / (1.0 + np.abs(x)), x)
        b = x.shape[0]
        u = np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)
        parts = [gaussian_fields(u, self._c1, self._s1).reshape(b, -1)]
        if self._pi.size:
            g = gaussian_fields(u, self._c2, self._s2)  # [B, D, n]
            parts.append((g[:, self._pi, :, None] * g[:, self._pj, None, :]).reshape(b, -1))
        if self.config.bias:
            parts.append(np.ones((b, 1)))
        return np.concatenate(parts, axis=1)


def resolve_bounds(
    low: Sequence[float] | None, high: Sequence[float] | None, space: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-dimension ranges ``(low, high, squash)`` of a flat ``Box`` observation.

    Declared ``low``/``high`` win. Otherwise the space's bounds are used where finite; an
    unbounded dimension is ``squash``-ed: ``x / (1 + |x|)`` maps it into ``(-1, 1)``, which
    becomes its range. Only the space's shape and bounds are read.

    Raises:
        ValueError: if neither declared ranges nor a flat ``Box`` space are given.
    """
    from gymnasium import spaces

    if low is not None and high is not None:
        lo = np.asarray(low, dtype=np.float64)
        hi = np.asarray(high, dtype=np.float64)
        return lo, hi, np.zeros(lo.shape, dtype=bool)
    if not isinstance(space, spaces.Box) or len(space.shape) != 1:
        raise ValueError(
            "GaussianFields: declare features.low and features.high, or give a flat Box "
            f"observation space to take them from (got {space!r})"
        )
    lo = np.array(space.low if low is None else low, dtype=np.float64)
    hi = np.array(space.high if high is None else high, dtype=np.float64)
    squash = ~(np.isfinite(lo) & np.isfinite(hi))
    lo[squash] = -1.0
    hi[squash] = 1.0
    return lo, hi, squash
