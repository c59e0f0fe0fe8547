"""Input sources: populations whose spikes are given from outside (an encoder's output)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from spikerl.core.neurons.base import EmptyState, Neuron


@dataclass(frozen=True)
class InputParams:
    """An input source has no constants."""


def input_step(
    x: Tensor, state: EmptyState, params: InputParams, dt: float = 1.0
) -> tuple[Tensor, EmptyState]:
    """Pass the given spikes through: ``s[t] = x[t]``.

    Args:
        x: Spikes ``[B, *shape]`` (0/1, or graded values for current inputs).
        state: Unused (empty).
        params: Unused.
        dt: Step in ms (unused).
    """
    return x, state


class Input(Neuron[InputParams, EmptyState]):
    """A population whose spikes are supplied each step (e.g. Poisson-encoded pixels)."""

    step_fn = staticmethod(input_step)

    def __init__(self, shape: int | Sequence[int], dt: float = 1.0) -> None:
        super().__init__(shape, InputParams(), dt)

    def initial_state(self, batch_size: int) -> EmptyState:
        return EmptyState()

    def reset_state(self, state: EmptyState, episode_start: Tensor) -> EmptyState:
        return state

    def relax(self, state: EmptyState, duration: float) -> EmptyState:
        return state
