"""Composable pieces applied around a rule's weight change: bounds, decay, normalisation.

A piece may *transform* the change before it is applied (``transform(dw, projection,
duration) -> dw``: soft bounds, weight decay) and/or *constrain* the weights after it
(``constrain_(projection)``: hard bounds, normalisation). :class:`~spikerl.learning.
plasticity.Plasticity` runs all transforms in list order, applies the change, calls
``projection.apply_constraints_()`` (the projection's own bounds, norm, mask and sign), then
runs all constraints in list order; the last constraint holds exactly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from spikerl._checks import check_positive
from spikerl.core.projections import DenseProjection, Projection

__all__ = ["ColumnMean", "HardBounds", "Normalize", "SoftBounds", "WeightDecay", "WeightPiece"]


def _resolve(name: str, value: float | None, fallback: float | None, piece: str) -> float:
    v = value if value is not None else fallback
    if v is None:
        raise ValueError(f"{piece} needs {name}: give it to the piece or set it on the projection")
    if not math.isfinite(v):
        raise ValueError(f"{piece}: {name} must be finite, got {v}")
    return float(v)


class WeightPiece:
    """Base class of pieces: both hooks do nothing by default."""

    def transform(self, dw: Tensor, projection: Projection, duration: float) -> Tensor:
        """Change ``dw`` before it is applied.

        Args:
            dw: The change, shaped like the weight.
            projection: The learning projection (read only).
            duration: Time covered by the change (ms): ``dt`` online, ``T dt`` per window.
        """
        return dw

    def constrain_(self, projection: Projection) -> None:
        """Fix up the weights in place after the change was applied."""


class HardBounds(WeightPiece):
    """Clamp the weights to ``[wmin, wmax]`` after every change (never violated).

    Args:
        wmin: Lower bound (default: the projection's ``wmin``; ``None`` on both: no bound).
        wmax: Upper bound (default: the projection's ``wmax``).
    """

    def __init__(self, wmin: float | None = None, wmax: float | None = None) -> None:
        if wmin is not None and wmax is not None and wmin > wmax:
            raise ValueError(f"wmin ({wmin}) must be <= wmax ({wmax})")
        self.wmin, self.wmax = wmin, wmax

    @torch.no_grad()
    def constrain_(self, projection: Projection) -> None:
        lo = self.wmin if self.wmin is not None else projection.wmin
        hi = self.wmax if self.wmax is not None else projection.wmax
        if lo is None and hi is None:
            raise ValueError("HardBounds needs wmin or wmax, on the piece or the projection")
        projection.weight.clamp_(min=lo, max=hi)

    def __repr__(self) -> str:
        return f"HardBounds(wmin={self.wmin}, wmax={self.wmax})"


class SoftBounds(WeightPiece):
    """Soft-bound factor: potentiation scales with ``wmax - w``, depression with ``w - wmin``.

        dw' = dw (wmax - w)   where dw > 0
        dw' = dw (w - wmin)   where dw < 0

    then ``dw'`` is clipped so that ``w + dw'`` stays in ``[wmin, wmax]`` (exactly so when the
    change is applied directly; an optimizer may rescale it).

    Args:
        wmin: Lower bound (default: the projection's ``wmin``).
        wmax: Upper bound (default: the projection's ``wmax``).
    """

    def __init__(self, wmin: float | None = None, wmax: float | None = None) -> None:
        if wmin is not None and wmax is not None and wmin > wmax:
            raise ValueError(f"wmin ({wmin}) must be <= wmax ({wmax})")
        self.wmin, self.wmax = wmin, wmax

    def transform(self, dw: Tensor, projection: Projection, duration: float) -> Tensor:
        lo = _resolve("wmin", self.wmin, projection.wmin, "SoftBounds")
        hi = _resolve("wmax", self.wmax, projection.wmax, "SoftBounds")
        w = projection.weight.detach()
        scaled = torch.where(dw > 0, dw * (hi - w), dw * (w - lo))
        return torch.minimum(torch.maximum(scaled, lo - w), hi - w)

    def __repr__(self) -> str:
        return f"SoftBounds(wmin={self.wmin}, wmax={self.wmax})"


class WeightDecay(WeightPiece):
    """Exponential decay of the weights towards ``target`` with time constant ``tau``.

        dw' = dw - (1 - exp(-duration / tau)) (w - target)

    Args:
        tau: Decay time constant (ms).
        target: Value the weights relax to (weight units).
    """

    def __init__(self, tau: float, target: float = 0.0) -> None:
        self.tau = check_positive("tau", tau)
        if not math.isfinite(target):
            raise ValueError(f"target must be finite, got {target}")
        self.target = float(target)

    def transform(self, dw: Tensor, projection: Projection, duration: float) -> Tensor:
        k = 1.0 - math.exp(-duration / self.tau)
        return dw - k * (projection.weight.detach() - self.target)

    def __repr__(self) -> str:
        return f"WeightDecay(tau={self.tau}, target={self.target})"


class Normalize(WeightPiece):
    """Rescale each target unit's input weights to sum to ``total`` (``projection.normalize_``).

        w[:, n] <- w[:, n] * total / sum_k w[k, n]

    Args:
        total: The fixed sum (default: the projection's ``norm``).
    """

    def __init__(self, total: float | None = None) -> None:
        if total is not None and not math.isfinite(total):
            raise ValueError(f"total must be finite, got {total}")
        self.total = total

    def constrain_(self, projection: Projection) -> None:
        total = _resolve("total", self.total, projection.norm, "Normalize")
        projection.normalize_(total)

    def __repr__(self) -> str:
        return f"Normalize(total={self.total})"


class ColumnMean(WeightPiece):
    """Hold each target unit's mean input weight at ``target`` (additive, then bounded).

        w[:, n] <- clip(w[:, n] + target - mean_k w[k, n], wmin, wmax)

    The R-STDP agent's per-neuron weight normalisation (``learn.weight_norm``; a parts
    policy holds each unit at its own initial mean, a tensor target), the same
    function (:func:`spikerl.learning.actor.normalise_columns`), for a dense projection
    ``w [n_source, n_target]``. Unlike :class:`Normalize` (a multiplicative rescale of the
    sum) it shifts every weight of a unit by the same amount, so their spread is kept.

    Args:
        target: The mean input weight of every target unit (weight units): one number, or
            a tensor ``[n_target]`` of one target per unit (``target[n]`` in the equation;
            it is read, not copied, each time the piece is applied).
        wmin: Lower bound after the shift (default: the projection's ``wmin``).
        wmax: Upper bound after the shift (default: the projection's ``wmax``).
        max_std: Largest spread of a unit's weights (weight units; None: no limit): a
            unit whose weights spread more is shrunk about its mean before the bounds,
            ``w[:, n] <- target + min(1, max_std / std_k w[k, n]) (w[:, n] - target)``.

    Raises:
        ValueError: a target that is not finite, a tensor target that is not 1-D, or a
            ``max_std`` that is not a positive number.
        TypeError: (when applied) for a projection whose weight is not ``[n_source, n_target]``.
        ValueError: (when applied) for a tensor target of the wrong size.
    """

    def __init__(
        self,
        target: float | Tensor,
        wmin: float | None = None,
        wmax: float | None = None,
        max_std: float | None = None,
    ) -> None:
        if max_std is not None and not (math.isfinite(max_std) and max_std > 0):
            raise ValueError(f"max_std must be a positive number of weight units, got {max_std}")
        self.max_std = None if max_std is None else float(max_std)
        if isinstance(target, Tensor):
            if target.dim() != 1 or not bool(torch.isfinite(target).all()):
                raise ValueError(
                    f"target must be a finite 1-D tensor [n_target], got shape {list(target.shape)}"
                )
            self.target: float | Tensor = target.detach()
        else:
            if not math.isfinite(target):
                raise ValueError(f"target must be finite, got {target}")
            self.target = float(target)
        if wmin is not None and wmax is not None and wmin > wmax:
            raise ValueError(f"wmin ({wmin}) must be <= wmax ({wmax})")
        self.wmin, self.wmax = wmin, wmax

    @torch.no_grad()
    def constrain_(self, projection: Projection) -> None:
        from spikerl.learning.actor import normalise_columns

        if not isinstance(projection, DenseProjection):
            raise TypeError(
                f"ColumnMean needs a DenseProjection (weights [n_source, n_target]), got "
                f"{type(projection).__name__}"
            )
        w = projection.weight
        if isinstance(self.target, Tensor) and self.target.shape[0] != w.shape[1]:
            raise ValueError(
                f"ColumnMean: {self.target.shape[0]} targets for a projection of "
                f"{w.shape[1]} target units"
            )
        lo = self.wmin if self.wmin is not None else projection.wmin
        hi = self.wmax if self.wmax is not None else projection.wmax
        normalise_columns(w, self.target, lo, hi, self.max_std)

    def __repr__(self) -> str:
        target = (
            f"tensor[{self.target.shape[0]}]" if isinstance(self.target, Tensor) else self.target
        )
        return (
            f"ColumnMean(target={target}, wmin={self.wmin}, wmax={self.wmax}, "
            f"max_std={self.max_std})"
        )
