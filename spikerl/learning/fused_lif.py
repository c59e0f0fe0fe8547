"""A compiled forward and backward pass of the surrogate LIF over a whole window.

The eager :class:`~spikerl.learning.surrogate.SurrogateLIF` runs one autograd graph node
per operation per step; over ``T`` steps the backward pass replays ``~15 T`` small kernels.
Here the window is one :class:`torch.autograd.Function`: the forward scan (numba, in the
input's dtype, the same float operations in the same order as
:func:`~spikerl.learning.surrogate.surrogate_lif_step`, so the spikes are identical) keeps
only its input; the backward pass recomputes the pre-reset potentials of a block of units
(cache-resident) and runs the reverse scan over them. Memory per window: the spikes and the
input gradient, nothing else (allocating and first touching a ``[T, B, n]`` buffer costs
more here than recomputing it: ~2.4 ms against ~1 ms for 1.6 M floats on this machine).

Per unit, with ``a = exp(-dt / tau_mem)``, ``c = v_thresh - v_reset`` and ``g`` the
surrogate derivative, forward:

    u[t] = v_rest + (v[t-1] - v_rest) a + x[t]          (pre-reset potential, mV)
    s[t] = H(u[t] - v_thresh)
    v[t] = v_reset if s[t] else u[t]                    (hard reset)
    v[t] = u[t] - c s[t]                                (soft reset)

backward (``gv`` = dL/dv[t] from step t+1, zero after the window):

    gs      = dL/ds[t] + gv * dv/ds                     (dv/ds = v_reset - u or -c; 0 if detached)
    gu      = gs g(u[t] - v_thresh) + gv * dv/du        (dv/du = 1 - s (hard) or 1 (soft))
    dL/dx[t] = gu,  dL/dv[t-1] = a gu

Only the refractory-free case (``refrac == 0``) is fused; others use the eager path.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from spikerl.core.kernels import enabled, usable
from spikerl.core.neurons.base import Reset
from spikerl.core.neurons.lif import LIFParams

try:
    import numba
except ImportError:  # pragma: no cover
    numba = None  # type: ignore[assignment]

#: Surrogate codes understood by the kernels.
FAST_SIGMOID, ATAN, SIGMOID = 0, 1, 2

#: Units per parallel block of the kernels.
_BLOCK = 512


@functools.cache
def _compile(parallel: bool) -> tuple[Any, Any]:
    """The forward and backward kernels, serial or over blocks of units in parallel."""
    jit = numba.njit(cache=True, fastmath=False, nogil=True, parallel=parallel)
    loop = numba.prange if parallel else range

    @jit  # type: ignore[misc]
    def scan(x, v, a, v_rest, v_thresh, v_reset, soft_c, soft, lo, hi, out):  # type: ignore[no-untyped-def]
        # Units lo:hi over the window from potentials v (updated in place); writes the
        # pre-reset potentials u into out[:, lo:hi]. Time outside, units inside: contiguous
        # and branch-free (vectorised).
        zero = x.dtype.type(0.0)
        for t in range(x.shape[0]):
            xt = x[t, lo:hi]
            ut = out[t, lo:hi]
            for j in range(hi - lo):
                u = v_rest + (v[j] - v_rest) * a + xt[j]
                ut[j] = u
                fired = u - v_thresh >= zero
                if soft:
                    v[j] = u - soft_c if fired else u
                else:
                    v[j] = v_reset if fired else u

    @jit  # type: ignore[misc]
    def fwd(x, v0, a, v_rest, v_thresh, v_reset, soft_c, soft, spikes, vT):  # type: ignore[no-untyped-def]
        T, M = x.shape
        zero = x.dtype.type(0.0)
        one = x.dtype.type(1.0)
        n_blocks = (M + _BLOCK - 1) // _BLOCK
        for b in loop(n_blocks):
            lo = b * _BLOCK
            hi = min(M, lo + _BLOCK)
            v = v0[lo:hi].copy()
            # The spikes buffer holds u first, then is overwritten by the spikes.
            scan(x, v, a, v_rest, v_thresh, v_reset, soft_c, soft, lo, hi, spikes)
            for t in range(T):
                st = spikes[t, lo:hi]
                for j in range(hi - lo):
                    st[j] = one if st[j] - v_thresh >= zero else zero
            vT[lo:hi] = v

    @jit  # type: ignore[misc]
    def bwd(gs_in, x, v0, a, v_rest, v_thresh, v_reset, soft_c, soft, detach, kind, k, gx, gv0):  # type: ignore[no-untyped-def]
        # Per block of units: recompute the pre-reset potentials into gx (the same float
        # operations as the forward pass, so the same values; the block stays in cache),
        # then the reverse scan overwrites them with the gradient, step by step.
        T, M = x.shape
        one = x.dtype.type(1.0)
        zero = x.dtype.type(0.0)
        half_pik = x.dtype.type(math.pi / 2.0) * k
        half_k = k / x.dtype.type(2.0)
        n_blocks = (M + _BLOCK - 1) // _BLOCK
        for b in loop(n_blocks):
            lo = b * _BLOCK
            hi = min(M, lo + _BLOCK)
            L = hi - lo
            v = v0[lo:hi].copy()
            scan(x, v, a, v_rest, v_thresh, v_reset, soft_c, soft, lo, hi, gx)
            gv = np.zeros(L, dtype=x.dtype)
            g = np.empty(L, dtype=x.dtype)
            s = np.empty(L, dtype=x.dtype)
            gsr = np.empty(L, dtype=x.dtype)
            for t in range(T - 1, -1, -1):
                out = gx[t, lo:hi]  # u[t] on entry, dL/dx[t] on exit
                gst = gs_in[t, lo:hi]  # any strides (e.g. the broadcast gradient of a sum)
                for j in range(L):
                    gsr[j] = gst[j]
                if kind == 0:
                    for j in range(L):
                        den = one + k * abs(out[j] - v_thresh)
                        g[j] = one / (den * den)
                elif kind == 1:
                    for j in range(L):
                        q = half_pik * (out[j] - v_thresh)
                        g[j] = half_k / (one + q * q)
                else:
                    for j in range(L):
                        sig = one / (one + math.exp(-k * (out[j] - v_thresh)))
                        g[j] = k * sig * (one - sig)
                for j in range(L):
                    s[j] = one if out[j] - v_thresh >= zero else zero
                if soft and detach:
                    for j in range(L):
                        gu = gsr[j] * g[j] + gv[j]
                        out[j] = gu
                        gv[j] = a * gu
                elif soft:
                    for j in range(L):
                        gu = (gsr[j] - gv[j] * soft_c) * g[j] + gv[j]
                        out[j] = gu
                        gv[j] = a * gu
                elif detach:
                    for j in range(L):
                        gu = gsr[j] * g[j] + gv[j] * (one - s[j])
                        out[j] = gu
                        gv[j] = a * gu
                else:
                    for j in range(L):
                        gu = (gsr[j] + gv[j] * (v_reset - out[j])) * g[j] + gv[j] * (one - s[j])
                        out[j] = gu
                        gv[j] = a * gu
            gv0[lo:hi] = gv

    return fwd, bwd


def _threads() -> int:
    """Threads for the kernels: as many as torch uses (``torch.set_num_threads``), so that a
    program limited to one thread stays on one (and comparisons stay fair)."""
    return max(1, min(torch.get_num_threads(), int(numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]


def _run(which: int, *args: Any) -> None:
    """Call the forward (0) or backward (1) kernel on :func:`_threads` threads."""
    n = _threads()
    kernel = _compile(n > 1)[which]
    if n == 1:
        kernel(*args)
        return
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        kernel(*args)
    finally:
        numba.set_num_threads(before)


def _surrogate_code(surrogate: object) -> tuple[int, float] | None:
    from spikerl.learning.surrogate import ATan, FastSigmoid, Sigmoid

    if isinstance(surrogate, FastSigmoid):
        return FAST_SIGMOID, surrogate.slope
    if isinstance(surrogate, ATan):
        return ATAN, surrogate.alpha
    if isinstance(surrogate, Sigmoid):
        return SIGMOID, surrogate.slope
    return None


def _constants(params: LIFParams, dt: float, npt: Any) -> tuple[Any, ...]:
    """``a, v_rest, v_thresh, v_reset, v_thresh - v_reset, soft`` in the kernels' dtype."""
    return (
        npt(math.exp(-dt / params.tau_mem)),
        npt(params.v_rest),
        npt(params.v_thresh),
        npt(params.v_reset),
        npt(params.v_thresh - params.v_reset),
        params.reset is Reset.SOFT,
    )


