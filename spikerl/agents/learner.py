"""The R-STDP learning step, shared by :class:`~spikerl.agents.RSTDP` and the Pipeline.

One environment step of the agent is ``act`` (features -> spiking window -> actions, STDP
pair sums into the eligibility) followed by ``update`` (third factor -> weight change).
The critic is :class:`spikerl.learning.critic.TDLambdaCritic` and the actor's three-factor
update is :mod:`spikerl.learning.actor` (the compiled update fuses both; the modules are its
reference). The object holds the
per-environment learning state; it knows nothing of SB3.
"""

from __future__ import annotations

import numpy as np

from spikerl.agents.config import LearnConfig, Modulation, SNNConfig, UpdateStats
from spikerl.agents.features import FeatureMap
from spikerl.agents.kernels import update_kernel
from spikerl.agents.network import ActorState, LearnState, SpikingActorCritic, StepOutput
from spikerl.learning import actor


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
        kernel = update_kernel()
        if kernel is None:
            stats = self._update_numpy(phi_next, rewards, terminated, lr_fraction, mask)
        else:
            lc = self.learn
            net = self.net
            mod, dw, value = kernel(
                self._phi,
                phi_next,
                self.td.shape_rewards(rewards),
                np.asarray(terminated, dtype=np.bool_),
                np.ones(b) if mask is None else np.asarray(mask, dtype=np.float64),
                net.critic_np,
                net.w_np,
                self.learn_state.elig,
                self.learn_state.z_critic,
                lc.gamma,
                lc.delta_clip,
                lc.modulation is Modulation.TD_ERROR,
                self.td.step_size(lr_fraction, b),
                actor.actor_step_size(lr_fraction, lc.lr_actor, net.n_features, b),
                net.snn.wmin,
                net.snn.wmax,
                self._col_mean(),
            )
            stats = UpdateStats(mod, dw, value)
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
        (:mod:`spikerl.learning.actor`, the reference of the compiled kernel)."""
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
