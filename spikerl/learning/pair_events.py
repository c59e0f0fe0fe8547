"""Pair STDP over a window, driven by the presynaptic spikes only (dense projections, CPU).

The window form of pair STDP with all-to-all (``ADD``) traces,

    dw[k, n] = A+ sum_t x_pre[t, k] s_post[t, n] - A- sum_t s_pre[t, k] x_post^-[t, n],

needs the presynaptic trace ``x_pre`` of every input at every step (``T B K`` values) and
two products. Expanding ``x_pre[t] = a^(t+1) x0_pre + sum_{u <= t} a^(t-u) c s_pre[u]``
(``a = exp(-dt / tau_plus)``, ``c`` the trace's scale) and swapping the sums turns the
first term into a sum over presynaptic spikes too:

    sum_t x_pre[t, k] s_post[t, n] = sum_u s_pre[u, k] c z[u, n] + a x0_pre[k] z[0, n],
    z[u, n] = sum_{t >= u} a^(t-u) s_post[t, n]          (anti-causal trace of s_post)

so

    dw[k, n] = sum_{(u, k): s_pre[u, k] != 0} s_pre[u, k] (A+ c z[u, n] - A- x_post^-[u, n])
               + A+ a x0_pre[k] z[0, n]

is one scatter of rows of a ``[T B, N]`` matrix, one per presynaptic spike, plus a rank-B
correction for the trace carried in from the previous window. The presynaptic trace is only
needed at the window's end, ``x_pre[T-1] = a^T x0 + c sum_u a^(T-1-u) s_pre[u]`` (one
matrix-vector product). Equal to the generic path
(:func:`~spikerl.learning.activity.compute_activity` then the rule) up to float rounding
(tested).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from spikerl.core import kernels
from spikerl.core.projections import DenseProjection, Projection
from spikerl.learning.activity import Reduction, TraceState, reduce_batch
from spikerl.learning.traces import TraceMode, TraceParams

__all__ = ["MAX_PRE_DENSITY", "pair_stdp_window"]

#: Largest share of non-zero presynaptic entries for which the event-driven path is used.
#: Measured (``scripts/bench_crossover.py``, T = 250, 784 or 1000 -> 400, post density 0.02,
#: batch 1): the event path is 2.0-2.2x faster at 0.1, 1.3-1.6x at 0.2 and 1.2x at 0.3;
#: 0.2 keeps a margin for denser postsynaptic activity.
MAX_PRE_DENSITY = 0.2


@torch.no_grad()
def pair_stdp_window(
    projection: Projection,
    pre_spikes: Tensor,
    post_spikes: Tensor,
    pre_params: TraceParams,
    post_params: TraceParams,
    a_plus: float,
    a_minus: float,
    dt: float,
    traces: TraceState | None,
    reduction: Reduction,
) -> tuple[Tensor, TraceState] | None:
    """The pair-STDP change of a window and the traces at its end, event-driven.

    Args:
        projection: A :class:`~spikerl.core.projections.DenseProjection`.
        pre_spikes: Presynaptic spikes as they arrive ``[T, B, *source]``.
        post_spikes: Postsynaptic spikes ``[T, B, *target]``.
        pre_params: Presynaptic trace (``tau_plus``), ``ADD`` mode.
        post_params: Postsynaptic trace (``tau_minus``), ``ADD`` mode.
        a_plus: Potentiation amplitude (weight units).
        a_minus: Depression amplitude (weight units).
        dt: Step (ms).
        traces: Traces before the window (``None``: zeros).
        reduction: How the batch's changes combine.

    Returns:
        ``(dw [K, N], traces at the end)``, or ``None`` when this path does not apply
        (another projection type, ``SET`` traces, autograd, a non-CPU device, no compiled
        kernels, or more than :data:`MAX_PRE_DENSITY` of the presynaptic entries non-zero);
        the caller then takes the generic path.
    """
    if type(projection) is not DenseProjection:
        return None
    if pre_params.mode is not TraceMode.ADD or post_params.mode is not TraceMode.ADD:
        return None
    w = projection.weight
    K, N = w.shape
    T, B = pre_spikes.shape[:2]
    if T == 0 or pre_spikes[0, 0].numel() != K or post_spikes[0, 0].numel() != N:
        return None
    dtype = w.dtype
    pre = pre_spikes.reshape(T, B, K).to(dtype)
    post = post_spikes.reshape(T, B, N).to(dtype)
    if not kernels.usable(pre, post, w.detach()):
        return None
    if float(torch.count_nonzero(pre)) > MAX_PRE_DENSITY * pre.numel():
        return None
    if traces is None:
        x0_pre = torch.zeros(B, K, dtype=dtype)
        x0_post = torch.zeros(B, N, dtype=dtype)
    else:
        x0_pre = traces.pre.reshape(B, K).to(dtype)
        x0_post = traces.post.reshape(B, N).to(dtype)
    drive = kernels.pair_drive(
        post.reshape(T, B * N),
        x0_post.reshape(B * N),
        post_params.tau,
        pre_params.tau,
        a_plus * pre_params.scale,
        a_minus,
        post_params.scale,
        dt,
    )
    if drive is None:
        return None
    d, post_end, z0 = drive
    dw = torch.zeros(K, N, dtype=dtype)
    if not kernels.scatter_rows(pre.reshape(T * B, K), d.reshape(T * B, N), dw):
        return None
    a = math.exp(-dt / pre_params.tau)
    if traces is not None and bool(x0_pre.any()):
        dw.addmm_(x0_pre.T, z0.reshape(B, N), alpha=a_plus * a)
    decay = torch.pow(
        torch.tensor(a, dtype=torch.float64), torch.arange(T - 1, -1, -1, dtype=torch.float64)
    ).to(dtype)
    pre_end = x0_pre * a**T + pre_params.scale * (decay @ pre.reshape(T, B * K)).reshape(B, K)
    new = TraceState(
        pre_end.reshape(B, *pre_spikes.shape[2:]),
        post_end.reshape(B, *post_spikes.shape[2:]),
    )
    return (reduce_batch(dw, B, reduction) if B > 1 else dw), new
