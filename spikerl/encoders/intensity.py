"""Map raw inputs onto the unit interval of intensities: ``u = (x - low) / (high - low)``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

RangeBound = float | Sequence[float] | Tensor


def _as_bound(name: str, value: RangeBound, shape: tuple[int, ...]) -> Tensor:
    t = torch.as_tensor(value, dtype=torch.float64)
    try:
        t = torch.broadcast_to(t, shape).clone()
    except RuntimeError as err:
        raise ValueError(
            f"input_range {name} has shape {list(t.shape)}; it must broadcast to the "
            f"input shape {list(shape)}"
        ) from err
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"input_range {name} must be finite, got {value!r}")
    return t


class IntensityRange(nn.Module):
    """The declared range of raw inputs, and its map to intensities in [0, 1].

    ``u = (x - low) / (high - low)``. Inputs outside ``[low, high]`` by more than
    ``tolerance * (high - low)`` raise ``ValueError``; smaller excursions are clamped.

    Args:
        shape: Per-sample input shape.
        low: Lower bound (scalar or broadcastable to ``shape``), e.g. 0 for pixels.
        high: Upper bound, e.g. 255 for uint8 pixels. Must exceed ``low`` everywhere.
        tolerance: Allowed relative excursion outside the range.
    """

    low: Tensor
    span: Tensor

    def __init__(
        self,
        shape: tuple[int, ...],
        low: RangeBound = 0.0,
        high: RangeBound = 1.0,
        tolerance: float = 1e-4,
    ) -> None:
        super().__init__()
        lo = _as_bound("low", low, shape)
        hi = _as_bound("high", high, shape)
        if not bool((hi > lo).all()):
            raise ValueError(
                f"input_range needs high > low everywhere, got low={low!r}, high={high!r}"
            )
        if not math.isfinite(tolerance) or tolerance < 0:
            raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
        self.tolerance = float(tolerance)
        self.register_buffer("low", lo.to(torch.get_default_dtype()))
        self.register_buffer("span", (hi - lo).to(torch.get_default_dtype()))

    def forward(self, x: Tensor, dtype: torch.dtype) -> Tensor:
        """Return intensities ``u [B, *shape]`` in ``dtype``, clamped to [0, 1].

        Raises:
            ValueError: if some input lies outside the declared range beyond tolerance.
        """
        u = (x.to(dtype) - self.low.to(dtype)) / self.span.to(dtype)
        tol = self.tolerance
        bad = (u < -tol) | (u > 1.0 + tol)
        if bool(bad.any()):
            idx = tuple(int(i) for i in bad.nonzero()[0])
            lo = float(self.low.expand(x.shape[1:])[idx[1:]])
            hi = lo + float(self.span.expand(x.shape[1:])[idx[1:]])
            raise ValueError(
                f"{int(bad.sum())} input value(s) outside the declared input_range; "
                f"e.g. x{list(idx)} = {float(x[idx])} not in [{lo}, {hi}]. "
                "Pass input_range=(low, high) matching your data (e.g. (0, 255) for uint8 frames)."
            )
        return u.clamp(0.0, 1.0)
