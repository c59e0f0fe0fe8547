"""Epsilon-greedy readout."""

from __future__ import annotations

import torch
from torch import Tensor

from spikerl.decoders.base import DiscreteDecoder, TieBreak, pick_max


class EpsilonGreedyDecoder(DiscreteDecoder):
    """With probability ``epsilon`` a uniform random action, else ``argmax_a c_a``.

    Args:
        n_actions: Number of actions.
        epsilon: Exploration probability in [0, 1].
        neurons_per_action: Neurons per action.
        tie_break: How ties in the greedy choice are resolved.
    """

    def __init__(
        self,
        n_actions: int,
        epsilon: float = 0.05,
        neurons_per_action: int = 1,
        tie_break: TieBreak = TieBreak.RANDOM,
    ) -> None:
        super().__init__(n_actions, neurons_per_action)
        if not isinstance(epsilon, int | float) or not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be a number in [0, 1], got {epsilon!r}")
        if not isinstance(tie_break, TieBreak):
            raise TypeError(f"tie_break must be a TieBreak, got {tie_break!r}")
        self.epsilon = float(epsilon)
        self.tie_break = tie_break

    def select(self, counts: Tensor, generator: torch.Generator | None = None) -> Tensor:
        batch = counts.shape[0]
        greedy = pick_max(counts, self.tie_break, generator)
        explore = torch.rand(batch, generator=generator, device=counts.device) < self.epsilon
        random = torch.randint(self.n_actions, (batch,), generator=generator, device=counts.device)
        return torch.where(explore, random, greedy)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, epsilon={self.epsilon}"
