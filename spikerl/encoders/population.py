"""Population coding with Gaussian receptive fields, for Box observations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast, overload

import numpy as np
import torch
from torch import Tensor

from spikerl._checks import check_non_negative, check_positive
from spikerl.encoders.base import Encoder, spike_dtype
from spikerl.encoders.normalizer import RunningNormalizer
from spikerl.encoders.poisson import bernoulli_train

#: Range, in standard deviations, covered for dimensions standardised by running statistics.
NORMALISED_RANGE = (-3.0, 3.0)


@overload
def gaussian_fields(x: Tensor, centers: Tensor, sigma: Tensor) -> Tensor: ...


@overload
def gaussian_fields(
    x: np.ndarray, centers: np.ndarray, sigma: np.ndarray | float
) -> np.ndarray: ...


def gaussian_fields(
    x: Tensor | np.ndarray, centers: Tensor | np.ndarray, sigma: Tensor | np.ndarray | float
) -> Tensor | np.ndarray:
    """Receptive-field activations ``a = exp(-(x - c)^2 / (2 sigma^2))``.

    The one Gaussian field of the toolkit's encoders
    (:class:`GaussianPopulationEncoder` and :class:`~spikerl.encoders.GaussianFields`).
    Tensors are evaluated in torch (on their device, autograd-friendly), NumPy arrays in
    NumPy (the same operations in the same order; float64 stays float64).

    Args:
        x: Values ``[B, D]``.
        centers: Preferred values ``[D, n]``, or ``[n]`` shared by every dimension.
        sigma: Field widths ``[D, 1]`` or a scalar (same units as ``x``).

    Returns:
        Activations in (0, 1], ``[B, D, n]``.
    """
    if isinstance(x, Tensor):
        q = cast(Tensor, (x.unsqueeze(-1) - centers) / sigma)
        return torch.exp(-0.5 * q.square())
    return np.exp(-0.5 * ((x[..., None] - centers) / sigma) ** 2)


class GaussianPopulationEncoder(Encoder):
    """Each input dimension drives ``n`` neurons with Gaussian receptive fields.

    For dimension d with range ``[low_d, high_d]``, neuron j prefers
    ``c_dj = low_d + j * (high_d - low_d) / (n - 1)`` and has width
    ``sigma_d = width * (high_d - low_d) / (n - 1)``. Its activation is
    ``a_dj = exp(-(x_d - c_dj)^2 / (2 sigma_d^2))`` and it spikes each step with
    ``p = a_dj * max_rate * dt / 1000`` (``max_rate`` in Hz). Output per step: ``[D, n]``.

    Dimensions listed in ``normalized`` are first standardised by a running mean/variance
    (:class:`RunningNormalizer`, updated in training mode, frozen by ``.eval()``, as for
    batch norm) and then covered over ``NORMALISED_RANGE`` standard deviations; their
    ``low``/``high`` are ignored. Use it for unbounded dimensions without declared ranges.

    Args:
        low: Lower end of each dimension's range, ``[D]`` (finite unless normalised).
        high: Upper end, ``[D]``.
        neurons_per_dim: Number n >= 2 of neurons per dimension.
        time_steps: Window length T.
        max_rate: Peak rate in Hz (at the preferred value).
        width: Field width in units of the spacing between centres.
        dt: Step in ms.
        normalized: Indices of dimensions to standardise by running statistics.
    """

    centers: Tensor
    sigma: Tensor
    normalized_mask: Tensor

    def __init__(
        self,
        low: Sequence[float] | Tensor,
        high: Sequence[float] | Tensor,
        neurons_per_dim: int,
        time_steps: int,
        max_rate: float = 200.0,
        width: float = 1.0,
        dt: float = 1.0,
        normalized: Sequence[int] = (),
    ) -> None:
        lo = torch.as_tensor(low, dtype=torch.float64).flatten()
        hi = torch.as_tensor(high, dtype=torch.float64).flatten()
        if lo.shape != hi.shape or lo.numel() == 0:
            raise ValueError(
                f"low and high must be non-empty with equal sizes, got {list(lo.shape)} "
                f"and {list(hi.shape)}"
            )
        super().__init__((lo.numel(),), time_steps, dt)
        if not isinstance(neurons_per_dim, int) or neurons_per_dim < 2:
            raise ValueError(f"neurons_per_dim must be an int >= 2, got {neurons_per_dim!r}")
        self.neurons_per_dim = neurons_per_dim
        self.max_rate = check_non_negative("max_rate", max_rate)
        if self.max_rate * self.dt / 1000.0 > 1.0:
            raise ValueError(
                f"max_rate * dt / 1000 must be <= 1, got max_rate={max_rate} Hz, dt={dt} ms"
            )
        self.width = check_positive("width", width)
        d = lo.numel()
        mask = torch.zeros(d, dtype=torch.bool)
        for i in normalized:
            if not isinstance(i, int) or not 0 <= i < d:
                raise ValueError(f"normalized holds {i!r}; indices must be in [0, {d})")
            mask[i] = True
        lo = torch.where(mask, torch.tensor(NORMALISED_RANGE[0], dtype=torch.float64), lo)
        hi = torch.where(mask, torch.tensor(NORMALISED_RANGE[1], dtype=torch.float64), hi)
        if not bool(torch.isfinite(lo).all() & torch.isfinite(hi).all()):
            bad = (~(torch.isfinite(lo) & torch.isfinite(hi))).nonzero().flatten().tolist()
            raise ValueError(
                f"dimensions {bad} have infinite bounds; declare a finite range for them or "
                "list them in `normalized` to use running statistics"
            )
        if not bool((hi > lo).all()):
            raise ValueError("high must exceed low in every dimension")
        spacing = (hi - lo) / (neurons_per_dim - 1)
        steps = torch.arange(neurons_per_dim, dtype=torch.float64)
        dtype = torch.get_default_dtype()
        self.register_buffer("centers", (lo.unsqueeze(1) + spacing.unsqueeze(1) * steps).to(dtype))
        self.register_buffer("sigma", (self.width * spacing).unsqueeze(1).to(dtype))
        self.register_buffer("normalized_mask", mask)
        self.normalizer = RunningNormalizer(d)

    @classmethod
    def from_space(
        cls,
        low: Sequence[float] | Tensor,
        high: Sequence[float] | Tensor,
        neurons_per_dim: int,
        time_steps: int,
        ranges: Mapping[int, tuple[float, float]] | None = None,
        **kwargs: float,
    ) -> GaussianPopulationEncoder:
        """Build from a Box's bounds; unbounded dimensions use ``ranges`` or running statistics.

        Args:
            low: ``space.low`` (may hold -inf).
            high: ``space.high`` (may hold inf).
            neurons_per_dim: Neurons per dimension.
            time_steps: Window length T.
            ranges: Declared ``{dim: (low, high)}`` overriding the space's bounds.
            **kwargs: ``max_rate``, ``width``, ``dt``.
        """
        lo = torch.as_tensor(low, dtype=torch.float64).flatten().clone()
        hi = torch.as_tensor(high, dtype=torch.float64).flatten().clone()
        for dim, (a, b) in (ranges or {}).items():
            if not 0 <= dim < lo.numel():
                raise ValueError(
                    f"ranges has dimension {dim}; valid dimensions are 0..{lo.numel() - 1}"
                )
            lo[dim], hi[dim] = float(a), float(b)
        unbounded = (~(torch.isfinite(lo) & torch.isfinite(hi))).nonzero().flatten().tolist()
        return cls(lo, hi, neurons_per_dim, time_steps, normalized=unbounded, **kwargs)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.input_shape[0], self.neurons_per_dim)

    def activation(self, x: Tensor) -> Tensor:
        """Receptive-field activations ``[B, D, n]`` in (0, 1].

        In training mode the running statistics of normalised dimensions are updated first.
        """
        x = self.check_input(x).to(spike_dtype(x))
        if bool(self.normalized_mask.any()):
            if self.training:
                self.normalizer.update(x)
            x = torch.where(self.normalized_mask, self.normalizer(x), x)
        return gaussian_fields(x, self.centers.to(x.dtype), self.sigma.to(x.dtype))

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        p = self.activation(x) * (self.max_rate * self.dt / 1000.0)
        return bernoulli_train(p, self.time_steps, generator)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, neurons_per_dim={self.neurons_per_dim}, "
            f"max_rate={self.max_rate}, width={self.width}, "
            f"normalized={self.normalized_mask.nonzero().flatten().tolist()}"
        )
