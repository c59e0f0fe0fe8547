"""Encoder contracts: what every observation-to-spike encoder promises.

Two kinds exist. A stateless :class:`Encoder` maps ``x [B, *input_shape]`` to a spike
train ``[T, B, *output_shape]``. A :class:`StatefulEncoder` (e.g. the delta encoder, which
remembers the previous frame) also takes and returns an explicit state, never hidden
inside the module.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

import torch
from torch import Tensor, nn

from spikerl._checks import check_finite, check_positive, check_tensor

StateT = TypeVar("StateT")


def as_shape(name: str, shape: int | Sequence[int]) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of positive ints, or raise a clear error.

    Args:
        name: What the shape describes, for the message.
        shape: An int or a sequence of ints.
    """
    from spikerl.core.neurons.base import as_shape as population_shape

    try:
        return population_shape(shape)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be positive ints, got {shape!r}") from None


def check_time_steps(time_steps: int) -> int:
    """Return ``time_steps`` if it is an int >= 1, else raise."""
    if not isinstance(time_steps, int) or isinstance(time_steps, bool):
        raise TypeError(f"time_steps must be an int, got {type(time_steps).__name__}")
    if time_steps < 1:
        raise ValueError(f"time_steps must be >= 1, got {time_steps}")
    return time_steps


def spike_dtype(x: Tensor) -> torch.dtype:
    """Floating dtype of the spikes made from ``x``: its own if floating, else the default."""
    return x.dtype if x.is_floating_point() else torch.get_default_dtype()


class EncoderBase(nn.Module):
    """Shared attributes of all encoders.

    Attributes:
        input_shape: Per-sample input shape (without B).
        time_steps: Number T of simulation steps per encoded input.
        dt: Simulation step in ms.
        output_shape: Per-step output shape (without T and B); size layers from it.
        value_range: ``(min, max)`` of any output value (``(0, 1)`` for spikes).
    """

    value_range: tuple[float, float] = (0.0, 1.0)

    def __init__(self, input_shape: int | Sequence[int], time_steps: int, dt: float = 1.0) -> None:
        super().__init__()
        self.input_shape = as_shape("input_shape", input_shape)
        self.time_steps = check_time_steps(time_steps)
        self.dt = check_positive("dt", dt)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Per-step output shape (without T and B). Equals ``input_shape`` by default."""
        return self.input_shape

    @property
    def output_size(self) -> int:
        """Number of output channels per step: ``prod(output_shape)``."""
        return math.prod(self.output_shape)

    def check_input(self, x: object) -> Tensor:
        """Validate ``x`` as ``[B, *input_shape]`` with finite values and return it."""
        t = check_tensor(f"{type(self).__name__} input", x)
        if t.dim() != len(self.input_shape) + 1 or tuple(t.shape[1:]) != self.input_shape:
            dims = ", ".join(map(str, self.input_shape))
            raise ValueError(
                f"{type(self).__name__}: expected input of shape [B, {dims}] "
                f"(batch first, B >= 1), got {list(t.shape)}"
            )
        if t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"{type(self).__name__}: input must be real numbers, got {t.dtype}")
        return check_finite(f"{type(self).__name__} input", t)

    def extra_repr(self) -> str:
        return f"input_shape={self.input_shape}, time_steps={self.time_steps}, dt={self.dt}"


class Encoder(EncoderBase, ABC):
    """A stateless encoder: ``forward(x [B, *input_shape], generator) -> [T, B, *output_shape]``.

    Random draws use ``generator`` (a ``torch.Generator`` on ``x``'s device); ``None``
    means torch's default generator (seeded by ``torch.manual_seed``).
    """

    @abstractmethod
    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Encode ``x [B, *input_shape]`` into ``[T, B, *output_shape]``."""


class StatefulEncoder(EncoderBase, ABC, Generic[StateT]):
    """An encoder with explicit state: ``forward(x, state, generator) -> (spikes, state)``.

    ``state=None`` means a fresh state for every batch element.
    """

    @abstractmethod
    def forward(
        self,
        x: Tensor,
        state: StateT | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, StateT]:
        """Encode ``x [B, *input_shape]`` into ``([T, B, *output_shape], new_state)``."""

    @abstractmethod
    def reset_state(self, state: StateT, episode_start: Tensor) -> StateT:
        """Return ``state`` with the batch elements where ``episode_start [B]`` is true fresh."""
