"""A compiled forward and backward pass of the surrogate LIF over a whole window.

The eager :class:`~spikerl.learning.surrogate.SurrogateLIF` runs one autograd graph node
per operation per step; over ``T`` steps the backward pass replays ``~15 T`` small kernels.
Here the window is one :class:`torch.autograd.Function`: the forward scan (numba, in the
input's dtype, the same float operations in the same order as
:func:`~spikerl.learning.surrogate.surrogate_lif_step`, so the spikes are identical) saves
the pre-reset potentials, and the backward pass is one reverse scan.

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

_fwd: Any = None
_bwd: Any = None


def _compile() -> None:
    global _fwd, _bwd
    if _fwd is not None:
        return
    jit = numba.njit(cache=True, fastmath=False, nogil=True, parallel=True)

    @jit  # type: ignore[misc]
    def fwd(x, v0, a, v_rest, v_thresh, v_reset, soft_c, soft, spikes, upre, vT):  # type: ignore[no-untyped-def]
        # Blocks of units in parallel; inside a block, time outside and units inside, so
        # every access is contiguous.
        T, M = x.shape
        zero = x.dtype.type(0.0)
        one = x.dtype.type(1.0)
        n_blocks = (M + _BLOCK - 1) // _BLOCK
        for b in numba.prange(n_blocks):
            lo = b * _BLOCK
            hi = min(M, lo + _BLOCK)
            v = v0[lo:hi].copy()
            for t in range(T):
                for j in range(hi - lo):
                    m = lo + j
                    u = v_rest + (v[j] - v_rest) * a + x[t, m]
                    upre[t, m] = u
                    if u - v_thresh >= zero:
                        spikes[t, m] = one
                        v[j] = u - soft_c if soft else v_reset
                    else:
                        spikes[t, m] = zero
                        v[j] = u
            vT[lo:hi] = v

    @jit  # type: ignore[misc]
    def bwd(gs_in, upre, spikes, a, v_thresh, v_reset, soft_c, soft, detach, kind, k, gx, gv0):  # type: ignore[no-untyped-def]
        T, M = gs_in.shape
        n_blocks = (M + _BLOCK - 1) // _BLOCK
        for b in numba.prange(n_blocks):
            lo = b * _BLOCK
            hi = min(M, lo + _BLOCK)
            gv = np.zeros(hi - lo)
            for t in range(T - 1, -1, -1):
                for j in range(hi - lo):
                    m = lo + j
                    u = float(upre[t, m])
                    s = float(spikes[t, m])
                    d = u - v_thresh
                    if kind == 0:
                        den = 1.0 + k * abs(d)
                        g = 1.0 / (den * den)
                    elif kind == 1:
                        q = math.pi * k * d / 2.0
                        g = (k / 2.0) / (1.0 + q * q)
                    else:
                        sig = 1.0 / (1.0 + math.exp(-k * d))
                        g = k * sig * (1.0 - sig)
                    gs = float(gs_in[t, m])
                    if not detach:
                        gs += gv[j] * (-soft_c if soft else (v_reset - u))
                    gu = gs * g + gv[j] * (1.0 if soft else (1.0 - s))
                    gx[t, m] = gu
                    gv[j] = a * gu
            gv0[lo:hi] = gv

    _fwd, _bwd = fwd, bwd


def _surrogate_code(surrogate: object) -> tuple[int, float] | None:
    from spikerl.learning.surrogate import ATan, FastSigmoid, Sigmoid

    if isinstance(surrogate, FastSigmoid):
        return FAST_SIGMOID, surrogate.slope
    if isinstance(surrogate, ATan):
        return ATAN, surrogate.alpha
    if isinstance(surrogate, Sigmoid):
        return SIGMOID, surrogate.slope
    return None


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
        npt = x2.numpy().dtype.type
        spikes = torch.empty_like(x2)
        upre = torch.empty_like(x2)
        vT = torch.empty_like(v)
        soft = params.reset is Reset.SOFT
        _fwd(
            x2.numpy(),
            v.numpy(),
            npt(math.exp(-dt / params.tau_mem)),
            npt(params.v_rest),
            npt(params.v_thresh),
            npt(params.v_reset),
            npt(params.v_thresh - params.v_reset),
            soft,
            spikes.numpy(),
            upre.numpy(),
            vT.numpy(),
        )
        ctx.save_for_backward(upre, spikes)
        ctx.meta = (params, dt, code, detach_reset, x.shape, v0.shape)
        ctx.mark_non_differentiable(vT)
        return spikes.reshape(x.shape), vT.reshape(v0.shape)

    @staticmethod
    def backward(ctx: Any, grad_s: Tensor, _grad_v: Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        upre, spikes = ctx.saved_tensors
        params, dt, code, detach_reset, x_shape, v_shape = ctx.meta
        gs = grad_s.reshape(upre.shape).contiguous().to(upre.dtype)
        gx = torch.empty_like(upre)
        gv0 = torch.empty(upre.shape[1], dtype=upre.dtype)
        _bwd(
            gs.numpy(),
            upre.numpy(),
            spikes.numpy(),
            math.exp(-dt / params.tau_mem),
            float(params.v_thresh),
            float(params.v_reset),
            float(params.v_thresh - params.v_reset),
            params.reset is Reset.SOFT,
            bool(detach_reset),
            int(code[0]),
            float(code[1]),
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
    _compile()
    spikes, vT = _FusedLIF.apply(x, v0, params, dt, code, detach_reset)
    return spikes, vT


__all__ = ["ATAN", "FAST_SIGMOID", "SIGMOID", "fused_lif_window"]

_ = np  # numpy arrays are what the kernels see
