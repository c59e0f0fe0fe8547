"""Compiled (numba) kernels of the R-STDP agent: the spiking window and the update.

One environment step of the agent at batch 1 is a few hundred tiny array operations in
NumPy (about 0.35 ms at ``T = 4``, ``F = 134``, ``N = 32``: more than the emulator's own
0.45 ms per Breakout step). These two kernels do the same arithmetic in two calls:

* :func:`window_kernel`: the actor's window (:meth:`SpikingActorCritic.step
  <spikerl.agents.network.SpikingActorCritic.step>`): input spikes, currents, the silent
  gap, the LIF scan with lateral inhibition, population spike counts, the pre- and
  post-synaptic traces and the window's STDP pair sum ``Z``;
* :func:`update_kernel`: the three-factor update (:meth:`RSTDPLearner.update
  <spikerl.agents.learner.RSTDPLearner.update>`): critic values, TD error, critic
  TD(lambda) step, ``dW = lr * delta * e`` with weight bounds. The critic's arithmetic is
  :class:`spikerl.learning.critic.TDLambdaCritic`'s (its reference, tested to 1e-12);
  rewards come in already shaped by its ``shape_rewards`` (scale and clip).

Random draws stay in NumPy (the caller passes uniform numbers and membrane noise), so the
compiled and NumPy paths consume the same random stream and see the same spikes. The
arithmetic is the same up to summation order: NumPy's matrix products and the trace kernel
matrices sum in another order than these loops, so currents, traces and ``Z`` agree to
~1e-12 relative (tested), and spike trains are identical unless a potential lands within
rounding of the threshold.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


def window_kernel() -> Any:
    """The compiled window step, or ``None`` without numba / with kernels disabled."""
    from spikerl.core import kernels

    return _compile_window() if kernels.enabled() else None


def window_params(
    sim_steps: int,
    input_rate: float,
    n_per_action: int,
    decay: float,
    thr: float,
    reset: float,
    w_inh: float,
    gap: bool,
    gap_v: float,
    gap_pre: float,
    gap_post: float,
    dpre: float,
    dpost: float,
    a_plus: float,
    a_minus: float,
    center: bool,
) -> np.ndarray:
    """The window kernel's constants packed in one float64 array (one argument to pass
    instead of sixteen: each argument costs the compiled function's dispatcher time).

    Args:
        sim_steps: Steps ``T`` per window.
        input_rate: Input spike probability per step at feature value 1.
        n_per_action: Neurons per action population.
        decay: Membrane decay per step, ``exp(-dt / tau_mem)``.
        thr: Threshold relative to rest (mV).
        reset: Reset potential relative to rest (mV).
        w_inh: Inhibition per spike of another population (mV).
        gap: Whether a silent gap separates windows.
        gap_v: Membrane decay over the gap after the first step.
        gap_pre: Pre-synaptic trace decay over the gap.
        gap_post: Post-synaptic trace decay over the gap.
        dpre: Pre-synaptic trace decay per step.
        dpost: Post-synaptic trace decay per step.
        a_plus: LTP amplitude.
        a_minus: LTD amplitude.
        center: Subtract the mean pair sum over the action neurons.
    """
    return np.array(
        [sim_steps, input_rate, n_per_action, decay, thr, reset, w_inh, float(gap), gap_v,
         gap_pre, gap_post, dpre, dpost, a_plus, a_minus, float(center)],
        dtype=np.float64,
    )  # fmt: skip


def update_kernel() -> Any:
    """The compiled three-factor update, or ``None`` without numba / with kernels disabled."""
    from spikerl.core import kernels

    return _compile_update() if kernels.enabled() else None


@functools.cache
def _compile_window() -> Any:
    import numba
    import numpy as np

    @numba.njit(cache=True, nogil=True)  # type: ignore[misc]
    def window(  # type: ignore[no-untyped-def]
        phi,  # [B, F] features
        uniform,  # [T, B, F] uniform draws (stochastic) or [0, 0, 0] (deterministic)
        noise,  # [T, B, N] membrane noise or [0, 0, 0]
        w,  # [F, N]
        v_in,  # [B, N] potentials relative to rest
        prev_in,  # [B, N] last spikes
        x_pre_in,  # [B, F]
        x_post_in,  # [B, N]
        params,  # float64 constants, see window_params()
        learn,
    ):
        t_n = int(params[0])
        input_rate = params[1]
        n_per = int(params[2])
        decay = params[3]
        thr = params[4]
        reset = params[5]
        w_inh = params[6]
        gap_on = params[7] != 0.0
        gap_v = params[8]
        gap_pre = params[9]
        gap_post = params[10]
        dpre = params[11]
        dpost = params[12]
        a_plus = params[13]
        a_minus = params[14]
        center = params[15] != 0.0
        b_n, f_n = phi.shape
        n_n = w.shape[1]
        a_n = n_n // n_per
        stochastic = uniform.shape[0] > 0
        spikes = np.zeros((t_n, b_n, n_n))
        counts = np.zeros((b_n, a_n))
        z = np.zeros((b_n, f_n, n_n)) if learn else np.zeros((0, 0, 0))
        v_out = np.empty((b_n, n_n))
        prev_out = np.empty((b_n, n_n))
        xpre_out = np.empty((b_n, f_n))
        xpost_out = np.empty((b_n, n_n))
        rate = np.zeros(b_n)
        p = np.empty(f_n)
        s_in = np.empty(f_n)
        cur = np.empty(n_n)
        v = np.empty(n_n)
        prev = np.empty(n_n)
        x_pre = np.empty(f_n)
        x_post = np.empty(n_n)
        before = np.empty(n_n)
        pop_count = np.zeros(a_n)
        for b in range(b_n):
            for f in range(f_n):
                p[f] = min(max(phi[b, f] * input_rate, 0.0), 1.0)
            # state after the silent gap: last spikes delivered, then decay
            tot = 0.0
            pop_count[:] = 0.0
            for n in range(n_n):
                if prev_in[b, n] != 0.0:
                    pop_count[n // n_per] += prev_in[b, n]
                    tot += prev_in[b, n]
            for n in range(n_n):
                if gap_on:
                    inh = -w_inh * (tot - pop_count[n // n_per])
                    v[n] = (v_in[b, n] * decay + inh) * gap_v
                    prev[n] = 0.0
                    x_post[n] = x_post_in[b, n] * gap_post
                else:
                    v[n] = v_in[b, n]
                    prev[n] = prev_in[b, n]
                    x_post[n] = x_post_in[b, n]
            for f in range(f_n):
                x_pre[f] = x_pre_in[b, f] * gap_pre if gap_on else x_pre_in[b, f]
            n_spk = 0.0
            for t in range(t_n):
                # input spikes and current
                for n in range(n_n):
                    cur[n] = 0.0
                for f in range(f_n):
                    if stochastic:
                        s = 1.0 if uniform[t, b, f] < p[f] else 0.0
                    else:
                        s = p[f]
                    s_in[f] = s
                    if s != 0.0:
                        for n in range(n_n):
                            cur[n] += s * w[f, n]
                if noise.shape[0] > 0:
                    for n in range(n_n):
                        cur[n] = cur[n] + noise[t, b, n]
                # lateral inhibition from the previous step's spikes
                tot = 0.0
                pop_count[:] = 0.0
                for n in range(n_n):
                    if prev[n] != 0.0:
                        pop_count[n // n_per] += 1.0
                        tot += 1.0
                for n in range(n_n):
                    inh = -w_inh * (tot - pop_count[n // n_per])
                    vn = v[n] * decay + cur[n] + inh
                    if vn >= thr:
                        v[n] = reset
                        prev[n] = 1.0
                        spikes[t, b, n] = 1.0
                        counts[b, n // n_per] += 1.0
                        n_spk += 1.0
                    else:
                        v[n] = vn
                        prev[n] = 0.0
                # traces (x[t] includes this step's spikes) and STDP pairs
                for f in range(f_n):
                    x_pre[f] = x_pre[f] * dpre + s_in[f]
                for n in range(n_n):
                    before[n] = x_post[n]
                    x_post[n] = x_post[n] * dpost + prev[n]
                if learn:
                    for n in range(n_n):
                        if prev[n] != 0.0:
                            for f in range(f_n):
                                z[b, f, n] += a_plus * x_pre[f]
                    if a_minus != 0.0:
                        for f in range(f_n):
                            if s_in[f] != 0.0:
                                for n in range(n_n):
                                    z[b, f, n] -= a_minus * s_in[f] * before[n]
            if learn and center:
                for f in range(f_n):
                    m = 0.0
                    for n in range(n_n):
                        m += z[b, f, n]
                    m = m / n_n
                    for n in range(n_n):
                        z[b, f, n] -= m
            rate[b] = n_spk / (t_n * n_n)
            for n in range(n_n):
                v_out[b, n] = v[n]
                prev_out[b, n] = prev[n]
                xpost_out[b, n] = x_post[n]
            for f in range(f_n):
                xpre_out[b, f] = x_pre[f]
        return counts, z, rate, spikes, v_out, prev_out, xpre_out, xpost_out

    return window


@functools.cache
def _compile_update() -> Any:
    import numba
    import numpy as np

    @numba.njit(cache=True, nogil=True)  # type: ignore[misc]
    def update(  # type: ignore[no-untyped-def]
        phi,  # [B, F] features of the states acted in
        phi_next,  # [B, F] features of the bootstrap states
        rewards,  # [B] shaped: TDLambdaCritic.shape_rewards (scaled, clipped)
        terminated,  # [B] bool
        mask,  # [B] (1.0: real transition)
        crit,  # [F] critic weights, updated in place
        w,  # [F, N] actor weights, updated in place
        elig,  # [B, F, N]
        z_critic,  # [B, F]
        gamma,
        delta_clip,
        td_modulation,
        lr_critic,  # effective: TDLambdaCritic.step_size (lr * schedule fraction / B)
        lr_actor,  # effective: lr * schedule fraction / (F B)
        wmin,
        wmax,
        col_target,  # [N] target mean weight of each action neuron ([0]: no normalisation)
    ):
        b_n, f_n = phi.shape
        n_n = w.shape[1]
        td = np.empty(b_n)
        mod = np.empty(b_n)
        scale = np.empty(b_n)
        v_sum = 0.0
        for b in range(b_n):
            v = 0.0
            v_next = 0.0
            phi_sum = 0.0
            for f in range(f_n):
                v += phi[b, f] * crit[f]
                v_next += phi_next[b, f] * crit[f]
                phi_sum += phi[b, f]
            if terminated[b]:
                v_next = 0.0
            v_sum += v
            r = rewards[b]
            d = min(max(r + gamma * v_next - v, -delta_clip), delta_clip)
            m = d if td_modulation else min(max(r, -delta_clip), delta_clip)
            td[b] = d * mask[b]
            mod[b] = m * mask[b]
            scale[b] = td[b] / max(phi_sum, 1e-8)
        for f in range(f_n):
            acc = 0.0
            for b in range(b_n):
                acc += scale[b] * z_critic[b, f]
            crit[f] += lr_critic * acc
        abs_dw = 0.0
        for f in range(f_n):
            for n in range(n_n):
                acc = 0.0
                for b in range(b_n):
                    acc += mod[b] * elig[b, f, n]
                dw = lr_actor * acc
                abs_dw += abs(dw)
                w[f, n] = min(max(w[f, n] + dw, wmin), wmax)
        if col_target.shape[0] > 0:
            for n in range(n_n):
                shift = col_target[n]
                for f in range(f_n):
                    shift -= w[f, n] / f_n
                for f in range(f_n):
                    w[f, n] = min(max(w[f, n] + shift, wmin), wmax)
        mod_mean = 0.0
        for b in range(b_n):
            mod_mean += mod[b]
        return mod_mean / b_n, abs_dw / (f_n * n_n), v_sum / b_n

    return update
