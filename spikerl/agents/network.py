"""The spiking actor of the R-STDP agent and its linear TD(lambda) critic.

Actor: ``F`` input neurons (population-coded features, Bernoulli spikes with probability
``phi_i * input_rate`` per simulation step) project densely to ``A`` action populations of
``n_per_action`` LIF neurons each; the populations inhibit each other. Per environment step
the network runs ``T = sim_steps`` steps of ``dt`` ms (window path: one matrix product for
the whole window, then a scan of the neurons)::

    I[t]   = s_in[t] @ W - w_inh * (spikes of the other populations at t-1) + noise[t]
    v[t]   = v_rest + (v[t-1] - v_rest) * exp(-dt / tau_mem) + I[t]           (mV)
    s[t]   = v[t] >= v_thresh;  v[t] <- v_reset where s[t]

The action is what the declared decoder (:mod:`spikerl.decoders.vote`) reads from the
action populations: by default the population with the most spikes in the window, ties
broken by a seeded uniform draw (never by input currents); ``readout="potential"`` reads the
summed membrane potentials at the end of the window instead.

Plasticity (MSTDPET, Florian 2007; window mode): STDP pairs in the window give

    Z_ij = a_plus * sum_t x_pre_i[t] s_post_j[t] - a_minus * sum_t s_pre_i[t] x_post_j[t-1]

with ``x`` exponential traces (``tau_pre``, ``tau_post``); this is the core's
:class:`~spikerl.learning.PostPre` pair sum with ``A- exp(dt / tau_post)`` in place of
``A-`` (the core reads the post trace decayed to step ``t``; tested equal). With
``center`` the mean over the action neurons is subtracted (actual minus average firing,
so the losing population gets the opposite sign). The eligibility trace decays per
environment step, ``e <- gamma * lam_actor * e + Z``, and the third factor is the critic's TD error
``delta = r + gamma * V(s') - V(s)`` (or the raw reward): ``dW = lr_actor * delta * e``
(:mod:`spikerl.learning.actor` is the rule's reference: pair sums, centring, eligibility,
weight change, bounds and per-neuron normalisation).
The critic is linear on the same features, ``V(s) = w_c . phi(s)``, learned by TD(lambda).
No gradient flows through the actor.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from spikerl.agents.config import SNNConfig
from spikerl.agents.kernels import window_kernel, window_params
from spikerl.decoders.vote import Decision, group_scores, vote
from spikerl.learning import actor
from spikerl.learning.critic import TDLambdaCritic


class ActorState(NamedTuple):
    """Per-environment state carried between environment steps (``predict``'s state).

    Attributes:
        v: Membrane potentials relative to rest (mV), ``[B, N]``.
        spikes: Last step's action spikes, ``[B, N]``.
        x_pre: Pre-synaptic traces, ``[B, F]``.
        x_post: Post-synaptic traces, ``[B, N]``.
    """

    v: np.ndarray
    spikes: np.ndarray
    x_pre: np.ndarray
    x_post: np.ndarray


class LearnState(NamedTuple):
    """Per-environment learning state: eligibility and critic traces.

    Attributes:
        elig: Actor eligibility, ``[B, F, N]``.
        z_critic: Critic eligibility, ``[B, F]``.
    """

    elig: np.ndarray
    z_critic: np.ndarray


class StepOutput(NamedTuple):
    """What one environment step of the actor produced.

    Attributes:
        actions: Chosen actions ``[B]`` (int64).
        counts: Spike counts per population ``[B, A]``.
        z: STDP pair sum of the window ``[B, F, N]`` (empty when not learning).
        rate: Mean firing rate of the action neurons (spikes per neuron per step) ``[B]``.
        spikes: Action spikes of the window ``[T, B, N]``.
        tied: True where the best score was shared and a seeded draw decided ``[B]``.
        margin: Best minus second-best score of the readout ``[B]``.
    """

    actions: np.ndarray
    counts: np.ndarray
    z: np.ndarray
    rate: np.ndarray
    spikes: np.ndarray
    tied: np.ndarray
    margin: np.ndarray


class SpikingActorCritic(nn.Module):
    """Spiking actor (mutually inhibiting action populations) plus a linear critic.

    The weights live in torch parameters (saved by ``state_dict``); the window step and
    the update work on zero-copy NumPy views of them in one compiled kernel each
    (:mod:`spikerl.agents.kernels`; NumPy reference :meth:`step_numpy`). At batch 1 the
    per-operation dispatch cost dominates: torch ops cost about 5x the NumPy step, and the
    NumPy step about 3.3x the kernel (Breakout preset, learning: 120-180 us -> 37-54 us per
    window, random draws included).
    The module therefore stays on the CPU.

    Args:
        n_features: Input features ``F``.
        n_actions: Action populations ``A``.
        snn: Network constants.
        generator: Source of the initial weights.
    """

    def __init__(
        self,
        n_features: int,
        n_actions: int,
        snn: SNNConfig,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.n_actions = n_actions
        self.snn = snn
        n = n_actions * snn.n_per_action
        self.n_neurons = n
        w = torch.rand(n_features, n, generator=generator, dtype=torch.float64)
        w = snn.w_init_low + w * (snn.w_init - snn.w_init_low)
        if snn.gain_spread > 0:
            w = w * torch.from_numpy(snn.gains(n_actions))
        self.weight = nn.Parameter(w, requires_grad=False)
        self.critic = nn.Parameter(torch.zeros(n_features, dtype=torch.float64), False)
        self._decay = math.exp(-snn.dt / snn.tau_mem)
        dpre = math.exp(-snn.dt / snn.tau_pre)
        dpost = math.exp(-snn.dt / snn.tau_post)
        t = snn.sim_steps
        idx = np.arange(t, dtype=np.float64)
        diff = idx[:, None] - idx[None, :]
        # x[t] = sum_{s<=t} d^(t-s) s[s] + d^(t+1) x_in
        self._kpre = np.where(diff >= 0, dpre ** np.maximum(diff, 0), 0.0)
        self._kpost = np.where(diff >= 0, dpost ** np.maximum(diff, 0), 0.0)
        self._ppre = dpre ** (idx + 1)
        self._ppost = dpost ** (idx + 1)
        pop = np.arange(n) // snn.n_per_action
        # inhibition: -w_inh from every neuron of another population
        self._inh = (pop[:, None] != pop[None, :]).astype(np.float64) * -snn.w_inh
        n_gap = round(snn.gap / snn.dt)
        self._gap_v = self._decay ** max(n_gap - 1, 0) if n_gap > 0 else 1.0
        self._gap_pre = dpre**n_gap
        self._gap_post = dpost**n_gap
        self._thr = snn.v_thresh - snn.v_rest
        self._reset = snn.v_reset - snn.v_rest
        self._window_params = window_params(
            t, snn.input_rate, snn.n_per_action, self._decay, self._thr, self._reset,
            snn.w_inh, snn.gap > 0, self._gap_v, self._gap_pre, self._gap_post, dpre, dpost,
            snn.a_plus, snn.a_minus, snn.center,
        )  # fmt: skip

    def _view(self, t: torch.Tensor) -> np.ndarray:
        key = (id(t), t.data_ptr())
        cache: dict[str, tuple[tuple[int, int], np.ndarray]] = self.__dict__.setdefault(
            "_views", {}
        )
        name = "w" if t is self.weight else "c"
        hit = cache.get(name)
        if hit is None or hit[0] != key:
            hit = (key, t.data.numpy())
            cache[name] = hit
        return hit[1]

    @property
    def w_np(self) -> np.ndarray:
        """Zero-copy NumPy view of the actor weights ``[F, N]``."""
        return self._view(self.weight)

    @property
    def critic_np(self) -> np.ndarray:
        """Zero-copy NumPy view of the critic weights ``[F]``."""
        return self._view(self.critic)

    def initial_state(self, batch: int) -> ActorState:
        """Fresh network state for ``batch`` environments."""
        n = self.n_neurons
        return ActorState(
            v=np.zeros((batch, n)),
            spikes=np.zeros((batch, n)),
            x_pre=np.zeros((batch, self.n_features)),
            x_post=np.zeros((batch, n)),
        )

    def initial_learn_state(self, batch: int) -> LearnState:
        """Zero eligibility traces for ``batch`` environments."""
        return LearnState(
            elig=np.zeros((batch, self.n_features, self.n_neurons)),
            z_critic=np.zeros((batch, self.n_features)),
        )

    @staticmethod
    def reset_state(state: ActorState, episode_start: np.ndarray) -> ActorState:
        """Zero (fresh) the entries of environments whose episode starts."""
        keep = ~episode_start.astype(bool).reshape(-1, 1)
        return ActorState(*(s * keep for s in state))

    def value(self, phi: np.ndarray) -> np.ndarray:
        """Critic ``V = w_c . phi`` for features ``[B, F]`` -> ``[B]``
        (:meth:`spikerl.learning.critic.TDLambdaCritic.values`)."""
        return TDLambdaCritic.values(self.critic_np, phi)

    def step(
        self,
        phi: np.ndarray,
        state: ActorState,
        *,
        deterministic: bool,
        learn: bool,
        rng: np.random.Generator,
    ) -> tuple[StepOutput, ActorState]:
        """Run one window of ``T`` steps for features ``phi [B, F]``.

        Deterministic mode drives the actor with the expected input ``phi * input_rate``
        and no membrane noise. The compiled kernel (:mod:`spikerl.agents.kernels`) runs the
        window when numba is available; :meth:`step_numpy` is the reference (same random
        draws, same spikes, sums equal up to rounding order).
        """
        self._check_inputs(phi, state)
        kernel = window_kernel()
        if kernel is None:
            return self.step_numpy(phi, state, deterministic=deterministic, learn=learn, rng=rng)
        c = self.snn
        t_steps = c.sim_steps
        b, f = phi.shape
        empty = np.zeros((0, 0, 0))
        uniform = empty if deterministic else rng.random((t_steps, b, f))
        if deterministic or c.noise_std <= 0:
            noise = empty
        else:
            noise = rng.normal(0.0, c.noise_std, (t_steps, b, self.n_neurons))
        counts, z, rate, spikes, v, prev, x_pre, x_post = kernel(
            np.ascontiguousarray(phi, dtype=np.float64),
            uniform,
            noise,
            self.w_np,
            np.ascontiguousarray(state.v, dtype=np.float64),
            np.ascontiguousarray(state.spikes, dtype=np.float64),
            np.ascontiguousarray(state.x_pre, dtype=np.float64),
            np.ascontiguousarray(state.x_post, dtype=np.float64),
            self._window_params,
            learn,
        )
        d = self.decide(counts, v, rng)
        out = StepOutput(
            d.actions, counts, z if learn else np.zeros(0), rate, spikes, d.tied, d.margin
        )
        return out, ActorState(v=v, spikes=prev, x_pre=x_pre, x_post=x_post)

    def decide(self, counts: np.ndarray, v_end: np.ndarray, rng: np.random.Generator) -> Decision:
        """The decoder's decision from the window's counts ``[B, A]`` and end potentials
        ``[B, N]``; draws one uniform number per environment for ties (after the window's
        own draws)."""
        scores = group_scores(self.snn.readout, counts, v_end, self.snn.n_per_action)
        return vote(scores, np.asarray(rng.random(counts.shape[0])))

    def _check_inputs(self, phi: np.ndarray, state: ActorState) -> None:
        """Raise ``ValueError`` unless ``phi`` is ``[B, F]`` and ``state`` matches it (the
        compiled window does not bounds-check)."""
        if phi.ndim != 2 or phi.shape[1] != self.n_features:
            raise ValueError(
                f"features: expected shape [B, {self.n_features}], got {list(phi.shape)}"
            )
        b, n = phi.shape[0], self.n_neurons
        want = ((b, n), (b, n), (b, self.n_features), (b, n))  # ActorState's fields in order
        for name, arr, shape in zip(ActorState._fields, state, want, strict=True):
            if np.shape(arr) != shape:
                raise ValueError(
                    f"state.{name}: expected shape {list(shape)} for a batch of {b}, got "
                    f"{list(np.shape(arr))}; start from initial_state({b}) when the batch changes"
                )

    def step_numpy(
        self,
        phi: np.ndarray,
        state: ActorState,
        *,
        deterministic: bool,
        learn: bool,
        rng: np.random.Generator,
    ) -> tuple[StepOutput, ActorState]:
        """NumPy reference of :meth:`step` (matrix products over the whole window)."""
        c = self.snn
        t_steps = c.sim_steps
        b, f = phi.shape
        p = np.clip(phi * c.input_rate, 0.0, 1.0)
        if deterministic:
            s_in = np.broadcast_to(p, (t_steps, b, f))
        else:
            s_in = (rng.random((t_steps, b, f)) < p).astype(np.float64)
        cur = s_in @ self.w_np  # [T, B, N]
        if not deterministic and c.noise_std > 0:
            cur = cur + rng.normal(0.0, c.noise_std, cur.shape)
        v, prev = state.v, state.spikes
        x_pre_in, x_post_in = state.x_pre, state.x_post
        if c.gap > 0:  # silent gap since the previous window
            v = (v * self._decay + prev @ self._inh) * self._gap_v
            prev = np.zeros_like(prev)
            x_pre_in = x_pre_in * self._gap_pre
            x_post_in = x_post_in * self._gap_post
        spikes = np.empty_like(cur)
        decay, thr, reset, inh = self._decay, self._thr, self._reset, self._inh
        for t in range(t_steps):
            v = v * decay + cur[t] + prev @ inh
            s = v >= thr
            v = np.where(s, reset, v)
            prev = s.astype(np.float64)
            spikes[t] = prev
        counts = spikes.sum(0).reshape(b, self.n_actions, c.n_per_action).sum(-1)
        x_pre = (self._kpre @ s_in.reshape(t_steps, -1)).reshape(t_steps, b, f)
        x_pre += self._ppre[:, None, None] * x_pre_in
        x_post = (self._kpost @ spikes.reshape(t_steps, -1)).reshape(spikes.shape)
        x_post += self._ppost[:, None, None] * x_post_in
        if learn:  # spikerl.learning.actor: pair sums, then centring
            post_before = np.concatenate([x_post_in[None], x_post[:-1]], axis=0)
            z = actor.pair_sums(x_pre, spikes, s_in, post_before, c.a_plus, c.a_minus)
            if c.center:
                actor.centre(z)
        else:
            z = np.zeros(0)
        new_state = ActorState(v=v, spikes=prev, x_pre=x_pre[-1], x_post=x_post[-1])
        rate = spikes.sum(axis=(0, 2)) / (t_steps * self.n_neurons)
        d = self.decide(counts, v, rng)
        return StepOutput(d.actions, counts, z, rate, spikes, d.tied, d.margin), new_state
