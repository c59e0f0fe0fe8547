"""Poisson rate coding: intensity -> firing rate in Hz -> independent spikes per step."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from spikerl._checks import check_non_negative
from spikerl.encoders.base import Encoder, spike_dtype
from spikerl.encoders.intensity import IntensityRange, RangeBound


def bernoulli_train(p: Tensor, time_steps: int, generator: torch.Generator | None = None) -> Tensor:
    """Draw ``[T, *p.shape]`` independent 0/1 spikes with ``P(spike) = p`` each step.

    Args:
        p: Per-step spike probabilities in [0, 1], any shape.
        time_steps: Number T of steps.
        generator: Source of randomness (on ``p``'s device); ``None`` uses torch's default.
    """
    noise = torch.rand((time_steps, *p.shape), generator=generator, device=p.device, dtype=p.dtype)
    # In place: spike = [noise < p] = max(0, sign(p - noise)); avoids a bool temporary.
    return noise.neg_().add_(p).sign_().clamp_(min=0.0)


class PoissonEncoder(Encoder):
    """Poisson (rate) encoder, discretised at ``dt``.

    ``u = (x - low) / (high - low)`` in [0, 1]; ``rate = u * max_rate`` (Hz); each step
    every channel spikes independently with ``p = rate * dt / 1000``. The expected spike
    count over the window is ``rate * T * dt / 1000``.

    Args:
        input_shape: Per-sample input shape.
        time_steps: Window length T in steps.
        max_rate: Rate (Hz) of an input at ``high``. ``max_rate * dt / 1000`` must be <= 1.
        dt: Step in ms.
        input_range: ``(low, high)`` of raw inputs, scalars or per-element.
    """

    def __init__(
        self,
        input_shape: int | Sequence[int],
        time_steps: int,
        max_rate: float = 100.0,
        dt: float = 1.0,
        input_range: tuple[RangeBound, RangeBound] = (0.0, 1.0),
    ) -> None:
        super().__init__(input_shape, time_steps, dt)
        self.max_rate = check_non_negative("max_rate", max_rate)
        if self.max_rate * self.dt / 1000.0 > 1.0:
            raise ValueError(
                f"max_rate * dt / 1000 must be <= 1 (at most one spike per step), got "
                f"max_rate={max_rate} Hz, dt={dt} ms"
            )
        self.intensity = IntensityRange(self.input_shape, *input_range)

    def rates(self, x: Tensor) -> Tensor:
        """Firing rates in Hz, ``[B, *input_shape]``."""
        x = self.check_input(x)
        return self.intensity(x, spike_dtype(x)) * self.max_rate

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        p = self.rates(x) * (self.dt / 1000.0)
        return bernoulli_train(p, self.time_steps, generator)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, max_rate={self.max_rate}"
