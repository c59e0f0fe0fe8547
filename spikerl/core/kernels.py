"""Compiled CPU kernels (numba) behind the fast paths of the core.

The kernels, each bit-exact against the eager step functions it replaces (same float
operations in the same order, no fast-math and no FMA contraction, in the state's dtype):

* :func:`neuron_scan`: a neuron population scanned over a window ``[T, B, *shape]``
  (:meth:`Neuron.run <spikerl.core.neurons.base.Neuron.run>` on CPU without autograd);
* :func:`event_matmul_rows`: event-driven ``x @ w`` for mostly-zero ``x`` (one weight row
  added per non-zero input), the window path's sparse propagation;
* the step functions of the LIF family (``_pop_step``), which the compiled window plans of
  :mod:`spikerl.core.backends.compiled` run for whole networks.

The eager torch code stays the reference and serves every case the kernels do not:
non-CPU devices, tensors that need gradients, unsupported neuron models or projections.
Set ``SPIKERL_NO_KERNELS=1`` to force the eager paths (e.g. to compare).

Summation order: the kernels add the weight rows of active inputs in index order; a dense
product may sum in another order, so currents can differ in the last bit between
propagation methods (as between the eager dense and event-driven paths). Neuron updates
given the same currents are identical.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

try:  # numba is a dependency, but the package still works without it (eager paths only).
    import numba

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None  # type: ignore[assignment]
    _HAVE_NUMBA = False

__all__ = [
    "KIND_ADAPTIVE",
    "KIND_CUBA",
    "KIND_DIEHL_COOK",
    "KIND_IF",
    "KIND_INPUT",
    "KIND_LIF",
    "enabled",
    "event_matmul_rows",
    "neuron_kind",
    "neuron_scan",
    "trace_scan",
]

KIND_INPUT = 0
KIND_IF = 1
KIND_LIF = 2
KIND_ADAPTIVE = 3
KIND_DIEHL_COOK = 4
KIND_CUBA = 5

#: Parameter vector layout (one row per population, in the state's dtype).
_P_A, _P_VREST, _P_VTH, _P_VRESET, _P_REFRAC, _P_DT = 0, 1, 2, 3, 4, 5
_P_TDECAY, _P_TPLUS, _P_ASYN, _P_SOFT, _P_ADAPT, _P_SOFTDIFF, _P_ZERO, _P_ONE = range(6, 14)
_N_PARAMS = 14

#: State fields a scan can record, by code.
_FIELDS = {"v": 0, "refrac": 1, "theta": 2, "i": 3}

_SUPPORTED_DTYPES = (torch.float32, torch.float64)


def enabled() -> bool:
    """Whether the compiled kernels may be used (numba present, not disabled by env)."""
    return _HAVE_NUMBA and os.environ.get("SPIKERL_NO_KERNELS", "") in ("", "0")


def usable(*tensors: Tensor) -> bool:
    """Whether the kernels can replace eager code on these tensors (CPU, no autograd)."""
    if not enabled():
        return False
    for t in tensors:
        if t.device.type != "cpu" or t.requires_grad or t.dtype not in _SUPPORTED_DTYPES:
            return False
    return True


# -- parameters -------------------------------------------------------------------------
def neuron_kind(neuron: Any) -> int | None:
    """Kernel code of a neuron module, or ``None`` when no kernel implements it."""
    from spikerl.core.neurons.adaptive import AdaptiveLIF, DiehlCook, DiehlCookParams
    from spikerl.core.neurons.base import Reset
    from spikerl.core.neurons.cuba import CubaLIF
    from spikerl.core.neurons.input import Input
    from spikerl.core.neurons.lif import IF, LIF

    t = type(neuron)
    p = neuron.params
    reset = getattr(p, "reset", Reset.HARD)
    if not isinstance(reset, Reset):
        return None
    if t is Input:
        return KIND_INPUT
    if t is IF:
        return KIND_IF
    if t is LIF:
        return KIND_LIF
    if t is CubaLIF:
        return KIND_CUBA
    if t is AdaptiveLIF:
        return KIND_ADAPTIVE
    if t is DiehlCook:
        if isinstance(p, DiehlCookParams) and p.one_spike:
            return KIND_DIEHL_COOK
        return KIND_ADAPTIVE
    return None


def neuron_params(neuron: Any, kind: int, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """The parameter vector of a population, rounded to ``dtype`` as torch rounds scalars."""
    from spikerl.core.neurons.base import Reset

    p = neuron.params
    dt = float(neuron.dt)
    out = np.zeros(_N_PARAMS, dtype=np.float64)
    out[_P_ONE] = 1.0
    if kind == KIND_INPUT:
        return out.astype(dtype)
    tau = getattr(p, "tau_mem", None)
    out[_P_A] = math.exp(-dt / tau) if tau is not None else 1.0
    out[_P_VREST] = getattr(p, "v_rest", 0.0)
    out[_P_VTH] = p.v_thresh
    out[_P_VRESET] = p.v_reset
    out[_P_REFRAC] = p.refrac
    out[_P_DT] = dt
    if kind in (KIND_ADAPTIVE, KIND_DIEHL_COOK):
        out[_P_TDECAY] = math.exp(-dt / p.tau_theta)
        out[_P_TPLUS] = p.theta_plus
        out[_P_ADAPT] = 1.0 if p.adapt else 0.0
    if kind == KIND_CUBA:
        out[_P_ASYN] = math.exp(-dt / p.tau_syn)
    out[_P_SOFT] = 1.0 if p.reset is Reset.SOFT else 0.0
    # torch computes `v_thresh - v_reset` in Python doubles when both are scalars.
    out[_P_SOFTDIFF] = p.v_thresh - p.v_reset
    return out.astype(dtype)


def _state_fields(kind: int) -> tuple[str, ...]:
    if kind in (KIND_IF, KIND_LIF):
        return ("v", "refrac")
    if kind in (KIND_ADAPTIVE, KIND_DIEHL_COOK):
        return ("v", "refrac", "theta")
    if kind == KIND_CUBA:
        return ("v", "i", "refrac")
    return ()


# -- numba kernels ----------------------------------------------------------------------
if _HAVE_NUMBA:
    _jit = numba.njit(cache=True, fastmath=False, nogil=True)

    @_jit
    def _pop_step(kind, prm, x, v, rf, th, syn, s):  # type: ignore[no-untyped-def]
        """One step of one batch row of a population, in place; spikes into ``s``.

        Mirrors the torch step functions operation by operation.
        """
        n = v.shape[0]
        zero = prm[_P_ZERO]
        one = prm[_P_ONE]
        a = prm[_P_A]
        vr = prm[_P_VREST]
        vth = prm[_P_VTH]
        vreset = prm[_P_VRESET]
        rp = prm[_P_REFRAC]
        dt = prm[_P_DT]
        soft = prm[_P_SOFT] != zero
        softdiff = prm[_P_SOFTDIFF]
        if kind == KIND_DIEHL_COOK:
            # Pass 1: integrate, find the winner among units above threshold.
            best = -np.inf
            win = 0
            for j in range(n):
                active = rf[j] <= zero
                xin = x[j] if active else zero
                vv = (vr + (v[j] - vr) * a) + xin
                v[j] = vv
                thr = vth + th[j]
                if (vv >= thr) and active:
                    m = vv - thr
                    if m > best:
                        best = m
                        win = j
            # Pass 2: fire the winner, refractory bookkeeping, theta.
            tdec = prm[_P_TDECAY]
            tplus = prm[_P_TPLUS]
            adapt = prm[_P_ADAPT] != zero
            for j in range(n):
                active = rf[j] <= zero
                r = rf[j] - dt
                if r < zero:
                    r = zero
                thr = vth + th[j]
                fired = (v[j] >= thr) and active and j == win
                if fired:
                    if soft:
                        v[j] = v[j] - (thr - vreset)
                    else:
                        v[j] = vreset
                    r = rp
                rf[j] = r
                sj = one if fired else zero
                s[j] = sj
                if adapt:
                    th[j] = th[j] * tdec + tplus * sj
            return
        tdec = prm[_P_TDECAY]
        tplus = prm[_P_TPLUS]
        asyn = prm[_P_ASYN]
        if kind == KIND_IF:
            for j in range(n):
                active = rf[j] <= zero
                vv = v[j] + (x[j] if active else zero)
                r = rf[j] - dt
                r = r if r >= zero else zero
                fired = (vv >= vth) & active
                vs = (vv - softdiff) if soft else vreset
                v[j] = vs if fired else vv
                rf[j] = rp if fired else r
                s[j] = one if fired else zero
        elif kind == KIND_LIF:
            for j in range(n):
                active = rf[j] <= zero
                vv = (vr + (v[j] - vr) * a) + (x[j] if active else zero)
                r = rf[j] - dt
                r = r if r >= zero else zero
                fired = (vv >= vth) & active
                vs = (vv - softdiff) if soft else vreset
                v[j] = vs if fired else vv
                rf[j] = rp if fired else r
                s[j] = one if fired else zero
        elif kind == KIND_CUBA:
            for j in range(n):
                active = rf[j] <= zero
                ii = syn[j] * asyn + x[j]
                syn[j] = ii
                vv = (vr + (v[j] - vr) * a) + (ii if active else zero)
                r = rf[j] - dt
                r = r if r >= zero else zero
                fired = (vv >= vth) & active
                vs = (vv - softdiff) if soft else vreset
                v[j] = vs if fired else vv
                rf[j] = rp if fired else r
                s[j] = one if fired else zero
        else:  # KIND_ADAPTIVE
            adapt = prm[_P_ADAPT] != zero
            for j in range(n):
                active = rf[j] <= zero
                vv = (vr + (v[j] - vr) * a) + (x[j] if active else zero)
                thr = vth + th[j]
                r = rf[j] - dt
                r = r if r >= zero else zero
                fired = (vv >= thr) & active
                vs = (vv - (thr - vreset)) if soft else vreset
                v[j] = vs if fired else vv
                rf[j] = rp if fired else r
                sj = one if fired else zero
                s[j] = sj
                if adapt:
                    th[j] = th[j] * tdec + tplus * sj

    @_jit
    def _add_row(acc, b, to, w, k, xv):  # type: ignore[no-untyped-def]
        """``acc[b, to:to+n] += xv * w[k]`` (plain add for unit events)."""
        n = w.shape[1]
        ab = acc[b, to : to + n]
        wk = w[k]
        if xv == 1:
            for j in range(n):
                ab[j] += wk[j]
        else:
            for j in range(n):
                ab[j] += xv * wk[j]

    @_jit
    def _scan_kernel(kind, prm, x, v, rf, th, syn, spikes, rec, codes):  # type: ignore[no-untyped-def]
        """Scan ``x [T, B, N]``; state ``[B, N]`` updated in place; ``rec [K, T, B, N]``."""
        T = x.shape[0]
        B = x.shape[1]
        for t in range(T):
            for b in range(B):
                _pop_step(kind, prm, x[t, b], v[b], rf[b], th[b], syn[b], spikes[t, b])
                for k in range(codes.shape[0]):
                    c = codes[k]
                    if c == 0:
                        rec[k, t, b] = v[b]
                    elif c == 1:
                        rec[k, t, b] = rf[b]
                    elif c == 2:
                        rec[k, t, b] = th[b]
                    else:
                        rec[k, t, b] = syn[b]

    @_jit
    def _event_rows_kernel(x, w, out):  # type: ignore[no-untyped-def]
        """``out[r] = sum_k x[r, k] w[k]`` over the non-zero ``x[r, k]`` (index order)."""
        R = x.shape[0]
        K = x.shape[1]
        N = w.shape[1]
        for r in range(R):
            o = out[r]
            first = True
            for k in range(K):
                xv = x[r, k]
                if xv != 0:
                    wk = w[k]
                    if first:
                        for j in range(N):
                            o[j] = xv * wk[j]
                        first = False
                    elif xv == 1:
                        for j in range(N):
                            o[j] += wk[j]
                    else:
                        for j in range(N):
                            o[j] += xv * wk[j]

    @_jit
    def _scatter_rows_kernel(s, d, out):  # type: ignore[no-untyped-def]
        """``out[k] += sum_r s[r, k] d[r]`` over the non-zero ``s[r, k]`` (``out [K, N]``)."""
        R = s.shape[0]
        K = s.shape[1]
        N = d.shape[1]
        for r in range(R):
            dr = d[r]
            for k in range(K):
                sv = s[r, k]
                if sv != 0:
                    o = out[k]
                    if sv == 1:
                        for j in range(N):
                            o[j] += dr[j]
                    else:
                        for j in range(N):
                            o[j] += sv * dr[j]

    @_jit
    def _pair_drive_kernel(post, x, a_post, a_pre, c_plus, c_minus, scale_post, d, z):  # type: ignore[no-untyped-def]
        """``d[t] = c_plus z[t] - c_minus xb[t]`` for spikes ``post [T, M]``: ``xb`` the
        causal trace before step t's spikes (from ``x``, advanced in place to the end),
        ``z[t] = post[t] + a_pre z[t+1]`` the anti-causal one (``z`` ends as ``z[0]``)."""
        # Traces below 1e-30 are set to zero: long silences would otherwise decay them into
        # subnormal floats, whose arithmetic is ~10x slower on CPUs.
        T = post.shape[0]
        M = post.shape[1]
        tiny = a_post * 0 + 1e-30
        zero = a_post * 0
        for t in range(T):
            st = post[t]
            dt_ = d[t]
            for j in range(M):
                xb = x[j] * a_post
                xb = xb if abs(xb) > tiny else zero
                dt_[j] = -c_minus * xb
                x[j] = xb + scale_post * st[j]
        for j in range(M):
            z[j] = zero
        for t in range(T - 1, -1, -1):
            st = post[t]
            dt_ = d[t]
            for j in range(M):
                zj = z[j] * a_pre
                zj = (zj if abs(zj) > tiny else zero) + st[j]
                z[j] = zj
                dt_[j] += c_plus * zj

    @_jit
    def _trace_kernel(s, x0, decay, scale, set_mode, out):  # type: ignore[no-untyped-def]
        """Trace over ``s [T, M]`` from ``x0 [M]`` (in place), every step into ``out``."""
        T = s.shape[0]
        M = s.shape[1]
        zero = decay * 0
        for t in range(T):
            for j in range(M):
                d = x0[j] * decay
                if set_mode:
                    x0[j] = scale if s[t, j] > zero else d
                else:
                    x0[j] = d + scale * s[t, j]
            out[t] = x0


if _HAVE_NUMBA:

    @_jit
    def _credit_kernel(z, m, scale, batch_div, w, lo, hi, dw):  # type: ignore[no-untyped-def]
        """``dw = scale * (sum_b m[b] z[b]) / batch_div``; ``w <- clamp(w + dw, lo, hi)``.

        Returns the mean of ``|dw|``.
        """
        B = z.shape[0]
        K = z.shape[1]
        N = z.shape[2]
        total = 0.0
        for k in range(K):
            wk = w[k]
            dk = dw[k]
            for n in range(N):
                s = m[0] * z[0, k, n]
                for b in range(1, B):
                    s += m[b] * z[b, k, n]
                d = scale * (s / batch_div)
                dk[n] = d
                x = wk[n] + d
                x = x if x >= lo else lo
                x = x if x <= hi else hi
                wk[n] = x
                total += abs(d)
        return total / max(K * N, 1)


if _HAVE_NUMBA:

    @_jit
    def _group_counts_kernel(s, groups, counts, rate):  # type: ignore[no-untyped-def]
        """``counts[b, a] = sum_t sum_{i in group a} s[t, b, i]``; ``rate[b]`` the mean."""
        T = s.shape[0]
        B = s.shape[1]
        n = s.shape[2]
        k = n // groups
        for b in range(B):
            total = 0.0
            for a in range(groups):
                c = 0.0
                for t in range(T):
                    row = s[t, b]
                    for i in range(a * k, (a + 1) * k):
                        c += row[i]
                counts[b, a] = c
                total += c
            rate[b] = total / max(T * n, 1)


def group_counts(
    spikes: Tensor, groups: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
    """Spike counts of ``groups`` equal consecutive groups of neurons over a window and the
    mean firing probability per step, from ``spikes [T, B, n]`` (0/1; float64 results):
    ``(counts [B, groups], rate [B])``; ``None`` when the kernel does not apply."""
    if not usable(spikes) or spikes.dim() != 3 or spikes.shape[2] % groups:
        return None
    B = spikes.shape[1]
    counts = np.empty((B, groups), dtype=np.float64)
    rate = np.empty(B, dtype=np.float64)
    _group_counts_kernel(_np(spikes), groups, counts, rate)
    return counts, rate


def credit_apply(
    z: Tensor,
    m: Tensor,
    scale: float,
    batch_div: int,
    w: Tensor,
    lo: float | None,
    hi: float | None,
    dw: Tensor,
) -> float | None:
    """Credit a modulation to an eligibility and apply it to a dense weight, in place.

        dw[k, n] = scale * (sum_b m[b] z[b, k, n]) / batch_div
        w[k, n]  = min(max(w[k, n] + dw[k, n], lo), hi)

    (``Plasticity.deliver`` of MSTDPET: ``scale = gamma dt``; ``batch_div = B`` for a mean).
    Operands: ``z [B, K, N]``, ``m [B]``, ``w, dw [K, N]``, one dtype, CPU, contiguous.

    Returns:
        The mean of ``|dw|``, or ``None`` (nothing changed) when the kernel does not apply.
    """
    if not usable(z, m, w, dw) or not (z.dtype == m.dtype == w.dtype == dw.dtype):
        return None
    if z.dim() != 3 or w.dim() != 2 or tuple(z.shape[1:]) != tuple(w.shape):
        return None
    if not (z.is_contiguous() and w.is_contiguous() and dw.is_contiguous()):
        return None
    npdt = _np(w).dtype.type
    return float(
        _credit_kernel(
            _np(z),
            _np(m),
            npdt(scale),
            npdt(batch_div),
            w.detach().numpy(),
            npdt(-math.inf if lo is None else lo),
            npdt(math.inf if hi is None else hi),
            dw.numpy(),
        )
    )


def _np(t: Tensor) -> np.ndarray[Any, Any]:
    return t.detach().contiguous().numpy()


# -- public wrappers --------------------------------------------------------------------
def neuron_scan(
    neuron: Any, x: Tensor, state: Any, record: Sequence[str] = ()
) -> tuple[Tensor, Any, dict[str, Tensor]] | None:
    """Compiled :meth:`Neuron.run`: ``x [T, B, *shape]`` -> ``(spikes, state, recs)``.

    Returns ``None`` when no kernel applies (the caller runs the eager scan).
    """
    kind = neuron_kind(neuron)
    if kind is None or kind == KIND_INPUT or not usable(x, *state):
        return None
    fields = _state_fields(kind)
    if any(k not in fields for k in record) or any(s.dtype != x.dtype for s in state):
        return None
    T, B = x.shape[0], x.shape[1]
    n = neuron.n
    dtype = x.dtype
    named = dict(zip(type(state)._fields, state, strict=True))
    # Copies: the kernel updates in place, the caller's state must not change.
    work = {k: named[k].detach().reshape(B, n).clone() for k in fields}
    dummy = torch.empty(B, n, dtype=dtype)
    v = work["v"]
    rf = work["refrac"]
    th = work.get("theta", dummy)
    syn = work.get("i", dummy)
    spikes = torch.empty(T, B, n, dtype=dtype)
    rec = torch.empty(len(record), T, B, n, dtype=dtype)
    codes = np.array([_FIELDS[k] for k in record], dtype=np.int64)
    prm = neuron_params(neuron, kind, _np(v).dtype)
    _scan_kernel(
        kind,
        prm,
        _np(x.reshape(T, B, n)),
        v.numpy(),
        rf.numpy(),
        th.numpy(),
        syn.numpy(),
        spikes.numpy(),
        rec.numpy(),
        codes,
    )
    shape = (B, *neuron.shape)
    new_state = type(state)(*(work[f].reshape(shape) for f in type(state)._fields))
    recs = {k: rec[i].reshape(T, *shape) for i, k in enumerate(record)}
    return spikes.reshape(T, *shape), new_state, recs


def event_matmul_rows(x: Tensor, w: Tensor) -> Tensor | None:
    """Event-driven ``x [R, K] @ w [K, N]`` adding one row of ``w`` per non-zero input.

    Returns ``None`` when the kernel does not apply (non-CPU, autograd, dtype mismatch).
    """
    if not usable(x, w) or x.dtype != w.dtype:
        return None
    out = torch.zeros(x.shape[0], w.shape[1], dtype=w.dtype)
    _event_rows_kernel(_np(x), _np(w), out.numpy())
    return out


def scatter_rows(s: Tensor, d: Tensor, out: Tensor) -> bool:
    """Event-driven ``out += s^T d`` for spikes ``s [R, K]``, dense ``d [R, N]``, ``out [K, N]``.

    One row of ``d`` is added to a row of ``out`` per non-zero of ``s`` (``R K`` reads
    plus ``nnz N`` adds instead of ``R K N`` multiply-adds). Returns ``False`` (and leaves
    ``out`` alone) when the kernel does not apply.
    """
    if not usable(s, d, out) or not (s.dtype == d.dtype == out.dtype):
        return False
    if not out.is_contiguous():
        return False
    _scatter_rows_kernel(_np(s), _np(d), out.numpy())
    return True


def pair_drive(
    post: Tensor,
    x0: Tensor,
    tau_post: float,
    tau_pre: float,
    c_plus: float,
    c_minus: float,
    scale_post: float,
    dt: float,
) -> tuple[Tensor, Tensor, Tensor] | None:
    """What each presynaptic spike adds in window pair STDP, from spikes ``post [T, M]``.

        d[t] = c_plus z[t] - c_minus xb[t]
        xb[t] = a- x[t-1],  x[t] = xb[t] + scale_post post[t],  x[-1] = x0  (a- = e^(-dt/tau_post))
        z[t] = post[t] + a+ z[t+1],  z[T] = 0                              (a+ = e^(-dt/tau_pre))

    Returns ``(d [T, M], x[T-1] [M], z[0] [M])`` or ``None`` when not applicable.
    """
    if not usable(post, x0) or post.dtype != x0.dtype or post.dim() != 2:
        return None
    npdt = _np(x0).dtype.type
    post = post.detach().contiguous()
    x = x0.detach().reshape(-1).clone()
    d = torch.empty(post.shape, dtype=post.dtype)
    z = torch.empty_like(x)
    _pair_drive_kernel(
        _np(post),
        x.numpy(),
        npdt(math.exp(-dt / tau_post)),
        npdt(math.exp(-dt / tau_pre)),
        npdt(c_plus),
        npdt(c_minus),
        npdt(scale_post),
        d.numpy(),
        z.numpy(),
    )
    return d, x, z


def trace_scan(
    s: Tensor, x0: Tensor, tau: float, scale: float, set_mode: bool, dt: float
) -> tuple[Tensor, Tensor] | None:
    """Traces over a window of spikes ``s [T, B, ...]`` from ``x0 [B, ...]``.

    Returns ``(trace record [T, B, ...], final trace)``, or ``None`` when not applicable.
    """
    if not usable(s, x0) or s.dtype != x0.dtype or s.shape[0] == 0:
        return None
    T = s.shape[0]
    m = x0.numel()
    npdt = _np(x0).dtype.type
    cur = x0.detach().reshape(m).clone()
    out = torch.empty(T, m, dtype=x0.dtype)
    _trace_kernel(
        _np(s.reshape(T, m)),
        cur.numpy(),
        npdt(math.exp(-dt / tau)),
        npdt(scale),
        bool(set_mode),
        out.numpy(),
    )
    return out.reshape(s.shape), cur.reshape(x0.shape)
