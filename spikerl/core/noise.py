"""Temporally correlated (Ornstein-Uhlenbeck) noise for membrane currents.

White membrane noise is independent at every simulation step, so over a window of ``T``
steps its effect on a neuron averages out (the summed current grows as ``sqrt(T)``), and an
exploring agent's decisions dither from one env step to the next. An Ornstein-Uhlenbeck
current with correlation time ``tau`` keeps its sign for about ``tau`` ms: a neuron stays
favoured (or disfavoured) across windows, and the actions it drives are correlated in time,
the exploration that momentum tasks need (the noise process of DDPG, Lillicrap et al. 2016).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def ou_decay(dt: float, tau: float) -> float:
    """The AR(1) coefficient of an OU process sampled every ``dt`` ms, ``a = exp(-dt / tau)``.

    Args:
        dt: Interval between two samples (ms), >= 0.
        tau: Correlation time (ms), > 0.

    Raises:
        ValueError: for a negative or non-finite ``dt``, or a ``tau`` that is not a positive
            finite number.
    """
    if not (math.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a positive number of ms, got {tau!r}")
    if not (math.isfinite(dt) and dt >= 0):
        raise ValueError(f"dt must be a finite number of ms >= 0, got {dt!r}")
    return math.exp(-dt / tau)


def ou_filter(z: Tensor, previous: Tensor | None, a: float, a_first: float | None = None) -> Tensor:
    """Turn white noise ``z [T, ...]`` into a stationary OU (AR(1)) sequence, in place.

        x_0 = a_first x_prev + sqrt(1 - a_first^2) z_0     (x_0 = z_0 without ``previous``)
        x_t = a x_(t-1) + sqrt(1 - a^2) z_t,   t = 1 .. T-1

    Each ``x_t`` has the variance of ``z`` (units of ``z``, e.g. mV per step) and lag-``k``
    correlation ``a^k``: ``a = exp(-dt / tau)`` for samples ``dt`` ms apart
    (:func:`ou_decay`), ``a_first`` for the interval since ``previous`` (a silent gap
    between windows lengthens it; default ``a``).

    Args:
        z: White noise ``[T, ...]`` of the wanted standard deviation; overwritten.
        previous: The process's last value ``[...]`` before ``z[0]`` (``None``: start from
            the stationary distribution, ``x_0 = z_0``).
        a: Correlation between consecutive steps, in ``[0, 1]``.
        a_first: Correlation between ``previous`` and ``x_0``, in ``[0, 1]``.

    Returns:
        ``z`` itself, holding ``x``.

    Raises:
        ValueError: a coefficient outside ``[0, 1]`` or a ``previous`` whose shape is not
            ``z.shape[1:]``.
    """
    a_first = a if a_first is None else a_first
    for name, value in (("a", a), ("a_first", a_first)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    if z.shape[0] == 0:
        return z
    with torch.no_grad():
        if previous is not None:
            if tuple(previous.shape) != tuple(z.shape[1:]):
                raise ValueError(
                    f"previous has shape {list(previous.shape)}, expected {list(z.shape[1:])}"
                )
            z[0].mul_(math.sqrt(1.0 - a_first * a_first)).add_(previous, alpha=a_first)
        b = math.sqrt(1.0 - a * a)
        for t in range(1, z.shape[0]):
            z[t].mul_(b).add_(z[t - 1], alpha=a)
    return z


__all__ = ["ou_decay", "ou_filter"]
