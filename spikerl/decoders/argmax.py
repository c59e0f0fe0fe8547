"""Greedy readout: the action whose neurons spiked most."""

from __future__ import annotations

import torch
from torch import Tensor

from spikerl.decoders.base import DiscreteDecoder, TieBreak, pick_max


class ArgmaxDecoder(DiscreteDecoder):
    """``a = argmax_k c_k`` with ``c_k`` the spike count of action k's neurons.

    Args:
        n_actions: Number of actions.
        neurons_per_action: Neurons per action.
        tie_break: How ties (and all-silent outputs) are resolved.
    """

    def __init__(
        self, n_actions: int, neurons_per_action: int = 1, tie_break: TieBreak = TieBreak.RANDOM
    ) -> None:
        super().__init__(n_actions, neurons_per_action)
        if not isinstance(tie_break, TieBreak):
            raise TypeError(f"tie_break must be a TieBreak, got {tie_break!r}")
        self.tie_break = tie_break

    def select(self, counts: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return pick_max(counts, self.tie_break, generator)


class PopulationVoteDecoder(ArgmaxDecoder):
    """Population vote: ``k`` neurons per action; the action with most votes (spikes) wins.

    ``c_a = sum_{i in group a} count_i``, ``a* = argmax_a c_a``; ties by ``tie_break``.

    Args:
        n_actions: Number of actions.
        neurons_per_action: Population size k per action.
        tie_break: How ties (and all-silent outputs) are resolved.
    """
