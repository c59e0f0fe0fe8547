"""Exponential spike traces over a window, the memory that local learning rules read.

The per-step update is :func:`spikerl.core.traces.trace_step` (re-exported here):

    x[t] = x[t-1] * exp(-dt / tau) + scale * s[t]            (TraceMode.ADD, all-to-all)
    x[t] = scale if s[t] else x[t-1] * exp(-dt / tau)         (TraceMode.SET, nearest spike)

This module adds the window forms used by window-mode plasticity: the whole window of
traces from one decay-matrix product (``ADD``) or a scan (``SET``), and the *exclusive*
trace ``x[t-1] * exp(-dt / tau)``: the trace just before the spikes of step ``t`` count.
Traces are dimensionless; ``dt`` and ``tau`` are in ms.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from spikerl._checks import check_positive
from spikerl.core import kernels
from spikerl.core.traces import TraceMode, TraceParams, trace_step

__all__ = [
    "BLOCK",
    "TraceMode",
    "TraceParams",
    "decay_matrix",
    "trace_step",
    "trace_window",
]


#: Block length of the blocked decay-matrix product in :func:`trace_window` (steps).
BLOCK = 32


@functools.lru_cache(maxsize=64)
def _decay_matrix(
    steps: int, tau: float, dt: float, dtype: torch.dtype, device: torch.device | None
) -> Tensor:
    t = torch.arange(steps, dtype=torch.float64, device=device)
    lag = t.unsqueeze(1) - t.unsqueeze(0)
    d = torch.where(lag >= 0, torch.exp(-lag.clamp_min(0.0) * dt / tau), torch.zeros_like(lag))
    return d.to(dtype)


def decay_matrix(
    steps: int,
    tau: float,
    dt: float = 1.0,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """Lower-triangular decay matrix ``D[t, u] = exp(-(t - u) dt / tau)`` for ``u <= t``.

    ``D @ s`` (over the time axis) is the all-to-all trace of spikes ``s`` started from zero.
    The result is cached: treat it as read-only.

    Args:
        steps: Window length ``T``.
        tau: Time constant (ms).
        dt: Step (ms).
        dtype: Floating dtype of the result.
        device: Device of the result.

    Returns:
        ``[T, T]`` matrix.
    """
    check_positive("tau", tau)
    check_positive("dt", dt)
    dev = torch.device(device) if device is not None else None
    return _decay_matrix(int(steps), float(tau), float(dt), dtype, dev)


def trace_window(
    spikes: Tensor, x0: Tensor, params: TraceParams, dt: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Traces over a window, inclusive and exclusive of each step's spikes.

        x[t]        = trace after the spikes of step t    (what trace_step returns)
        x_before[t] = x[t-1] * exp(-dt / tau)             (decayed, before step t's spikes)

    with ``x[-1] = x0``. ``ADD`` traces are decay-matrix products over blocks of
    :data:`BLOCK` steps, ``x[c] = D @ (scale * s[c]) + a^(i+1) x[c-1][-1]`` with
    ``a = exp(-dt / tau)`` (``O(T * BLOCK)`` per unit instead of a Python step loop);
    ``SET`` traces are a scan. On CPU without autograd both run as one compiled
    sequential scan (:func:`spikerl.core.kernels.trace_scan`).

    Args:
        spikes: ``[T, B, ...]`` spikes (0/1 or graded).
        x0: ``[B, ...]`` trace before the window.
        params: Trace constants.
        dt: Step (ms).

    Returns:
        ``(x, x_before)``, both ``[T, B, ...]``.
    """
    if spikes.dim() < 2 or tuple(spikes.shape[1:]) != tuple(x0.shape):
        raise ValueError(
            f"trace_window: spikes must be [T, *x0.shape] = [T, {list(x0.shape)}], "
            f"got {list(spikes.shape)}"
        )
    T = spikes.shape[0]
    s = spikes.to(x0.dtype)
    a = math.exp(-dt / params.tau)
    if T == 1:
        x = trace_step(x0, s[0], params, dt).unsqueeze(0)
        return x, (x0 * a).unsqueeze(0)
    fast = kernels.trace_scan(s, x0, params.tau, params.scale, params.mode is TraceMode.SET, dt)
    if fast is not None:  # compiled sequential scan (CPU, no autograd)
        x = fast[0]
    elif params.mode is TraceMode.ADD:
        x = torch.empty_like(s)
        n = min(T, BLOCK)
        d = decay_matrix(n, params.tau, dt, dtype=x0.dtype, device=x0.device)
        powers = d[:, 0] * a  # a^(i+1)
        view = (-1, *([1] * x0.dim()))
        cur = x0
        for start in range(0, T, n):
            c = min(n, T - start)
            block = (d[:c, :c] @ s[start : start + c].reshape(c, -1)).reshape(c, *x0.shape)
            block = block * params.scale + powers[:c].view(view) * cur.unsqueeze(0)
            x[start : start + c] = block
            cur = block[-1]
    else:
        x = torch.empty_like(s)
        cur = x0
        for t in range(T):
            cur = trace_step(cur, s[t], params, dt)
            x[t] = cur
    prev = torch.cat([x0.unsqueeze(0), x[:-1]], dim=0)
    return x, prev * a
