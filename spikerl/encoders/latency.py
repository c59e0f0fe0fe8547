"""Temporal codes: one spike per input, earlier for stronger inputs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from spikerl.encoders.base import Encoder, spike_dtype
from spikerl.encoders.intensity import IntensityRange, RangeBound


def one_hot_times(times: Tensor, fires: Tensor, time_steps: int, dtype: torch.dtype) -> Tensor:
    """Raster ``[T, *times.shape]`` with a 1 at step ``times[i]`` where ``fires[i]``."""
    steps = torch.arange(time_steps, device=times.device).view(-1, *([1] * times.dim()))
    return ((steps == times.unsqueeze(0)) & fires.unsqueeze(0)).to(dtype)


class TimeToFirstSpikeEncoder(Encoder):
    """Latency code: each input spikes once, at ``t = round((1 - u) * (T - 1))``.

    ``u = (x - low) / (high - low)``: ``u = 1`` fires at step 0, small ``u`` near step
    ``T - 1``; inputs with ``u <= min_intensity`` never fire. Deterministic; the
    ``generator`` argument is accepted for a uniform interface and unused.

    Args:
        input_shape: Per-sample input shape.
        time_steps: Window length T in steps.
        dt: Step in ms.
        input_range: ``(low, high)`` of raw inputs.
        min_intensity: Inputs at or below this intensity stay silent.
    """

    def __init__(
        self,
        input_shape: int | Sequence[int],
        time_steps: int,
        dt: float = 1.0,
        input_range: tuple[RangeBound, RangeBound] = (0.0, 1.0),
        min_intensity: float = 0.0,
    ) -> None:
        super().__init__(input_shape, time_steps, dt)
        if not 0.0 <= min_intensity < 1.0:
            raise ValueError(f"min_intensity must be in [0, 1), got {min_intensity!r}")
        self.min_intensity = float(min_intensity)
        self.intensity = IntensityRange(self.input_shape, *input_range)

    def spike_times(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(times [B, *input_shape] long, fires [B, *input_shape] bool)``."""
        u = self.intensity(self.check_input(x), spike_dtype(x))
        times = torch.round((1.0 - u) * (self.time_steps - 1)).long()
        return times, u > self.min_intensity

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        times, fires = self.spike_times(x)
        return one_hot_times(times, fires, self.time_steps, spike_dtype(x))


class RankOrderEncoder(Encoder):
    """Rank-order code (Thorpe): only the order of inputs matters.

    Within each sample, an input's rank ``r`` is the number of inputs strictly stronger
    than it (ties share a rank); it spikes once at ``t = floor(r * T / n)`` where ``n`` is
    the number of inputs per sample. Inputs with intensity 0 never fire. Stronger inputs
    therefore never fire later than weaker ones. Deterministic; ``generator`` is unused.

    Args:
        input_shape: Per-sample input shape.
        time_steps: Window length T in steps.
        dt: Step in ms.
        input_range: ``(low, high)`` of raw inputs.
    """

    def __init__(
        self,
        input_shape: int | Sequence[int],
        time_steps: int,
        dt: float = 1.0,
        input_range: tuple[RangeBound, RangeBound] = (0.0, 1.0),
    ) -> None:
        super().__init__(input_shape, time_steps, dt)
        self.intensity = IntensityRange(self.input_shape, *input_range)

    def spike_times(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(times [B, *input_shape] long, fires [B, *input_shape] bool)``."""
        u = self.intensity(self.check_input(x), spike_dtype(x))
        flat = u.reshape(u.shape[0], -1)
        n = flat.shape[1]
        ascending = torch.sort(flat, dim=1).values.contiguous()
        n_not_greater = torch.searchsorted(ascending, flat.contiguous(), right=True)
        rank = n - n_not_greater
        times = torch.div(rank * self.time_steps, n, rounding_mode="floor")
        return times.reshape(u.shape), u > 0

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        times, fires = self.spike_times(x)
        return one_hot_times(times, fires, self.time_steps, spike_dtype(x))
