"""Spiking feature extractors for stable-baselines3 policies (trained by surrogate gradients).

Each extractor is a :class:`~stable_baselines3.common.torch_layers.BaseFeaturesExtractor`
that simulates ``T`` steps of LIF layers (:class:`~spikerl.learning.surrogate.SurrogateLIF`)
for every observation and returns a readout of its last layer; SB3's own heads
(``action_net``, ``value_net``, ``q_net``) turn it into logits, values or Q-values, and SB3's
PPO, A2C or DQN train everything by backpropagation through time.

Conventions:

* **State reset per call.** Every forward call starts from fresh neurons (``v = v_rest``)
  and runs the whole window of ``T`` steps; nothing is carried between environment steps, so
  the policies are feed-forward in the environment's time and SB3's rollout buffers,
  replay buffers and target networks apply unchanged.
* **Layer by layer.** The layers form a chain, so each runs over the whole window: one
  product over ``T * B`` rows, then one scan of its LIF neurons over ``T`` (spikes reach the
  next layer in the same step). With constant-current encoding the first product runs once.
* **LIF window.** On CPU the scan (forward and backward) is the fused compiled window of
  :func:`~spikerl.learning.fused_lif.fused_lif_window`; on GPU, or with
  ``backend=Backend.EAGER``, it is the eager step of
  :func:`~spikerl.learning.surrogate.surrogate_lif_step`. Both give the same spikes and
  gradients (a test says so).
* **Readout** (see :class:`~spikerl.agents.sb3.config.Readout`): by default the mean
  membrane potential of leaky non-spiking integrators fed by the last layer's spikes, so
  that the policy's logits, values and Q-values are membrane potentials of leaky output
  neurons; optionally the last layer's spike counts.

Every LIF layer uses the equations of :func:`~spikerl.learning.surrogate.surrogate_lif_step`
(with ``a = exp(-dt / tau_mem)``; currents in mV per step)::

    v'[t] = v_rest + (v[t-1] - v_rest) a + I[t]
    s[t]  = H(v'[t] - v_thresh)                (surrogate derivative backward)
    v[t]  = v'[t] - s[t] (v_thresh - v_reset)  (soft reset; hard: v_reset where s[t])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.preprocessing import get_flattened_obs_dim, is_image_space
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import Tensor, nn

from spikerl.agents.sb3.config import Backend, Encoding, Readout, SpikingConfig
from spikerl.core.kernels import enabled
from spikerl.learning.fused_lif import fused_lif_window
from spikerl.learning.surrogate import SurrogateLIF

__all__ = [
    "SpikingCnnExtractor",
    "SpikingMlpExtractor",
    "lif_window",
    "make_config",
    "membrane_weights",
]


def make_config(settings: dict[str, Any], owner: str) -> SpikingConfig:
    """A :class:`SpikingConfig` from keyword settings, refusing unknown names.

    Args:
        settings: Keyword arguments (names of :class:`SpikingConfig` fields).
        owner: Who received them (named in the error).

    Raises:
        TypeError: An unknown setting, naming it and listing the accepted ones.
    """
    unknown = sorted(set(settings) - set(SpikingConfig.keys()))
    if unknown:
        raise TypeError(
            f"{owner} got unknown settings {unknown}; accepted: {list(SpikingConfig.keys())}"
        )
    return SpikingConfig(**settings)


def _fused_refusal(lif: SurrogateLIF, x: Tensor) -> str:
    """Why the fused window cannot run ``lif`` on ``x`` (for the error of ``Backend.FUSED``)."""
    if not enabled():
        return "the compiled kernels are disabled (numba missing or SPIKERL_NO_KERNELS set)"
    if lif.params.refrac > 0:
        return f"the neuron has a refractory period ({lif.params.refrac} ms; fused needs 0)"
    if x.device.type != "cpu":
        return f"the input is on {x.device} (fused runs on CPU)"
    return f"the dtype {x.dtype} or surrogate {lif.surrogate!r} is not supported"


def lif_window(lif: SurrogateLIF, current: Tensor, backend: Backend = Backend.AUTO) -> Tensor:
    """Spikes of ``lif`` over a window of input current, from fresh state.

    Args:
        lif: The layer (its params, ``dt``, surrogate and ``detach_reset``).
        current: Input current (mV per step), ``[T, B, *shape]``.
        backend: ``AUTO``: fused on CPU where it applies, else eager; ``FUSED``: fused or
            an error; ``EAGER``: the eager scan.

    Returns:
        Spikes ``[T, B, *shape]`` (0.0/1.0), differentiable by the surrogate.

    Raises:
        RuntimeError: ``Backend.FUSED`` where the fused window cannot run (says why).
    """
    if backend is not Backend.EAGER:
        v0 = torch.full_like(current[0], lif.params.v_rest)
        fused = fused_lif_window(current, v0, lif.params, lif.dt, lif.surrogate, lif.detach_reset)
        if fused is not None:
            return fused[0]
        if backend is Backend.FUSED:
            raise RuntimeError(
                f"backend=Backend.FUSED, but {_fused_refusal(lif, current)}; "
                "use Backend.AUTO or Backend.EAGER"
            )
    state = lif.initial_state(current[0])
    out = []
    for t in range(current.shape[0]):
        s, state = lif(current[t], state)
        out.append(s)
    return torch.stack(out)


def membrane_weights(time_steps: int, tau_out: float, dt: float) -> Tensor:
    """Weights ``w[k]`` with ``sum_k w[k] s[k] = mean_t u[t]`` for the membrane readout.

    With ``u[t] = a u[t-1] + s[t]``, ``u[-1] = 0`` and ``a = exp(-dt / tau_out)`` (``a = 1``
    for ``tau_out = inf``), ``u[t] = sum_{k<=t} a^(t-k) s[k]``, so

        mean_t u[t] = sum_k s[k] * (1/T) sum_{j=0}^{T-1-k} a^j.

    Args:
        time_steps: Window length ``T``.
        tau_out: Readout time constant (ms), or ``math.inf``.
        dt: Time step (ms).

    Returns:
        ``w`` of shape ``[T]`` (float64).
    """
    a = float(np.exp(-dt / tau_out))
    powers = a ** np.arange(time_steps, dtype=np.float64)
    tail = np.cumsum(powers)[::-1].copy()  # sum_{j=0}^{T-1-k} a^j for k = 0..T-1
    return torch.as_tensor(tail / time_steps, dtype=torch.float64)


def _per_step(layer: nn.Module, x: Tensor) -> Tensor:
    """Apply a stateless layer to ``x [T, B, ...]`` as one batch of ``T * B``."""
    y: Tensor = layer(x.flatten(0, 1))
    return y.unflatten(0, x.shape[:2])


def _bernoulli(p: Tensor, time_steps: int) -> Tensor:
    """Spikes ``[T, B, ...]`` drawn with probability ``p [B, ...]`` (torch's seeded RNG)."""
    return torch.bernoulli(p.unsqueeze(0).expand(time_steps, *p.shape).contiguous())


class _SpikingExtractor(BaseFeaturesExtractor):
    """Shared parts: config, readout, the first layer's encoding, the LIF chain."""

    readout_weights: Tensor

    def __init__(
        self, observation_space: gym.Space[Any], features_dim: int, config: SpikingConfig
    ) -> None:
        super().__init__(observation_space, features_dim)
        self.config = config
        w = membrane_weights(config.time_steps, config.tau_out, config.dt)
        self.register_buffer("readout_weights", w, persistent=False)

    def _lif(self, shape: int | Sequence[int]) -> SurrogateLIF:
        c = self.config
        return SurrogateLIF(shape, c.neuron, c.dt, c.surrogate, c.detach_reset)

    def _first_current(self, layer: nn.Module, p_or_x: Tensor) -> Tensor:
        """Input current ``[T, B, ...]`` of the first layer: constant or from rate spikes."""
        T = self.config.time_steps
        if self.config.encoding is Encoding.RATE:
            return _per_step(layer, _bernoulli(p_or_x, T))
        current: Tensor = layer(p_or_x)
        return current.unsqueeze(0).expand(T, *current.shape)

    def _run(self, lif: nn.Module, current: Tensor) -> Tensor:
        return lif_window(cast(SurrogateLIF, lif), current, self.config.backend)

    def _readout(self, spikes: Tensor) -> Tensor:
        """Features ``[B, N]`` from the last layer's spikes ``[T, B, N]``."""
        if self.config.readout is Readout.SPIKE_COUNT:
            return spikes.sum(0)
        w = self.readout_weights.to(spikes.dtype)
        return torch.tensordot(w, spikes, dims=1)


class SpikingMlpExtractor(_SpikingExtractor):
    """Fully connected LIF layers: ``obs -> Linear -> LIF -> ... -> Linear -> LIF -> readout``.

    Args:
        observation_space: A ``Box`` (flattened; any shape).
        layers: Sizes of the LIF layers (the features are the last one's readout).
        **settings: :class:`~spikerl.agents.sb3.config.SpikingConfig` fields (``time_steps``,
            ``neuron``, ``surrogate``, ``readout``, ``encoding``, ``backend``, ``tau_out``,
            ``dt``, ``detach_reset``); any other name is refused.

    Raises:
        TypeError: An unknown setting.
        ValueError: Empty or non-positive ``layers``, or rate encoding of an unbounded space.
    """

    obs_low: Tensor
    obs_span: Tensor

    def __init__(
        self, observation_space: gym.Space[Any], layers: Sequence[int] = (64, 64), **settings: Any
    ) -> None:
        config = make_config(settings, "SpikingMlpExtractor")
        sizes = _check_layers(layers)
        super().__init__(observation_space, sizes[-1], config)
        n_in = get_flattened_obs_dim(observation_space)
        self.layers = tuple(sizes)
        self.linears = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip((n_in, *sizes[:-1]), sizes, strict=True)
        )
        self.lifs = nn.ModuleList(self._lif(n) for n in sizes)
        low, high = _rate_bounds(observation_space, config.encoding)
        self.register_buffer("obs_low", low, persistent=False)
        self.register_buffer("obs_span", high - low, persistent=False)

    def forward(self, observations: Tensor) -> Tensor:
        """Features ``[B, layers[-1]]`` of observations ``[B, *obs_shape]``."""
        x = observations.flatten(1).to(cast(nn.Linear, self.linears[0]).weight.dtype)
        if self.config.encoding is Encoding.RATE:
            x = ((x - self.obs_low) / self.obs_span).clamp(0.0, 1.0)
        spikes = x
        for i, (linear, lif) in enumerate(zip(self.linears, self.lifs, strict=True)):
            current = self._first_current(linear, x) if i == 0 else _per_step(linear, spikes)
            spikes = self._run(lif, current)
        return self._readout(spikes)