class _FusedLIF(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: Tensor,
        v0: Tensor,
        params: LIFParams,
        dt: float,
        code: tuple[int, float],
        detach_reset: bool,
    ) -> tuple[Tensor, Tensor]:
        T = x.shape[0]
        x2 = x.detach().reshape(T, -1).contiguous()
        v = v0.detach().reshape(-1).contiguous()
        spikes = torch.empty_like(x2)
        vT = torch.empty_like(v)
        npt = x2.numpy().dtype.type
        _run(0, x2.numpy(), v.numpy(), *_constants(params, dt, npt), spikes.numpy(), vT.numpy())
        # Only the inputs are kept: the backward pass recomputes the potentials, which
        # costs less than allocating and filling a second [T, B, n] buffer here.
        ctx.save_for_backward(x2, v)
        ctx.meta = (params, dt, code, detach_reset, x.shape, v0.shape)
        ctx.mark_non_differentiable(vT)
        return spikes.reshape(x.shape), vT.reshape(v0.shape)

    @staticmethod
    def backward(ctx: Any, grad_s: Tensor, _grad_v: Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        x2, v = ctx.saved_tensors
        params, dt, code, detach_reset, x_shape, v_shape = ctx.meta
        gs = grad_s.to(x2.dtype).reshape(x2.shape)  # may be a broadcast view (stride 0)
        gx = torch.empty_like(x2)
        gv0 = torch.empty_like(v)
        npt = x2.numpy().dtype.type
        _run(
            1,
            gs.numpy(),
            x2.numpy(),
            v.numpy(),
            *_constants(params, dt, npt),
            bool(detach_reset),
            int(code[0]),
            npt(code[1]),
            gx.numpy(),
            gv0.numpy(),
        )
        return gx.reshape(x_shape), gv0.reshape(v_shape), None, None, None, None


def fused_lif_window(
    x: Tensor,
    v0: Tensor,
    params: LIFParams,
    dt: float,
    surrogate: object,
    detach_reset: bool,
) -> tuple[Tensor, Tensor] | None:
    """Spikes ``[T, B, ...]`` and final potential of a refractory-free surrogate LIF window.

    Returns ``None`` when the fused path does not apply (numba missing or disabled, a
    non-CPU device, an unsupported dtype or surrogate, or a refractory period), so the
    caller falls back to the eager scan.
    """
    if not enabled() or params.refrac > 0 or x.shape[0] == 0:
        return None
    if not usable(x.detach(), v0.detach()) or x.dtype != v0.dtype:
        return None
    code = _surrogate_code(surrogate)
    if code is None:
        return None
    spikes, vT = _FusedLIF.apply(x, v0, params, dt, code, detach_reset)
    return spikes, vT


__all__ = ["ATAN", "FAST_SIGMOID", "SIGMOID", "fused_lif_window"]
