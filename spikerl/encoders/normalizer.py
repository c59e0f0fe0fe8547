"""Running mean / variance normaliser for inputs without declared bounds."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RunningNormalizer(nn.Module):
    """Standardise inputs with running statistics: ``z = (x - mean) / sqrt(var + eps)``.

    Statistics are merged batch by batch (Chan et al.'s parallel Welford update) by
    :meth:`update`; they live in buffers, so they are saved in the ``state_dict``.
    Before any update the map is the identity (mean 0, var 1).

    Args:
        size: Number of features (the input is ``[B, size]``).
        eps: Added to the variance for stability.
    """

    mean: Tensor
    var: Tensor
    count: Tensor

    def __init__(self, size: int, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = float(eps)
        self.register_buffer("mean", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("var", torch.ones(size, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        """Merge the statistics of the batch ``x [B, size]`` into the running ones."""
        xb = x.detach().to(torch.float64)
        n_b = float(xb.shape[0])
        mean_b = xb.mean(0)
        var_b = xb.var(0, unbiased=False)
        n_a = float(self.count)
        total = n_a + n_b
        delta = mean_b - self.mean
        if n_a == 0:
            self.mean.copy_(mean_b)
            self.var.copy_(var_b)
        else:
            m2 = self.var * n_a + var_b * n_b + delta.square() * n_a * n_b / total
            self.mean.add_(delta * n_b / total)
            self.var.copy_(m2 / total)
        self.count.fill_(total)

    def forward(self, x: Tensor) -> Tensor:
        """Return ``(x - mean) / sqrt(var + eps)`` in ``x``'s dtype."""
        mean = self.mean.to(x.dtype)
        std = torch.sqrt(self.var + self.eps).to(x.dtype)
        return (x - mean) / std
