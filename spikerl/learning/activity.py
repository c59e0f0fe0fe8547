"""What a learning rule reads: spikes and traces per weight location, over a window.

Every projection exposes ``unfold_pre``/``unfold_post``/``fold`` (see
:mod:`spikerl.core.projections`), so rules are written once against the unfolded layout

    pre  [T, B, L, K]   presynaptic values seen by location l through input k
    post [T, B, L, N]   postsynaptic units at location l

and the projection folds a per-location change ``[L, K, N]`` back to its weight's shape.
A single step is a window of ``T = 1``; online and window plasticity run the same code.

Timing convention (the network's one step of synaptic delay): the presynaptic spike a
synapse sees at step ``t`` is the source spike emitted at step ``t - 1``, i.e. the spike
*arriving* at the synapse at ``t``. Spike-timing differences are ``dt = t_post - t_arrival``
(``= t_post - t_emit - 1`` step).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from spikerl._checks import check_positive
from spikerl.core import kernels
from spikerl.core.projections import Projection
from spikerl.learning.traces import TraceParams, trace_window


class Reduction(enum.Enum):
    """How per-sample weight changes of a batch are combined into one change.

    ``MEAN`` (default): ``dw = (1/B) sum_b dw_b``. ``SUM``: ``dw = sum_b dw_b``.
    """

    MEAN = "mean"
    SUM = "sum"


def reduce_batch(dw_sum: Tensor, batch_size: int, reduction: Reduction) -> Tensor:
    """Turn a batch-summed change into the reduced one (divide by ``B`` for ``MEAN``)."""
    if not isinstance(reduction, Reduction):
        raise TypeError(f"reduction must be a Reduction, got {type(reduction).__name__}")
    return dw_sum / batch_size if reduction is Reduction.MEAN else dw_sum


@dataclass(frozen=True)
class Activity:
    """Unfolded spikes and traces of one projection over a window of ``T`` steps.

    Attributes:
        pre: Presynaptic spikes arriving at each step ``[T, B, L, K]``.
        post: Postsynaptic spikes ``[T, B, L, N]``.
        pre_trace: Presynaptic trace including step ``t``'s spikes ``[T, B, L, K]``.
        post_trace: Postsynaptic trace including step ``t``'s spikes ``[T, B, L, N]``.
        pre_trace_before: Presynaptic trace decayed to step ``t``, before its spikes.
        post_trace_before: Postsynaptic trace decayed to step ``t``, before its spikes.
        dt: Step (ms).
    """

    pre: Tensor
    post: Tensor
    pre_trace: Tensor
    post_trace: Tensor
    pre_trace_before: Tensor
    post_trace_before: Tensor
    dt: float

    @property
    def steps(self) -> int:
        """Window length ``T``."""
        return int(self.pre.shape[0])

    @property
    def batch_size(self) -> int:
        """Batch size ``B``."""
        return int(self.pre.shape[1])


@dataclass(frozen=True)
class TraceState:
    """Traces at the end of a window, ``[B, *source]`` and ``[B, *target]`` (dimensionless)."""

    pre: Tensor
    post: Tensor


def _unfold_window(x: Tensor, unfold: object, shape: Sequence[int]) -> Tensor:
    T, B = x.shape[0], x.shape[1]
    flat = x.reshape(T * B, *shape)
    out: Tensor = unfold(flat)  # type: ignore[operator]
    return out.reshape(T, B, *out.shape[1:])


def _check_window(name: str, x: Tensor, shape: tuple[int, ...]) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != len(shape) + 2 or tuple(x.shape[2:]) != shape:
        raise ValueError(
            f"{name}: expected shape [T, B, {', '.join(map(str, shape))}], got {list(x.shape)}"
        )


def compute_activity(
    projection: Projection,
    pre_spikes: Tensor,
    post_spikes: Tensor,
    pre_params: TraceParams,
    post_params: TraceParams,
    dt: float = 1.0,
    traces: TraceState | None = None,
) -> tuple[Activity, TraceState]:
    """Traces and unfolded activity of ``projection`` over a window.

    Args:
        projection: The projection whose weights will learn.
        pre_spikes: Presynaptic spikes *as they arrive* at the synapses, ``[T, B, *source]``
            (the source's spikes delayed by the network's one step).
        post_spikes: Postsynaptic spikes ``[T, B, *target]``.
        pre_params: Presynaptic trace constants (e.g. ``tau_plus``).
        post_params: Postsynaptic trace constants (e.g. ``tau_minus``).
        dt: Step (ms).
        traces: Traces before the window (``None``: zeros).

    Returns:
        ``(activity, traces_at_end)``.

    Raises:
        ValueError: On shapes that do not match the projection or each other.
    """
    check_positive("dt", dt)
    _check_window("pre_spikes", pre_spikes, projection.source_shape)
    _check_window("post_spikes", post_spikes, projection.target_shape)
    if pre_spikes.shape[:2] != post_spikes.shape[:2]:
        raise ValueError(
            f"pre_spikes [T, B] = {list(pre_spikes.shape[:2])} and post_spikes "
            f"[T, B] = {list(post_spikes.shape[:2])} differ"
        )
    dtype = projection.weight.dtype
    B = pre_spikes.shape[1]
    pre_s, post_s = pre_spikes.to(dtype), post_spikes.to(dtype)
    if traces is None:
        x0_pre = torch.zeros(B, *projection.source_shape, dtype=dtype, device=pre_s.device)
        x0_post = torch.zeros(B, *projection.target_shape, dtype=dtype, device=post_s.device)
    else:
        x0_pre, x0_post = traces.pre.to(dtype), traces.post.to(dtype)
        if tuple(x0_pre.shape) != (B, *projection.source_shape) or tuple(x0_post.shape) != (
            B,
            *projection.target_shape,
        ):
            raise ValueError(
                f"trace state has batch {x0_pre.shape[0]} but the spikes have batch {B}; "
                "reset the plasticity state when the batch size changes"
            )
    x_pre, xb_pre = trace_window(pre_s, x0_pre, pre_params, dt)
    x_post, xb_post = trace_window(post_s, x0_post, post_params, dt)
    src, tgt = projection.source_shape, projection.target_shape
    act = Activity(
        pre=_unfold_window(pre_s, projection.unfold_pre, src),
        post=_unfold_window(post_s, projection.unfold_post, tgt),
        pre_trace=_unfold_window(x_pre, projection.unfold_pre, src),
        post_trace=_unfold_window(x_post, projection.unfold_post, tgt),
        pre_trace_before=_unfold_window(xb_pre, projection.unfold_pre, src),
        post_trace_before=_unfold_window(xb_post, projection.unfold_post, tgt),
        dt=float(dt),
    )
    return act, TraceState(x_pre[-1], x_post[-1])


def outer(pre: Tensor, post: Tensor, coeff: Tensor | None = None) -> Tensor:
    """Per-location sum over time and batch of ``coeff[t, b] pre[t, b, l, k] post[t, b, l, n]``.

    Args:
        pre: ``[T, B, L, K]``.
        post: ``[T, B, L, N]``.
        coeff: Optional ``[T, B]`` weights (e.g. the modulation signal).

    Returns:
        ``[L, K, N]`` (one contraction over time and batch).
    """
    if coeff is not None:
        pre = pre * coeff.to(pre.dtype)[:, :, None, None]
    if pre.shape[2] == 1:  # dense or sparse projection: one location, maybe event-driven
        fast = _event_outer(pre.flatten(0, 2), post.flatten(0, 2))
        if fast is not None:
            return fast.unsqueeze(0)
    return torch.einsum("tblk,tbln->lkn", pre, post)


#: Largest fraction of non-zero entries for which :func:`outer` goes event-driven.
EVENT_OUTER_MAX_DENSITY = 0.1


def _event_outer(p: Tensor, q: Tensor) -> Tensor | None:
    """``p^T q`` for ``p [R, K]``, ``q [R, N]`` by adding rows at the non-zeros of the sparser.

    Spike matrices are mostly zeros: ``p^T q = (q^T p)^T`` is then a sum, over each spike,
    of one row of the other (trace) matrix. ``None`` when neither operand is sparse enough or
    the compiled kernels do not apply.
    """
    d_p = float(torch.count_nonzero(p)) / max(p.numel(), 1)
    d_q = float(torch.count_nonzero(q)) / max(q.numel(), 1)
    if min(d_p, d_q) > EVENT_OUTER_MAX_DENSITY:
        return None
    if d_q <= d_p:
        out = kernels.event_matmul_rows(q.T.contiguous(), p.contiguous())
        return None if out is None else out.T
    return kernels.event_matmul_rows(p.T.contiguous(), q.contiguous())


def outer_per_sample(pre: Tensor, post: Tensor, coeff: Tensor | None = None) -> Tensor:
    """As :func:`outer` without summing over the batch: ``[B, L, K, N]``."""
    if coeff is not None:
        pre = pre * coeff.to(pre.dtype)[:, :, None, None]
    return torch.einsum("tblk,tbln->blkn", pre, post)


def fold_batch(projection: Projection, dw: Tensor) -> Tensor:
    """Fold per-sample changes ``[B, L, K, N]`` to ``[B, *weight.shape]``."""
    return torch.stack([projection.fold(dw[b]) for b in range(dw.shape[0])], dim=0)


def as_modulation(
    signal: object, steps: int, batch_size: int, *, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Broadcast a modulatory signal (reward, RPE, TD error) to ``[T, B]``.

    Args:
        signal: A float (same for all), a tensor ``[]``, ``[B]`` (one per batch element,
            constant over the window) or ``[T, B]`` (per step).
        steps: ``T``.
        batch_size: ``B``.
        dtype: Result dtype.

    Raises:
        TypeError: If ``signal`` is not a number or tensor.
        ValueError: If it holds NaN/inf or has an incompatible shape.
    """
    if isinstance(signal, bool) or not isinstance(signal, int | float | Tensor):
        raise TypeError(
            f"modulation must be a float or a Tensor ([B] or [T, B]), got {type(signal).__name__}"
        )
    if isinstance(signal, int | float):
        if not math.isfinite(float(signal)):
            raise ValueError(f"modulation (reward) must be finite, got {signal!r}")
        return torch.full((steps, batch_size), float(signal), dtype=dtype)
    m = signal.detach().to(dtype)
    if m.is_floating_point() and not bool(torch.isfinite(m).all()):
        raise ValueError("modulation (reward) holds NaN or inf; it must be finite")
    if m.dim() == 0:
        return m.expand(steps, batch_size)
    if m.dim() == 1 and m.shape[0] == batch_size:
        return m.unsqueeze(0).expand(steps, batch_size)
    if m.dim() == 2 and tuple(m.shape) == (steps, batch_size):
        return m
    raise ValueError(
        f"modulation: expected a scalar, [B] = [{batch_size}] or [T, B] = [{steps}, "
        f"{batch_size}], got {list(m.shape)}"
    )
