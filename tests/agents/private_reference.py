"""NumPy reference of the R-STDP agent's former private network and learner.

Until the agent ran on core parts it had its own NumPy/numba actor and learner
(``spikerl/agents/network.py``, ``learner.py``, ``kernels.py``). They were removed once every
preset ran on the core; their NumPy paths live on here as the reference that
``test_stack_equivalence.py`` holds the core actor to (the same spikes, eligibility and
weights window for window; the same distributions with the random draws on).

Actor: ``F`` Bernoulli inputs (probability ``phi * input_rate`` per step) -> ``A``
populations of ``n_per_action`` LIF neurons inhibiting each other, per step

    I[t] = s_in[t] @ W - w_inh * (spikes of the other populations at t-1) + noise[t]
    v[t] = v_rest + (v[t-1] - v_rest) exp(-dt / tau_mem) + I[t]     (mV)

then the windowed MSTDPET pair sums (centred), eligibility ``e <- gamma lam e + Z``, the
TD(lambda) critic's error as third factor and ``dW = lr delta e``
(:mod:`spikerl.learning.actor`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from spikerl.agents.config import LearnConfig, Modulation, SNNConfig, UpdateStats
from spikerl.agents.features import FeatureMap
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

    The weights live in torch parameters; the window step and the update work on
    zero-copy NumPy views of them.

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
        """Run one window of ``T`` steps for features ``phi [B, F]`` (:meth:`step_numpy`)."""
        self._check_inputs(phi, state)
        return self.step_numpy(phi, state, deterministic=deterministic, learn=learn, rng=rng)

    def decide(self, counts: np.ndarray, v_end: np.ndarray, rng: np.random.Generator) -> Decision:
        """The decoder's decision from the window's counts ``[B, A]`` and end potentials
        ``[B, N]``; draws one uniform number per environment for ties (after the window's
        own draws)."""
        scores = group_scores(self.snn.readout, counts, v_end, self.snn.n_per_action)
        return vote(scores, np.asarray(rng.random(counts.shape[0])))

    def _check_inputs(self, phi: np.ndarray, state: ActorState) -> None:
        """Raise ``ValueError`` unless ``phi`` is ``[B, F]`` and ``state`` matches it (the
        window does not bounds-check)."""
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


class RSTDPLearner:
    """Act-and-learn state machine for a batch of ``n_envs`` environments.

    Args:
        net: The spiking actor and critic (weights are updated in place).
        features: Observation feature map.
        learn: Learning constants.
        n_envs: Batch size.
        rng: Source of the input spikes and membrane noise.
    """

    def __init__(
        self,
        net: SpikingActorCritic,
        features: FeatureMap,
        learn: LearnConfig,
        n_envs: int,
        rng: np.random.Generator,
    ) -> None:
        self.net = net
        self.features = features
        self.learn = learn
        self.n_envs = n_envs
        self.rng = rng
        self.td = learn.critic()
        self.actor_state: ActorState = net.initial_state(n_envs)
        self.learn_state: LearnState = net.initial_learn_state(n_envs)
        self._phi: np.ndarray | None = None
        self._phi_next: np.ndarray | None = None
        self._stale: np.ndarray | None = None
        self._col_target: tuple[SNNConfig, np.ndarray] | None = None  # (constants, target)
        self.last: StepOutput | None = None

    def forget_observations(self) -> None:
        """Drop cached features (call when the environments were reset from outside)."""
        self._phi_next = None
        self._stale = None

    def reset(self, episode_start: np.ndarray) -> None:
        """Clear the network state and traces of environments whose episode starts."""
        if episode_start.any():
            self.actor_state = SpikingActorCritic.reset_state(self.actor_state, episode_start)
            starts = episode_start.astype(bool)
            self.learn_state.elig[starts] = 0.0
            self.td.reset(self.learn_state.z_critic, starts)

    def act(self, obs: np.ndarray, *, learn: bool = True) -> np.ndarray:
        """Choose actions for observations ``[B, ...]`` (stochastic), accumulating STDP.

        ``obs`` must be the observations that followed the last ``update`` (if any): the
        features computed there for bootstrapping are reused where no episode ended.
        """
        phi = self._phi_next
        if phi is None or self._stale is None:
            phi = self.features(obs)
        elif self._stale.any():
            phi = phi.copy()
            phi[self._stale] = self.features(obs[self._stale])
        self._phi_next = None
        return self.run_window(phi, deterministic=False, learn=learn).actions

    def run_window(self, phi: np.ndarray, *, deterministic: bool, learn: bool) -> StepOutput:
        """Run the spiking window on features ``phi [B, F]``; when learning, decay the
        eligibility traces by ``gamma lambda`` and add the window's STDP pairs."""
        out, self.actor_state = self.net.step(
            phi, self.actor_state, deterministic=deterministic, learn=learn, rng=self.rng
        )
        if learn:
            elig, zc = self.learn_state
            actor.accumulate_eligibility(elig, out.z, self.learn.gamma * self.learn.lam_actor)
            self.td.accumulate(zc, phi)
        self._phi = phi
        self.last = out
        return out

    def update(
        self,
        rewards: np.ndarray,
        bootstrap_obs: np.ndarray,
        terminated: np.ndarray,
        lr_fraction: float = 1.0,
        stale: np.ndarray | None = None,
        mask: np.ndarray | None = None,
    ) -> UpdateStats:
        """Apply the three-factor update for the transition that ``act`` started.

        Args:
            rewards: Rewards ``[B]``.
            bootstrap_obs: The next observations ``[B, ...]``: for an episode that ended,
                its final observation (not the reset one).
            terminated: True where the episode ended in a terminal state (no bootstrap);
                a truncated episode still bootstraps from its final observation.
            lr_fraction: Multiplier of both learning rates (schedule).
            stale: True where ``bootstrap_obs`` is not the observation the next ``act``
                sees (episode ended, env reset); None means all stale.
            mask: False where the step was no real transition (a vector env's autoreset
                step): no plasticity there.
        """
        if stale is None:
            stale = np.ones(len(rewards), dtype=bool)
        if self._phi is None:
            raise RuntimeError("update() called before act()")
        b = self._phi.shape[0]
        for name, arr in (("rewards", rewards), ("terminated", terminated), ("mask", mask)):
            if arr is not None and np.shape(arr) != (b,):
                raise ValueError(
                    f"update(): {name} must have shape [{b}] (one per environment), got "
                    f"{list(np.shape(arr))}"
                )
        phi_next = self.features(bootstrap_obs)
        if phi_next.shape != self._phi.shape:
            raise ValueError(
                f"update(): bootstrap observations give features {list(phi_next.shape)}, "
                f"expected {list(self._phi.shape)} (one observation per environment)"
            )
        stats = self._update_numpy(phi_next, rewards, terminated, lr_fraction, mask)
        self._phi_next = phi_next
        self._stale = stale
        return stats

    def _col_mean(self) -> np.ndarray:
        """Target mean weight of each action neuron under ``weight_norm`` ``[N]`` (empty: off).

        With normalisation each neuron's weights are shifted after every update so that
        ``mean_f W[f, n] = g_n (w_init_low + w_init) / 2`` (mV per spike), the mean of its
        initial distribution (``g_n`` its gain, ``snn.gain_spread``; 1 by default): a
        neuron's total drive for population-coded input stays put, and the populations
        compete through the pattern of their weights, not their size.
        """
        if not self.learn.weight_norm:
            return np.empty(0)
        snn = self.net.snn
        if self._col_target is None or self._col_target[0] is not snn:  # once per constants
            target = 0.5 * (snn.w_init_low + snn.w_init) * snn.gains(self.net.n_actions)
            self._col_target = (snn, target)
        return self._col_target[1]

    def _update_numpy(
        self,
        phi_next: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        lr_fraction: float,
        mask: np.ndarray | None,
    ) -> UpdateStats:
        """NumPy path of the update (see :meth:`update`): the critic's TD error and step
        (:class:`~spikerl.learning.critic.TDLambdaCritic`), then the actor's
        ``dW = rho lr_actor / (F B) sum_b m_b e_b`` with bounds and normalisation
        (:mod:`spikerl.learning.actor`)."""
        assert self._phi is not None
        lc = self.learn
        net = self.net
        phi = self._phi
        crit = net.critic_np
        ls = self.learn_state
        td, v, r = self.td.td_error(crit, phi, phi_next, rewards, terminated, mask)
        mod = actor.third_factor(
            td, r, mask, td_error=lc.modulation is Modulation.TD_ERROR, clip=lc.delta_clip
        )
        self.td.update(crit, ls.z_critic, phi, td, lr_fraction)
        dw = actor.weight_change(mod, ls.elig, lr_fraction, lc.lr_actor)
        target = self._col_mean()
        actor.apply_change(
            net.w_np, dw, net.snn.wmin, net.snn.wmax, target if target.size else None
        )
        return UpdateStats(float(mod.mean()), float(np.abs(dw).mean()), float(v.mean()))
