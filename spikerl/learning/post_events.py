"""The Diehl & Cook (2015) rule over a window, driven by the postsynaptic spikes only.

The rule's window change (:class:`~spikerl.learning.rules.DiehlCook2015`, ``ADD`` traces),

    dw = eta_post LTP (wmax - w)^mu - eta_pre LTD,
    LTP[k, n] = sum_{(t, b, n) post spikes} (x_pre[t, b, k] - x_tar)
    LTD[k, n] = sum_{(t, b, n) post spikes} y_pre[t, b, k]
    y_pre[t]  = sum_{u > t} a^(u-t) c s_pre[u]

(``sum_u s_pre[u] x_post^-[u] = sum_t s_post[t] y_pre[t]``, ``a = exp(-dt / tau_post)``,
``c`` the trace's scale), reads both traces only at the few postsynaptic spike times (~20
per MNIST presentation): rows of decay weights ``[2E, T]`` times the window's input spikes
``[T, K]``, one product per batch element, instead of the traces of every input at every
step. From fresh traces; equal to the generic path
(:func:`~spikerl.learning.activity.compute_activity` then the rule) up to float rounding
(tested). The traces at the window's end are one decay-vector product each.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from spikerl.core.projections import DenseProjection, Projection
from spikerl.learning.activity import Reduction, TraceState, reduce_batch
from spikerl.learning.traces import TraceMode

if TYPE_CHECKING:
    from spikerl.learning.rules import DiehlCook2015

__all__ = ["diehl_cook_window"]


def _end_trace(spikes: Tensor, tau: float, scale: float, dt: float) -> Tensor:
    """``c sum_u a^(T-1-u) s[u]`` for spikes ``[T, B, M]`` -> ``[B, M]`` (fresh trace)."""
    T = spikes.shape[0]
    a = math.exp(-dt / tau)
    decay = torch.pow(
        torch.tensor(a, dtype=torch.float64), torch.arange(T - 1, -1, -1, dtype=torch.float64)
    ).to(spikes.dtype)
    flat = spikes.reshape(T, -1)
    return (scale * (decay @ flat)).reshape(spikes.shape[1:])


@torch.no_grad()
def diehl_cook_window(
    rule: DiehlCook2015,
    projection: Projection,
    pre_spikes: Tensor,
    post_spikes: Tensor,
    traces: TraceState | None,
    dt: float,
    reduction: Reduction,
) -> tuple[Tensor, TraceState] | None:
    """The rule's change over one window and the traces at its end, event-driven.

    Args:
        rule: The Diehl & Cook rule (its rates, offset and trace constants).
        projection: A :class:`~spikerl.core.projections.DenseProjection` ``[K, N]``.
        pre_spikes: Presynaptic spikes as they arrive ``[T, B, *source]``.
        post_spikes: Postsynaptic spikes ``[T, B, *target]`` (0/1).
        traces: Traces before the window; ``None`` or zeros (fresh, as after the paper's
            rest between images).
        dt: Step (ms).
        reduction: How the batch's changes combine.

    Returns:
        ``(dw [K, N] in weight units, traces at the end)``, or ``None`` where this path does
        not apply (another projection type, ``SET`` traces, traces carried in); the caller
        then takes the generic path.

    Raises:
        ValueError: ``mu > 0`` without ``wmax`` on the rule or the projection.
    """
    if type(projection) is not DenseProjection or rule.mode is not TraceMode.ADD:
        return None
    if traces is not None and (bool(traces.pre.any()) or bool(traces.post.any())):
        return None
    w = projection.weight
    K, N = w.shape
    T, B = pre_spikes.shape[:2]
    if T == 0 or pre_spikes[0, 0].numel() != K or post_spikes[0, 0].numel() != N:
        return None
    pre = pre_spikes.reshape(T, B, K)
    post = post_spikes.reshape(T, B, N)
    pre_t, post_t = rule.pre_trace, rule.post_trace
    dw = torch.zeros(K, N, dtype=w.dtype, device=w.device)
    pre_f = pre.to(w.dtype)
    u = torch.arange(T, device=w.device, dtype=torch.float64)
    ltp = torch.zeros_like(dw)
    ltd = torch.zeros_like(dw)
    for b in range(B):
        t, n = post[:, b].nonzero(as_tuple=True)
        if t.numel() == 0:
            continue
        vals = post[t, b, n].to(w.dtype)
        onehot = torch.zeros(t.numel(), N, dtype=w.dtype, device=w.device)
        onehot[torch.arange(t.numel(), device=w.device), n] = vals
        # Rows of decay weights per post spike: the causal pre trace at t_s (u <= t_s) and
        # the anti-causal one (u > t_s), read from the window's spikes in one product.
        lag = t.to(torch.float64).unsqueeze(1) - u.unsqueeze(0)  # t_s - u  [E, T]
        causal = torch.where(lag >= 0, pre_t.scale * torch.exp(-lag * dt / pre_t.tau), 0.0)
        anti = torch.where(lag < 0, post_t.scale * torch.exp(lag * dt / post_t.tau), 0.0)
        rows = torch.cat([causal, anti]).to(w.dtype) @ pre_f[:, b]  # [2E, K]
        E = t.numel()
        ltp += (rows[:E] - rule.x_tar).T @ onehot
        ltd += rows[E:].T @ onehot
    if rule.mu > 0:
        hi = rule.wmax if rule.wmax is not None else projection.wmax
        if hi is None:
            raise ValueError("DiehlCook2015 with mu > 0 needs wmax (rule or projection)")
        ltp = ltp * (hi - w.detach()).clamp_min(0.0) ** rule.mu
    dw += rule.eta_post * ltp
    if rule.eta_pre > 0:
        dw -= rule.eta_pre * ltd
    post_f = post.to(w.dtype)
    new = TraceState(
        _end_trace(pre_f, pre_t.tau, pre_t.scale, dt).reshape(B, *pre_spikes.shape[2:]),
        _end_trace(post_f, post_t.tau, post_t.scale, dt).reshape(B, *post_spikes.shape[2:]),
    )
    if reduction is Reduction.SUM or B == 1:
        return dw, new
    return reduce_batch(dw, B, reduction), new
