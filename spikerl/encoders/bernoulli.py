"""Bernoulli coding: intensity is the spike probability of each step."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from spikerl.encoders.base import Encoder, spike_dtype
from spikerl.encoders.intensity import IntensityRange, RangeBound
from spikerl.encoders.poisson import bernoulli_train


class BernoulliEncoder(Encoder):
    """Bernoulli encoder: ``P(spike at each step) = max_prob * u``, ``u = (x-low)/(high-low)``.

    Unlike :class:`PoissonEncoder` the probability is given directly, not through a rate
    in Hz, so it does not depend on ``dt``. Expected count over the window: ``T * p``.

    Args:
        input_shape: Per-sample input shape.
        time_steps: Window length T in steps.
        max_prob: Per-step spike probability of an input at ``high``, in [0, 1].
        dt: Step in ms (recorded; the probability does not depend on it).
        input_range: ``(low, high)`` of raw inputs.
    """

    def __init__(
        self,
        input_shape: int | Sequence[int],
        time_steps: int,
        max_prob: float = 1.0,
        dt: float = 1.0,
        input_range: tuple[RangeBound, RangeBound] = (0.0, 1.0),
    ) -> None:
        super().__init__(input_shape, time_steps, dt)
        if not isinstance(max_prob, int | float) or not 0.0 <= max_prob <= 1.0:
            raise ValueError(f"max_prob must be a number in [0, 1], got {max_prob!r}")
        self.max_prob = float(max_prob)
        self.intensity = IntensityRange(self.input_shape, *input_range)

    def probabilities(self, x: Tensor) -> Tensor:
        """Per-step spike probabilities ``[B, *input_shape]``."""
        x = self.check_input(x)
        return self.intensity(x, spike_dtype(x)) * self.max_prob

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return bernoulli_train(self.probabilities(x), self.time_steps, generator)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, max_prob={self.max_prob}"
