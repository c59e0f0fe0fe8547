"""Population readout for continuous (Box) actions."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from spikerl.decoders.base import Decoder, check_spikes, spike_counts


class PopulationActionDecoder(Decoder):
    """Population vector for each action dimension.

    Dimension d has ``n`` neurons with preferred values ``c_dj`` evenly spaced over
    ``[low_d, high_d]``; the action is the count-weighted mean of the preferred values,
    ``a_d = sum_j c_dj r_dj / sum_j r_dj``, or the range midpoint when none spiked.
    Neuron ``i`` belongs to dimension ``i // n``. Output ``[B, *action_shape]``.

    Args:
        low: Lower action bounds (any shape; finite).
        high: Upper action bounds, same shape.
        neurons_per_dim: Neurons n >= 2 per action dimension.
    """

    centers: Tensor
    midpoint: Tensor

    def __init__(
        self,
        low: Sequence[float] | Tensor | float,
        high: Sequence[float] | Tensor | float,
        neurons_per_dim: int,
    ) -> None:
        super().__init__()
        lo = torch.as_tensor(low, dtype=torch.float64)
        hi = torch.as_tensor(high, dtype=torch.float64)
        if lo.shape != hi.shape:
            raise ValueError(
                f"low and high must have equal shapes, got {list(lo.shape)}, {list(hi.shape)}"
            )
        if not bool(torch.isfinite(lo).all() & torch.isfinite(hi).all()) or not bool(
            (hi > lo).all()
        ):
            raise ValueError("action bounds must be finite with high > low in every dimension")
        if not isinstance(neurons_per_dim, int) or neurons_per_dim < 2:
            raise ValueError(f"neurons_per_dim must be an int >= 2, got {neurons_per_dim!r}")
        self.action_shape = tuple(lo.shape)
        self.neurons_per_dim = neurons_per_dim
        self.n_dims = max(1, lo.numel())
        self.n_inputs = self.n_dims * neurons_per_dim
        frac = torch.linspace(0.0, 1.0, neurons_per_dim, dtype=torch.float64)
        lo_f, hi_f = lo.flatten(), hi.flatten()
        centers = lo_f.unsqueeze(1) + (hi_f - lo_f).unsqueeze(1) * frac
        self.register_buffer("centers", centers.to(torch.get_default_dtype()))
        self.register_buffer("midpoint", ((lo_f + hi_f) / 2).to(torch.get_default_dtype()))

    def forward(self, spikes: Tensor, generator: torch.Generator | None = None) -> Tensor:
        t = check_spikes(type(self).__name__, spikes, self.n_inputs)
        counts = spike_counts(t)
        r = counts.reshape(counts.shape[0], self.n_dims, self.neurons_per_dim)
        centers = self.centers.to(r.dtype)
        total = r.sum(-1)
        mean = (r * centers).sum(-1) / total.clamp_min(torch.finfo(r.dtype).tiny)
        action = torch.where(total > 0, mean, self.midpoint.to(r.dtype))
        return action.reshape(counts.shape[0], *self.action_shape)

    def extra_repr(self) -> str:
        return f"action_shape={self.action_shape}, neurons_per_dim={self.neurons_per_dim}"
