"""Compiled CPU window plans (numba), made once per network and batch size.

:class:`CompiledPlan` packs a :class:`~spikerl.core.network.Network` once: flat parameter
arrays (one row per population), NumPy views of the projections' weight tensors (learning
updates are seen without copying), the state of every population in flat ``[B, U]`` arrays,
and preallocated window buffers. One call of :meth:`CompiledPlan.run_window` is one call of
a compiled kernel that runs the whole window, step by step:

1. input sampling: ``Input`` populations take the given spikes, or draw them in the kernel
   as ``s = [u < p]`` from uniforms ``u`` drawn by the caller's ``torch.Generator`` exactly
   as :func:`spikerl.encoders.poisson.bernoulli_train` draws them (pre-drawn uniforms: torch's
   generator cannot run inside numba; same spikes as the eager path, tested);
2. currents: extra external currents, then every projection in connection order delivers
   the spikes of the step before, event by event (one weight row added per spike, source
   index order), so dense and lateral (recurrent) projections share one code path;
3. neuron scans: the step functions of :mod:`spikerl.core.kernels` (IF, LIF, CubaLIF,
   AdaptiveLIF, DiehlCook; the same float operations as the torch steps);
4. traces and eligibility of every plastic projection bound by an
   :class:`~spikerl.core.backends.base.EligibilityHook` whose window only accumulates
   (MSTDPET with zero modulation during the window, the R-STDP agent's case):
   ``z <- a_z^T z`` at the window start, then per step ``z[k, n] += (A+ c_t / tau_z)
   x_pre[t, k] s_post[t, n]`` for each postsynaptic spike and ``z[k, n] += (A- c_t / tau_z)
   s_pre[t, k] x_post^-[t, n]`` for each arriving presynaptic spike, ``c_t = a_z^(T-1-t)``
   (the eager rule's ``a_z^T z + sum_u a_z^(T-1-u) zeta[u] / tau_z``, summed step by step).

No core neuron model has a noise term, so the kernel adds none; noise enters as an external
current input like any other. Other hooks run their own ``on_window`` on the recorded
spikes after the kernel (their window semantics need nothing during the window).

Equality with the eager path: spikes are identical whenever the currents are (the event
sums add weight rows in index order, the eager dense product may round the last bit
differently; in float64 no test network ever saw a spike differ); eligibility and weight
changes agree to float tolerance (the eager path sums the window in one contraction, the
kernel step by step).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from spikerl.core import kernels
from spikerl.core.backends.base import (
    BernoulliInput,
    EligibilityHook,
    EligibilitySpec,
    WindowPlan,
    hook_list,
)
from spikerl.core.neurons.base import Neuron
from spikerl.core.neurons.input import Input
from spikerl.core.projections import DenseProjection, LateralProjection, Projection
from spikerl.core.traces import TraceMode

if TYPE_CHECKING:
    from spikerl.core.network import Network, NetworkState, StepHook

__all__ = ["CompiledBackend", "CompiledPlan"]

#: Projection types a compiled plan propagates (dense weight matrices ``[n_src, n_tgt]``).
COMPILED_PROJECTIONS = (DenseProjection, LateralProjection)

_DTYPES = (torch.float32, torch.float64)

# Input modes per population.
_IN_NONE, _IN_VALUES, _IN_BERNOULLI = 0, 1, 2
# Columns of the eligibility constants.
_E_APRE, _E_APOST, _E_SPRE, _E_SPOST, _E_AP, _E_AM, _E_TZ, _E_AT = range(8)

if kernels._HAVE_NUMBA:
    import numba

    _jit = numba.njit(cache=True, fastmath=False, nogil=True)
    _pop_step = kernels._pop_step
    _ZERO_COL = kernels._P_ZERO
    _ONE_COL = kernels._P_ONE
    _KIND_INPUT = kernels.KIND_INPUT

    @_jit
    def _eligibility_step(  # type: ignore[no-untyped-def]
        spre,
        spost,
        xp,
        xq,
        xb,
        zb,
        c,
        a_pre,
        a_post,
        sc_pre,
        sc_post,
        set_pre,
        set_post,
        ap,
        am,
        tz,
    ):
        """One step of traces and eligibility of one batch row (see the module docstring).

        ``xb`` is scratch for the post trace before this step's spikes.
        """
        K = xp.shape[0]
        N = xq.shape[0]
        zero = a_pre * 0
        fm = (am * c) / tz
        fp = (ap * c) / tz
        for n in range(N):
            xb[n] = xq[n] * a_post
        # arriving presynaptic spikes pair with the post trace before this step's spikes
        for k in range(K):
            sk = spre[k]
            d = xp[k] * a_pre
            if set_pre:
                xp[k] = sc_pre if sk > zero else d
            else:
                xp[k] = d + sc_pre * sk
            if sk != zero:
                f = fm * sk
                for n in range(N):
                    zb[k, n] += f * xb[n]
        # postsynaptic spikes pair with the pre trace including this step's spikes
        for n in range(N):
            sn = spost[n]
            if set_post:
                xq[n] = sc_post if sn > zero else xb[n]
            else:
                xq[n] = xb[n] + sc_post * sn
            if sn != zero:
                f = fp * sn
                for k in range(K):
                    zb[k, n] += f * xp[k]

    @_jit
    def _window_kernel(  # type: ignore[no-untyped-def]
        T,
        kinds,
        prms,
        offs,
        sizes,
        in_mode,
        eoff,
        roffs,
        ext,
        unif,
        prob,
        weights,
        psrc,
        ptgt,
        v,
        rf,
        th,
        syn,
        prev,
        rec,
        cur,
        tmp,
        bactive,
        bsrc,
        btgt,
        bconst,
        coef,
        xpres,
        xposts,
        zs,
    ):
        """Run ``T`` steps; every array is a plan buffer updated in place.

        Populations ``p`` own units ``offs[p]:offs[p]+sizes[p]`` of the ``[B, U]`` state
        arrays; the spikes of the other populations go to ``rec [T, B, R]`` at ``roffs[p]``;
        ``Input`` populations' spikes are read from (or, sampled, written to) ``ext`` at
        ``eoff[p]``, as are external currents. ``prev [B, U]`` holds the spikes of the step
        before the window and ends as those of its last step.
        """
        B = prev.shape[0]
        P = kinds.shape[0]
        NP = psrc.shape[0]
        NB = bsrc.shape[0]
        zero = prms[0, _ZERO_COL]
        one = prms[0, _ONE_COL]
        has = np.zeros(P, dtype=np.bool_)
        scratch = np.zeros(prev.shape[1], dtype=prev.dtype)
        ev_idx = np.zeros(prev.shape[1], dtype=np.int64)
        for i in range(NB):
            if bactive[i]:
                z = zs[i]
                at = bconst[i, _E_AT]
                for b in range(z.shape[0]):
                    for k in range(z.shape[1]):
                        for n in range(z.shape[2]):
                            z[b, k, n] = at * z[b, k, n]
        for t in range(T):
            for p in range(P):
                o = offs[p]
                n = sizes[p]
                has[p] = False
                if kinds[p] == _KIND_INPUT:
                    if in_mode[p] == 2:
                        e = eoff[p]
                        for b in range(B):
                            rb = ext[t, b, e : e + n]
                            ub = unif[t, b, o : o + n]
                            pb = prob[b, o : o + n]
                            for j in range(n):
                                rb[j] = one if ub[j] < pb[j] else zero
                elif in_mode[p] == 1:
                    e = eoff[p]
                    for b in range(B):
                        cb = cur[b, o : o + n]
                        eb = ext[t, b, e : e + n]
                        for j in range(n):
                            cb[j] = eb[j]
                    has[p] = True
            for i in range(NP):
                w = weights[i]
                sp = psrc[i]
                tp = ptgt[i]
                to = offs[tp]
                nt = sizes[tp]
                so = offs[sp]
                ns = sizes[sp]
                acc = tmp if has[tp] else cur
                for b in range(B):
                    ab = acc[b, to : to + nt]
                    for j in range(nt):
                        ab[j] = zero
                if t == 0:
                    src = prev[:, so : so + ns]
                elif kinds[sp] == _KIND_INPUT:
                    src = ext[t - 1, :, eoff[sp] : eoff[sp] + ns]
                else:
                    src = rec[t - 1, :, roffs[sp] : roffs[sp] + ns]
                # per batch row: find the source's events, add the weight row of each
                # (in source index order; views only per row and per event)
                for b in range(B):
                    sb = src[b]
                    ab = acc[b, to : to + nt]
                    # gather the events first: the row adds then run as tight loops
                    m = 0
                    for k in range(ns):
                        if sb[k] != zero:
                            ev_idx[m] = k
                            m += 1
                    for e in range(m):
                        k = ev_idx[e]
                        xv = sb[k]
                        wk = w[k]
                        if xv == one:
                            for j in range(nt):
                                ab[j] += wk[j]
                        else:
                            for j in range(nt):
                                ab[j] += xv * wk[j]
                if has[tp]:
                    for b in range(B):
                        cb = cur[b, to : to + nt]
                        tb = tmp[b, to : to + nt]
                        for j in range(nt):
                            cb[j] = cb[j] + tb[j]
                has[tp] = True
            for p in range(P):
                if kinds[p] == _KIND_INPUT:
                    continue
                o = offs[p]
                n = sizes[p]
                if not has[p]:
                    for b in range(B):
                        cb = cur[b, o : o + n]
                        for j in range(n):
                            cb[j] = zero
                for b in range(B):
                    _pop_step(
                        kinds[p],
                        prms[p],
                        cur[b, o : o + n],
                        v[b, o : o + n],
                        rf[b, o : o + n],
                        th[b, o : o + n],
                        syn[b, o : o + n],
                        rec[t, b, roffs[p] : roffs[p] + n],
                    )
            for i in range(NB):
                if not bactive[i]:
                    continue
                so = offs[bsrc[i]]
                to = roffs[btgt[i]]
                xpi = xpres[i]
                xqi = xposts[i]
                zi = zs[i]
                K = xpi.shape[1]
                N = xqi.shape[1]
                sp = bsrc[i]
                if t == 0:
                    src = prev[:, so : so + K]
                elif kinds[sp] == _KIND_INPUT:
                    src = ext[t - 1, :, eoff[sp] : eoff[sp] + K]
                else:
                    src = rec[t - 1, :, roffs[sp] : roffs[sp] + K]
                c = coef[i, t]
                for b in range(B):
                    _eligibility_step(
                        src[b],
                        rec[t, b, to : to + N],
                        xpi[b],
                        xqi[b],
                        scratch,
                        zi[b],
                        c,
                        bconst[i, _E_APRE],
                        bconst[i, _E_APOST],
                        bconst[i, _E_SPRE],
                        bconst[i, _E_SPOST],
                        bconst[i, _E_SPRE + 8] != zero,
                        bconst[i, _E_SPOST + 8] != zero,
                        bconst[i, _E_AP],
                        bconst[i, _E_AM],
                        bconst[i, _E_TZ],
                    )
        if T > 0:
            for p in range(P):
                o = offs[p]
                n = sizes[p]
                if kinds[p] == _KIND_INPUT:
                    e = eoff[p]
                    for b in range(B):
                        for j in range(n):
                            prev[b, o + j] = ext[T - 1, b, e + j]
                else:
                    r = roffs[p]
                    for b in range(B):
                        for j in range(n):
                            prev[b, o + j] = rec[T - 1, b, r + j]


def _supported_projection(proj: Any) -> bool:
    w = proj.weight
    return (
        type(proj) in COMPILED_PROJECTIONS
        and w.device.type == "cpu"
        and not w.requires_grad
        and w.dtype in _DTYPES
        and w.is_contiguous()
    )


def unsupported_reason(network: Network, hooks: Sequence[StepHook] = ()) -> str | None:
    """Why :class:`CompiledBackend` cannot run ``network`` (``None``: it can)."""
    if not kernels.enabled():
        return "compiled kernels disabled (numba missing or SPIKERL_NO_KERNELS=1)"
    pops = list(network.populations.items())
    if not pops:
        return "no populations"
    dtype = pops[0][1].dtype
    if dtype not in _DTYPES:
        return f"dtype {dtype} (float32 and float64 are compiled)"
    for name, pop in pops:
        if kernels.neuron_kind(pop) is None:
            return f"population {name!r}: {type(pop).__name__} has no compiled step"
        if pop.dtype != dtype or pop.device.type != "cpu":
            return f"population {name!r}: not on the CPU in {dtype}"
    for key, proj in network.projections.items():
        if not _supported_projection(proj):
            return (
                f"projection {key!r}: {type(proj).__name__} (compiled: dense and lateral "
                f"weights on the CPU without autograd)"
            )
        if proj.weight.dtype != dtype:
            return f"projection {key!r}: weight dtype {proj.weight.dtype} != {dtype}"
    for h in hooks:
        if getattr(h, "online", False):
            return "a hook acts every step (online plasticity)"
    return None


class _Binding:
    """A hook's compiled eligibility: buffers and constants."""

    def __init__(
        self, hook: EligibilityHook, spec: EligibilitySpec, batch: int, src: int, tgt: int
    ) -> None:
        w = spec.projection.weight
        K, N = int(w.shape[0]), int(w.shape[1])
        self.hook = hook
        self.spec = spec
        self.src = src
        self.tgt = tgt
        self.pre = torch.zeros(batch, K, dtype=w.dtype)
        self.post = torch.zeros(batch, N, dtype=w.dtype)
        self.z = torch.zeros(batch, K, N, dtype=w.dtype)
        self.pre_view = self.pre.view(batch, *spec.projection.source_shape)
        self.post_view = self.post.view(batch, *spec.projection.target_shape)

    def sync_in(self) -> None:
        """Take the hook's state into the buffers unless the hook already holds them."""
        pre, post, z = self.hook.eligibility_state()
        for buf, view, value in (
            (self.pre, self.pre_view, pre),
            (self.post, self.post_view, post),
            (self.z, self.z, z),
        ):
            if value is view or value is buf:
                continue
            if value is None:
                buf.zero_()
            else:
                if value.numel() != buf.numel():
                    raise ValueError(
                        f"plasticity state of {self.spec.source!r}->{self.spec.target!r} has "
                        f"shape {list(value.shape)}; the plan expects batch {buf.shape[0]} "
                        "(reset the plasticity state when the batch size changes)"
                    )
                buf.view(value.shape).copy_(value)

    def sync_out(self) -> None:
        self.hook.adopt_eligibility_state(self.pre_view, self.post_view, self.z)


