"""First-to-spike readout: the action whose neuron fires earliest."""

from __future__ import annotations

import torch
from torch import Tensor

from spikerl.decoders.base import DiscreteDecoder, TieBreak, check_spikes, group_counts, pick_max


class FirstToSpikeDecoder(DiscreteDecoder):
    """``a = argmin_a t_a`` where ``t_a`` is the first step at which any neuron of a spiked.

    Needs a raster ``[T, B, n]`` (counts carry no timing). Simultaneous first spikes are
    broken by the spike count in that step, then by ``tie_break``; with no spike at all
    the choice is a tie among all actions.

    Args:
        n_actions: Number of actions.
        neurons_per_action: Neurons per action.
        tie_break: How remaining ties are resolved.
    """

    def __init__(
        self, n_actions: int, neurons_per_action: int = 1, tie_break: TieBreak = TieBreak.RANDOM
    ) -> None:
        super().__init__(n_actions, neurons_per_action)
        if not isinstance(tie_break, TieBreak):
            raise TypeError(f"tie_break must be a TieBreak, got {tie_break!r}")
        self.tie_break = tie_break

    def forward(self, spikes: Tensor, generator: torch.Generator | None = None) -> Tensor:
        t = check_spikes(type(self).__name__, spikes, self.n_inputs)
        if t.dim() != 3:
            raise ValueError(
                f"FirstToSpikeDecoder needs a raster [T, B, {self.n_inputs}] (timing), "
                f"got counts of shape {list(t.shape)}"
            )
        steps, batch, _ = t.shape
        per_action = group_counts(
            t.reshape(steps * batch, -1), self.n_actions, self.neurons_per_action
        )
        per_action = per_action.reshape(steps, batch, self.n_actions)
        any_spike = per_action.sum(-1) > 0  # [T, B]
        # First step with any spike per sample; T (sentinel) when silent.
        index = torch.arange(steps, device=t.device).unsqueeze(1).expand(steps, batch)
        first = torch.where(any_spike, index, torch.full_like(index, steps)).min(0).values
        silent = first == steps
        at_first = per_action[first.clamp_max(steps - 1), torch.arange(batch, device=t.device)]
        scores = torch.where(silent.unsqueeze(-1), torch.zeros_like(at_first), at_first)
        return pick_max(scores, self.tie_break, generator)

    def select(self, counts: Tensor, generator: torch.Generator | None = None) -> Tensor:
        raise TypeError("FirstToSpikeDecoder decodes rasters only; call it on [T, B, n] spikes")
