"""Decoder contracts and shared helpers: spikes ``[B, n]`` counts or ``[T, B, n]`` rasters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum

import torch
from torch import Tensor, nn

from spikerl._checks import check_finite, check_tensor


def check_spikes(name: str, spikes: object, n_neurons: int) -> Tensor:
    """Validate ``spikes`` as counts ``[B, n]`` or a raster ``[T, B, n]`` with ``n == n_neurons``.

    Raises:
        TypeError: if not a tensor.
        ValueError: on a wrong shape, NaN/inf or negative values.
    """
    t = check_tensor(f"{name} input", spikes)
    if t.dim() not in (2, 3) or t.shape[-1] != n_neurons or t.shape[-2] < 1:
        raise ValueError(
            f"{name}: expected spike counts [B, {n_neurons}] or a raster [T, B, {n_neurons}], "
            f"got shape {list(t.shape)}"
        )
    if t.dtype == torch.bool:
        t = t.to(torch.get_default_dtype())
    check_finite(f"{name} input", t)
    if bool((t < 0).any()):
        raise ValueError(f"{name}: spike counts must be >= 0, got a minimum of {float(t.min())}")
    return t


def spike_counts(spikes: Tensor) -> Tensor:
    """Counts ``[B, n]`` (floating) from counts ``[B, n]`` or a raster ``[T, B, n]``."""
    counts = spikes.sum(0) if spikes.dim() == 3 else spikes
    return counts if counts.is_floating_point() else counts.to(torch.get_default_dtype())


def group_counts(counts: Tensor, n_groups: int, group_size: int) -> Tensor:
    """Sum ``counts [B, n_groups * group_size]`` over contiguous groups -> ``[B, n_groups]``.

    Neuron ``i`` belongs to group ``i // group_size``.
    """
    return counts.reshape(counts.shape[0], n_groups, group_size).sum(-1)


class TieBreak(Enum):
    """How to choose among equally good actions (including when no neuron spiked)."""

    FIRST = "first"
    """The lowest action index (deterministic; biased towards action 0 when silent)."""
    RANDOM = "random"
    """Uniformly among the tied actions, drawn from the generator."""


def pick_max(scores: Tensor, tie_break: TieBreak, generator: torch.Generator | None) -> Tensor:
    """Index ``[B]`` of the maximum of ``scores [B, k]``, ties broken by ``tie_break``."""
    if tie_break is TieBreak.FIRST:
        return scores.argmax(-1)
    # the floor(u m)-th of the m tied maxima, u ~ U[0, 1) from the generator (the same rule
    # as spikerl.decoders.vote on NumPy arrays)
    is_max = scores == scores.max(-1, keepdim=True).values
    m = is_max.sum(-1)
    u = torch.rand(scores.shape[:-1], generator=generator, device=scores.device)
    pick = torch.minimum((u * m).long(), m - 1)
    rank = is_max.long().cumsum(-1) - 1
    return (is_max & (rank == pick.unsqueeze(-1))).long().argmax(-1)


class Decoder(nn.Module, ABC):
    """Maps output spikes to actions: ``forward(spikes, generator) -> actions``.

    Attributes:
        n_inputs: Number of output neurons the decoder reads.
    """

    n_inputs: int

    @abstractmethod
    def forward(self, spikes: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Decode counts ``[B, n_inputs]`` or a raster ``[T, B, n_inputs]``."""


class DiscreteDecoder(Decoder):
    """Decoder to discrete actions ``[B]`` (int64) from ``neurons_per_action`` neurons each.

    Neuron ``i`` votes for action ``i // neurons_per_action``.

    Args:
        n_actions: Number of actions.
        neurons_per_action: Neurons per action (contiguous blocks).
    """

    def __init__(self, n_actions: int, neurons_per_action: int = 1) -> None:
        super().__init__()
        for name, v in (("n_actions", n_actions), ("neurons_per_action", neurons_per_action)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        self.n_actions = n_actions
        self.neurons_per_action = neurons_per_action
        self.n_inputs = n_actions * neurons_per_action

    def action_counts(self, spikes: Tensor) -> Tensor:
        """Spike counts per action ``[B, n_actions]``."""
        t = check_spikes(type(self).__name__, spikes, self.n_inputs)
        return group_counts(spike_counts(t), self.n_actions, self.neurons_per_action)

    def forward(self, spikes: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return self.select(self.action_counts(spikes), generator)

    @abstractmethod
    def select(self, counts: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Choose actions ``[B]`` from per-action counts ``[B, n_actions]``."""

    def extra_repr(self) -> str:
        return f"n_actions={self.n_actions}, neurons_per_action={self.neurons_per_action}"
