"""Readout that samples actions in proportion to their spike counts."""

from __future__ import annotations

import torch
from torch import Tensor

from spikerl.decoders.base import DiscreteDecoder


class MultinomialDecoder(DiscreteDecoder):
    """Sample ``a ~ P(a) = c_a / sum_b c_b``; uniform when no neuron spiked.

    Args:
        n_actions: Number of actions.
        neurons_per_action: Neurons per action.
    """

    def probabilities(self, counts: Tensor) -> Tensor:
        """Action probabilities ``[B, n_actions]``: counts normalised, or uniform if all zero."""
        counts = counts.to(torch.float64)
        total = counts.sum(-1, keepdim=True)
        uniform = torch.full_like(counts, 1.0 / self.n_actions)
        return torch.where(total > 0, counts / total.clamp_min(1e-300), uniform)

    def select(self, counts: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return torch.multinomial(self.probabilities(counts), 1, generator=generator).squeeze(-1)
