"""Stochastic readout: softmax over spike counts with a temperature."""

from __future__ import annotations

import torch
from torch import Tensor

from spikerl._checks import check_positive
from spikerl.decoders.base import DiscreteDecoder


class SoftmaxDecoder(DiscreteDecoder):
    """Sample ``a ~ P(a) = exp(c_a / tau) / sum_b exp(c_b / tau)`` (``c``: spike counts).

    Args:
        n_actions: Number of actions.
        temperature: ``tau`` > 0 in spikes; large = uniform, small = greedy.
        neurons_per_action: Neurons per action.
    """

    def __init__(
        self, n_actions: int, temperature: float = 1.0, neurons_per_action: int = 1
    ) -> None:
        super().__init__(n_actions, neurons_per_action)
        self.temperature = check_positive("temperature", temperature)

    def probabilities(self, counts: Tensor) -> Tensor:
        """Action probabilities ``[B, n_actions]`` from per-action counts."""
        return torch.softmax(counts / self.temperature, dim=-1)

    def select(self, counts: Tensor, generator: torch.Generator | None = None) -> Tensor:
        probs = self.probabilities(counts.to(torch.float64))
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, temperature={self.temperature}"