class SpikingCnnExtractor(_SpikingExtractor):
    """Nature-CNN-shaped LIF network (Mnih et al. 2015) for image observations.

    ``conv 8x8/4 (32) -> LIF -> conv 4x4/2 (64) -> LIF -> conv 3x3/1 (64) -> LIF -> flatten
    -> Linear (features_dim) -> LIF -> readout``. Images are expected channel-first and in
    ``[0, 1]`` (SB3's ``normalize_images``, the default, divides by 255 and transposes).

    Args:
        observation_space: An image ``Box`` ``[C, H, W]`` (at least 36x36).
        features_dim: Size of the fully connected LIF layer (the features).
        **settings: :class:`~spikerl.agents.sb3.config.SpikingConfig` fields; any other name
            is refused.

    Raises:
        TypeError: An unknown setting.
        ValueError: A non-image observation space or a non-positive ``features_dim``.
    """

    def __init__(
        self, observation_space: gym.Space[Any], features_dim: int = 512, **settings: Any
    ) -> None:
        config = make_config(settings, "SpikingCnnExtractor")
        if not is_image_space(observation_space, check_channels=False, normalized_image=True):
            raise ValueError(
                "SpikingCnnExtractor needs an image observation space [C, H, W] "
                f"(use SpikingMlpPolicy for vectors), got {observation_space}"
            )
        (features_dim,) = _check_layers([features_dim])
        super().__init__(observation_space, features_dim, config)
        assert observation_space.shape is not None
        c, h, w = observation_space.shape
        self.convs = nn.ModuleList(
            [nn.Conv2d(c, 32, 8, stride=4), nn.Conv2d(32, 64, 4, stride=2), nn.Conv2d(64, 64, 3)]
        )
        shapes = []
        with torch.no_grad():
            x = torch.zeros(1, c, h, w)
            for conv in self.convs:
                x = conv(x)
                shapes.append(tuple(x.shape[1:]))
        self.conv_lifs = nn.ModuleList(self._lif(s) for s in shapes)
        self.linear = nn.Linear(int(np.prod(shapes[-1])), features_dim)
        self.lif = self._lif(features_dim)

    def forward(self, observations: Tensor) -> Tensor:
        """Features ``[B, features_dim]`` of images ``[B, C, H, W]`` in ``[0, 1]``."""
        x = observations.to(self.linear.weight.dtype)
        if self.config.encoding is Encoding.RATE:
            x = x.clamp(0.0, 1.0)
        spikes = x
        for i, (conv, lif) in enumerate(zip(self.convs, self.conv_lifs, strict=True)):
            current = self._first_current(conv, x) if i == 0 else _per_step(conv, spikes)
            spikes = self._run(lif, current)
        spikes = self._run(self.lif, _per_step(self.linear, spikes.flatten(2)))
        return self._readout(spikes)


def _check_layers(layers: Sequence[int]) -> list[int]:
    sizes = list(layers) if isinstance(layers, Sequence) else []
    if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
        raise ValueError(f"layer sizes must be a non-empty list of positive ints, got {layers!r}")
    return sizes


def _rate_bounds(space: gym.Space[Any], encoding: Encoding) -> tuple[Tensor, Tensor]:
    """``(low, high)`` of the flattened space for rate encoding (zeros and ones otherwise)."""
    n = get_flattened_obs_dim(space)
    if encoding is not Encoding.RATE:
        return torch.zeros(n), torch.ones(n)
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"rate encoding needs a Box observation space, got {space}")
    low = np.asarray(space.low, dtype=np.float64).reshape(-1)
    high = np.asarray(space.high, dtype=np.float64).reshape(-1)
    if not (np.isfinite(low).all() and np.isfinite(high).all()) or (high <= low).any():
        raise ValueError(
            "rate encoding needs finite bounds low < high on every observation dimension "
            f"(got low={low.tolist()}, high={high.tolist()}); use Encoding.CONSTANT or "
            "wrap the env to a bounded space"
        )
    return torch.as_tensor(low, dtype=torch.float32), torch.as_tensor(high, dtype=torch.float32)