class CompiledPlan(WindowPlan):
    """A network packed once for one batch size; one kernel call per window.

    Args:
        network: The network (:func:`unsupported_reason` must be ``None``).
        batch_size: Batch size ``B``.
        hooks: Window hooks run when learning; those offering an
            :class:`~spikerl.core.backends.base.EligibilitySpec` run inside the kernel.
    """

    def __init__(self, network: Network, batch_size: int, hooks: Sequence[StepHook] = ()) -> None:
        reason = unsupported_reason(network, hooks)
        if reason is not None:
            raise ValueError(f"the compiled backend cannot run this network: {reason}")
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.network = network
        self.batch_size = B = batch_size
        self.hooks = hook_list(hooks)
        self._version = network._version
        self.names = list(network.populations.keys())
        self.pops: list[Neuron[Any, Any]] = [network.population(n) for n in self.names]
        self._params = [p.params for p in self.pops]
        self.index = {n: i for i, n in enumerate(self.names)}
        self.dtype = self.pops[0].dtype
        kinds = [int(kernels.neuron_kind(p) or 0) for p in self.pops]
        self.kinds = np.array(kinds, dtype=np.int64)
        self.sizes = np.array([p.n for p in self.pops], dtype=np.int64)
        self.offs = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        U = self.U = int(self.sizes.sum())
        is_input = [isinstance(p, Input) for p in self.pops]
        widths = [0 if inp else int(n) for inp, n in zip(is_input, self.sizes, strict=True)]
        self.R = max(int(sum(widths)), 1)
        self.roffs = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
        self.roffs[np.array(is_input, dtype=bool)] = -1
        zeros = torch.zeros(B, U, dtype=self.dtype)
        self.v, self.rf, self.th, self.syn = (zeros.clone() for _ in range(4))
        self.prev = zeros.clone()
        self._flat = {"v": self.v, "refrac": self.rf, "theta": self.th, "i": self.syn}
        self._np_state = tuple(x.numpy() for x in (self.v, self.rf, self.th, self.syn))
        np_dtype = self.v.numpy().dtype
        self.prms = np.stack(
            [kernels.neuron_params(p, k, np_dtype) for p, k in zip(self.pops, kinds, strict=True)]
        )
        self.projs: list[Projection] = [network.projection(e.name) for e in network._edges]
        self._wparams = [p.weight for p in self.projs]
        self._wptrs = tuple(w.data_ptr() for w in self._wparams)
        weights = tuple(p.weight.detach().numpy() for p in self.projs)
        self.weights = weights if weights else (np.zeros((1, 1), dtype=np_dtype),)
        self.psrc = np.array([self.index[e.source] for e in network._edges], dtype=np.int64)
        self.ptgt = np.array([self.index[e.target] for e in network._edges], dtype=np.int64)
        self.traced = dict(network._trace_params)
        self.traces = {
            n: torch.zeros(B, *network.population(n).shape, dtype=self.dtype) for n in self.traced
        }
        self.in_mode = np.zeros(len(self.pops), dtype=np.int64)
        self.eoff = np.zeros(len(self.pops), dtype=np.int64)
        self._input_names = [
            n for n, p in zip(self.names, self.pops, strict=True) if isinstance(p, Input)
        ]
        self.cur = np.zeros((B, U), dtype=np_dtype)
        self.tmp = np.zeros((B, U), dtype=np_dtype)
        self._capacity = 0
        self._alloc(16)
        # plasticity
        self.bindings: list[_Binding] = []
        self.eager_hooks: list[Any] = []
        for h in self.hooks:
            spec = h.eligibility_spec() if isinstance(h, EligibilityHook) else None
            if spec is not None and self._spec_ok(spec):
                assert isinstance(h, EligibilityHook)
                self.bindings.append(
                    _Binding(h, spec, B, self.index[spec.source], self.index[spec.target])
                )
            else:
                self.eager_hooks.append(h)
        nb = len(self.bindings)
        self.bsrc = np.array([b.src for b in self.bindings], dtype=np.int64)
        self.btgt = np.array([b.tgt for b in self.bindings], dtype=np.int64)
        self.bactive = np.zeros(nb, dtype=np.bool_)
        self.bconst = np.zeros((nb, 16), dtype=np_dtype)
        for i, b in enumerate(self.bindings):
            s, dt = b.spec, network.dt
            self.bconst[i, _E_APRE] = math.exp(-dt / s.pre.tau)
            self.bconst[i, _E_APOST] = math.exp(-dt / s.post.tau)
            self.bconst[i, _E_SPRE] = s.pre.scale
            self.bconst[i, _E_SPOST] = s.post.scale
            self.bconst[i, _E_SPRE + 8] = 1.0 if s.pre.mode is TraceMode.SET else 0.0
            self.bconst[i, _E_SPOST + 8] = 1.0 if s.post.mode is TraceMode.SET else 0.0
            self.bconst[i, _E_AP] = s.a_plus
            self.bconst[i, _E_AM] = s.a_minus
            self.bconst[i, _E_TZ] = s.tau_z
        self._coef_T = -1
        self.coef = np.zeros((max(nb, 1), 1), dtype=np_dtype)
        d2 = np.zeros((1, 1), dtype=np_dtype)
        self.xpres = tuple(b.pre.numpy() for b in self.bindings) or (d2,)
        self.xposts = tuple(b.post.numpy() for b in self.bindings) or (d2,)
        self.zs = tuple(b.z.numpy() for b in self.bindings) or (np.zeros((1, 1, 1), np_dtype),)
        self.windows = 0
        self.load_state(None)

    # -- building -------------------------------------------------------------------------
    def _spec_ok(self, spec: EligibilitySpec) -> bool:
        proj = spec.projection
        return (
            any(p is proj for p in self.projs)
            and spec.source in self.index
            and spec.target in self.index
            and proj.weight.dtype == self.dtype
        )

    def _alloc(self, steps: int) -> None:
        """Window buffers for up to ``steps`` steps."""
        if steps <= self._capacity:
            return
        cap = max(steps, 2 * self._capacity)
        B, U = self.batch_size, self.U
        self.rec = torch.zeros(cap, B, self.R, dtype=self.dtype)
        self.ext = torch.zeros(cap, B, U, dtype=self.dtype)
        self._np_rec = self.rec.numpy()
        self._np_ext = self.ext.numpy()
        self._ext_views: dict[tuple[int, int], Tensor] = {}  # (population, T) -> ext view
        self.unif: Tensor | None = None
        self.prob: Tensor | None = None
        self._capacity = cap
        self._records: dict[int, dict[str, Tensor]] = {}

    def _record(self, T: int, rec: Tensor | None = None) -> dict[str, Tensor]:
        """Views ``[T, B, *shape]`` of the record per non-input population (of the plan's
        buffer: made once per T; of ``rec`` when given)."""
        views = None if rec is not None else self._records.get(T)
        if views is None:
            B = self.batch_size
            buf = self.rec if rec is None else rec
            views = {
                name: buf[:T, :, int(r) : int(r) + int(n)].view(T, B, *pop.shape)
                for name, pop, r, n in zip(
                    self.names, self.pops, self.roffs, self.sizes, strict=True
                )
                if r >= 0
            }
            if rec is None:
                self._records[T] = views
        return dict(views)

    def _coefficients(self, T: int) -> None:
        """``c_t = a_z^(T-1-t)`` (per-window eligibility: 1) and ``a_z^T`` per binding,
        computed as the eager rule does (float64, then rounded to the dtype)."""
        if T == self._coef_T:
            return
        nb = len(self.bindings)
        coef = np.zeros((max(nb, 1), max(T, 1)), dtype=self.prms.dtype)
        t = np.arange(T, dtype=np.float64)
        for i, b in enumerate(self.bindings):
            dt, tz = self.network.dt, b.spec.tau_z
            coef[i, :T] = 1.0 if b.spec.per_window else np.exp(-(T - 1 - t) * dt / tz)
            self.bconst[i, _E_AT] = math.exp(-dt / tz) ** T
        self.coef = coef
        self._coef_T = T

    def valid(self) -> bool:
        if self.network._version != self._version or self.pops[0].dtype != self.dtype:
            return False
        for p, params in zip(self.pops, self._params, strict=True):
            if p.params is not params:
                return False
        for proj, w, ptr in zip(self.projs, self._wparams, self._wptrs, strict=True):
            if proj._parameters["weight"] is not w or w.data_ptr() != ptr:
                return False
        return True

    # -- state ----------------------------------------------------------------------------
    def _views(self, buf: Tensor, p: int) -> Tensor:
        o, n = int(self.offs[p]), int(self.sizes[p])
        return buf[:, o : o + n].view(self.batch_size, *self.pops[p].shape)

    @property
    def state(self) -> NetworkState:
        from spikerl.core.network import NetworkState

        neurons: dict[str, Any] = {}
        spikes: dict[str, Tensor] = {}
        for i, name in enumerate(self.names):
            st = self._input_states.get(name)
            if st is None:
                fields = self._fields[name]
                st = self._state_types[name](*(self._views(self._flat[f], i) for f in fields))
            neurons[name] = st
            spikes[name] = self._views(self.prev, i)
        return NetworkState(neurons, spikes, dict(self.traces))

    def load_state(self, state: NetworkState | None) -> None:
        if state is None:
            state = self.network.initial_state(self.batch_size)
        if state.batch_size != self.batch_size:
            raise ValueError(
                f"state has batch {state.batch_size}, the plan was made for {self.batch_size}"
            )
        self._input_states: dict[str, Any] = {}
        self._fields: dict[str, tuple[str, ...]] = {}
        self._state_types: dict[str, Any] = {}
        with torch.no_grad():
            for i, name in enumerate(self.names):
                st = state.neurons[name]
                self._views(self.prev, i).copy_(state.spikes[name])
                if isinstance(self.pops[i], Input):
                    self._input_states[name] = st
                    continue
                self._fields[name] = tuple(st._fields)
                self._state_types[name] = type(st)
                for f, val in zip(st._fields, st, strict=True):
                    self._views(self._flat[f], i).copy_(val)
            for name in self.traces:
                self.traces[name] = state.traces[name].detach().clone()

    def reset(self, episode_start: Tensor) -> None:
        self.load_state(self.network.reset_state(self.state, episode_start))

    @torch.no_grad()
    def set_spikes(self, name: str, spikes: Tensor) -> None:
        """:meth:`WindowPlan.set_spikes` into the plan's own spike buffer."""
        self._views(self.prev, self.index[name]).copy_(spikes)

    @torch.no_grad()
    def relax(self, duration: float) -> None:
        """:meth:`WindowPlan.relax` on the plan's own buffers: :meth:`Network.relaxed
        <spikerl.core.network.Network.relaxed>` on views of the state, written back in
        place, so the result is the same to the bit without packing a state object."""
        neurons: dict[str, Any] = {}
        views: dict[str, list[Tensor]] = {}
        for i, name in enumerate(self.names):
            if name in self._input_states:
                neurons[name] = self._input_states[name]
                continue
            views[name] = [self._views(self._flat[f], i) for f in self._fields[name]]
            neurons[name] = self._state_types[name](*views[name])
        spikes = {name: self._views(self.prev, i) for i, name in enumerate(self.names)}
        relaxed, traces = self.network.relaxed(neurons, spikes, self.traces, duration)
        for name, st in relaxed.items():
            if name in self._input_states:
                self._input_states[name] = st
                continue
            for view, val in zip(views[name], st, strict=True):
                view.copy_(val)
        self.prev.zero_()
        self.traces.update(traces)

    # -- running --------------------------------------------------------------------------
    def _inputs(
        self, inputs: Mapping[str, Tensor | BernoulliInput]
    ) -> tuple[int, np.ndarray[Any, Any], dict[str, Tensor]]:
        """Place the inputs for the kernel: ``(T, ext array, input records)``.

        A single ``Input`` population's spike tensor in the plan's dtype is read in place
        (no copy); otherwise inputs are packed into the plan's ``ext`` buffer, and Bernoulli
        inputs are sampled by the kernel into the record.
        """
        self.in_mode[:] = _IN_NONE
        if len(inputs) == 1:
            ((name, x),) = inputs.items()
            i = self.index.get(name)
            if (
                i is not None
                and isinstance(x, Tensor)
                and isinstance(self.pops[i], Input)
                and x.dtype == self.dtype
                and x.device.type == "cpu"
                and x.is_contiguous()
            ):
                self._check_shape(name, i, x)
                T = int(x.shape[0])
                self._alloc(T)
                xd = x.detach()
                self.in_mode[i] = _IN_VALUES
                self.eoff[i] = 0
                return T, xd.view(T, self.batch_size, -1).numpy(), {name: xd}
        T_: int | None = None
        own: dict[str, Tensor] = {}
        for name, x in inputs.items():
            i = self.index.get(name)
            if i is None:
                raise ValueError(f"unknown population {name!r}; available: {self.names}")
            steps = x.steps if isinstance(x, BernoulliInput) else int(x.shape[0])
            if T_ is None:
                T_ = steps
                self._alloc(T_)
            elif steps != T_:
                raise ValueError(f"input to {name!r} has {steps} steps, expected {T_}")
            T = T_
            pop = self.pops[i]
            o, n, B = int(self.offs[i]), int(self.sizes[i]), self.batch_size
            if isinstance(x, BernoulliInput):
                if not isinstance(pop, Input):
                    raise ValueError(f"BernoulliInput needs an Input population, not {name!r}")
                p = x.p.detach()
                if tuple(p.shape) != (B, *pop.shape):
                    raise ValueError(
                        f"BernoulliInput to {name!r}: p must be [{B}, "
                        f"{', '.join(map(str, pop.shape))}], got {list(p.shape)}"
                    )
                u = torch.rand((T, *p.shape), generator=x.generator, dtype=p.dtype)
                if self.unif is None or self.unif.dtype != p.dtype:
                    self.unif = torch.zeros(self._capacity, B, self.U, dtype=p.dtype)
                    self.prob = torch.zeros(B, self.U, dtype=p.dtype)
                assert self.prob is not None
                self.unif[:T, :, o : o + n].copy_(u.reshape(T, B, n))
                self.prob[:, o : o + n].copy_(p.reshape(B, n))
                self.in_mode[i] = _IN_BERNOULLI
                self.eoff[i] = o
                own[name] = self.ext[:T, :, o : o + n].view(T, B, *pop.shape)
                continue
            self._check_shape(name, i, x)
            xd = x.detach()
            if xd.device.type == "cpu":  # NumPy slices: a fraction of torch's indexing cost
                self._np_ext[:T, :, o : o + n] = xd.numpy().reshape(T, B, n)
            else:
                self.ext[:T, :, o : o + n].copy_(xd.reshape(T, B, n))
            self.eoff[i] = o
            self.in_mode[i] = _IN_VALUES
            if isinstance(pop, Input):
                key = (i, T)
                view = self._ext_views.get(key)
                if view is None:
                    view = self.ext[:T, :, o : o + n].view(T, B, *pop.shape)
                    self._ext_views[key] = view
                own[name] = view
        for name in self._input_names:
            if name not in inputs:
                raise ValueError(f"no input given for Input population {name!r}")
        if T_ is None:
            raise ValueError("a window needs inputs (they fix its length T)")
        return T_, self._np_ext, own

    def _check_shape(self, name: str, i: int, x: Tensor) -> None:
        pop, B = self.pops[i], self.batch_size
        if x.dim() != len(pop.shape) + 2 or tuple(x.shape[1:]) != (B, *pop.shape):
            raise ValueError(
                f"input to population {name!r}: expected shape [T, {B}, "
                f"{', '.join(map(str, pop.shape))}], got {list(x.shape)}"
            )

    def run_window(
        self,
        inputs: Mapping[str, Tensor | BernoulliInput],
        *,
        learn: bool = True,
        fresh: bool = False,
    ) -> dict[str, Tensor]:
        """See :meth:`WindowPlan.run_window`; ``fresh=True`` records into new tensors (the
        result stays valid after later windows: what ``Network.run`` returns)."""
        if not self.valid():
            raise RuntimeError(
                "the network changed since this plan was compiled (structure, dtype, "
                "parameters or weight storage); compile a new plan"
            )
        T, ext, own = self._inputs(inputs)
        prev_spikes = None
        eager: list[Any] = list(self.eager_hooks) if learn else []
        if learn and self.bindings:
            self._coefficients(T)
            for i, b in enumerate(self.bindings):
                only = b.hook.eligibility_only()
                self.bactive[i] = only
                if only:
                    b.sync_in()
                else:
                    eager.append(b.hook)
        else:
            self.bactive[:] = False
        if eager:
            prev_spikes = {n: self._views(self.prev, i).clone() for i, n in enumerate(self.names)}
        unif = self.unif if self.unif is not None else self.ext
        prob = self.prob if self.prob is not None else self.prev
        rec = torch.empty(T, self.batch_size, self.R, dtype=self.dtype) if fresh else None
        _window_kernel(  # type: ignore[call-arg]
            T,
            self.kinds,
            self.prms,
            self.offs,
            self.sizes,
            self.in_mode,
            self.eoff,
            self.roffs,
            ext,
            unif.numpy(),
            prob.numpy(),
            self.weights,
            self.psrc,
            self.ptgt,
            *self._np_state,
            self.prev.numpy(),
            self._np_rec if rec is None else rec.numpy(),
            self.cur,
            self.tmp,
            self.bactive,
            self.bsrc,
            self.btgt,
            self.bconst,
            self.coef,
            self.xpres,
            self.xposts,
            self.zs,
        )
        self.windows += 1
        record = self._record(T, rec)
        record.update(own)
        for name, params in self.traced.items():
            _, self.traces[name] = self.network._trace_window(
                record[name], self.traces[name], params
            )
        for i, b in enumerate(self.bindings):
            if self.bactive[i]:
                b.sync_out()
        if eager:
            assert prev_spikes is not None
            for h in eager:
                h.on_window(prev_spikes, record)
        return record


class CompiledBackend:
    """numba plans for CPU networks of IF/LIF-family populations and dense/lateral weights."""

    name = "compiled"

    def supports(self, network: Network, hooks: Sequence[StepHook] = ()) -> bool:
        return unsupported_reason(network, hooks) is None

    def compile(
        self, network: Network, batch_size: int, hooks: Sequence[StepHook] = ()
    ) -> CompiledPlan:
        return CompiledPlan(network, batch_size, hooks)
