"""Constant-current coding: the (scaled) input repeated at every step."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from spikerl.encoders.base import Encoder, spike_dtype
from spikerl.encoders.intensity import IntensityRange, RangeBound


class RepeatEncoder(Encoder):
    """Constant current: ``I[t] = gain * u`` for every step t, ``u = (x - low)/(high - low)``.

    The output is graded (a current, not 0/1 spikes); feed it to a neuron population.
    Deterministic; ``generator`` is unused.

    Args:
        input_shape: Per-sample input shape.
        time_steps: Window length T in steps.
        gain: Current for an input at ``high`` (arbitrary current units).
        dt: Step in ms.
        input_range: ``(low, high)`` of raw inputs.
    """

    def __init__(
        self,
        input_shape: int | Sequence[int],
        time_steps: int,
        gain: float = 1.0,
        dt: float = 1.0,
        input_range: tuple[RangeBound, RangeBound] = (0.0, 1.0),
    ) -> None:
        super().__init__(input_shape, time_steps, dt)
        if not isinstance(gain, int | float) or gain != gain or abs(gain) == float("inf"):
            raise ValueError(f"gain must be a finite number, got {gain!r}")
        self.gain = float(gain)
        self.value_range = (min(0.0, self.gain), max(0.0, self.gain))
        self.intensity = IntensityRange(self.input_shape, *input_range)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        u = self.intensity(self.check_input(x), spike_dtype(x))
        current = u * self.gain
        return current.unsqueeze(0).repeat(self.time_steps, *([1] * current.dim()))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, gain={self.gain}"
