"""Weight initialisers: callables ``(shape, generator) -> Tensor`` with explicit randomness."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

Initializer = Callable[[tuple[int, ...], torch.Generator | None], Tensor]


@dataclass(frozen=True)
class Uniform:
    """Weights drawn from ``U(low, high)``."""

    low: float = 0.0
    high: float = 1.0

    def __call__(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
        if self.high < self.low:
            raise ValueError(f"Uniform: high ({self.high}) must be >= low ({self.low})")
        return torch.rand(shape, generator=generator) * (self.high - self.low) + self.low


@dataclass(frozen=True)
class Normal:
    """Weights drawn from ``N(mean, std^2)``."""

    mean: float = 0.0
    std: float = 1.0

    def __call__(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
        return torch.randn(shape, generator=generator) * self.std + self.mean


@dataclass(frozen=True)
class Constant:
    """All weights equal to ``value``."""

    value: float = 0.0

    def __call__(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
        return torch.full(shape, float(self.value))


@dataclass(frozen=True)
class KaimingUniform:
    """``U(-g/sqrt(fan_in), g/sqrt(fan_in))`` with ``fan_in`` given explicitly (surrogate nets)."""

    fan_in: int
    gain: float = 1.0

    def __call__(self, shape: tuple[int, ...], generator: torch.Generator | None) -> Tensor:
        bound = self.gain / max(self.fan_in, 1) ** 0.5
        return (torch.rand(shape, generator=generator) * 2.0 - 1.0) * bound
