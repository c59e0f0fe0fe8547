"""Linear TD(lambda) critic: the value baseline and TD error that modulate R-STDP.

The critic is linear in the features ``phi(s)`` the actor sees (the agent's Gaussian
fields, or a parts policy's input firing rates per step), one weight per feature:

    V(s) = w . phi(s)   (reward units)

Per environment step and environment ``b`` (batch ``B``), with discount ``gamma``, trace
decay ``lam`` and learning rate ``lr`` (times the schedule's fraction ``rho``):

1. after the window acting in ``s``, the accumulating trace takes the features in:
   ``z_b <- gamma lam z_b + phi(s_b)`` (:meth:`TDLambdaCritic.accumulate`);
2. the reward is put in the critic's unit, ``r~ = clip(reward_scale r, -c_r, c_r)``
   (no clip when ``reward_clip`` ``c_r`` is 0; :meth:`TDLambdaCritic.shape_rewards`);
3. the TD error bootstraps from the next state unless the episode terminated
   (a truncated episode bootstraps from its final observation):
   ``delta_b = clip(r~_b + gamma V(s'_b) (1 - done_b) - V(s_b), -c_d, c_d)``, times the
   step's mask (0 where the step was no real transition) (:meth:`TDLambdaCritic.td_error`);
4. the weights move along the trace, normalised by the total feature activity of the
   state acted in (an NLMS step: the step size does not grow with the number of active
   fields): ``w <- w + (rho lr / B) sum_b delta_b z_b / max(sum_f phi_f(s_b), 1e-8)``
   (:meth:`TDLambdaCritic.update`).

Units: ``V`` and ``delta`` are in (scaled) reward units; ``phi`` is dimensionless
(features or spikes per simulation step); ``lr`` is per env step.

State is explicit: the weights ``[F]`` and the trace ``[B, F]`` are float64 arrays the
caller owns (the R-STDP agent keeps its weights in a torch parameter and passes a
zero-copy view). The methods that learn change these arrays in place, as documented on
each; the others are pure. The R-STDP agent's learner
(:class:`spikerl.agents.core_policy.NetworkLearner`) calls it for every update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = ["CriticState", "TDError", "TDLambdaCritic", "count_features", "novelty"]

_MIN_ACTIVITY = 1e-8  # floor of sum_f phi_f in the normalised step


class CriticState(NamedTuple):
    """The critic's learnable state.

    Attributes:
        weights: Value weights ``w``, ``[F]`` (reward units per unit feature).
        trace: Accumulating eligibility ``z``, ``[B, F]`` (features, discounted sum).
    """

    weights: np.ndarray
    trace: np.ndarray


class TDError(NamedTuple):
    """What :meth:`TDLambdaCritic.td_error` computed for a batch of transitions.

    Attributes:
        delta: TD errors ``[B]``, clipped to ``+-delta_clip`` and masked.
        value: ``V(s)`` of the states acted in ``[B]``.
        reward: The shaped rewards ``r~`` ``[B]`` (scaled and clipped, not masked).
    """

    delta: np.ndarray
    value: np.ndarray
    reward: np.ndarray


@dataclass(frozen=True)
class TDLambdaCritic:
    """Constants of a linear TD(lambda) critic (see the module docstring for the steps).

    Attributes:
        gamma: Discount factor per env step.
        lam: Trace decay per env step (the trace decays by ``gamma lam``).
        lr: Learning rate per env step (the schedule's fraction multiplies it).
        reward_scale: Rewards are multiplied by this before clipping and TD errors (a
            per-task unit, e.g. Pendulum's -16..0 per step scaled to about -1.6..0).
        reward_clip: Clip of the scaled reward to ``[-reward_clip, reward_clip]``
            (0: no clip).
        delta_clip: Clip of the TD error to ``[-delta_clip, delta_clip]``.
    """

    gamma: float = 0.99
    lam: float = 0.8
    lr: float = 0.1
    reward_scale: float = 1.0
    reward_clip: float = 0.0
    delta_clip: float = 10.0

    def initial_state(self, n_features: int, batch: int) -> CriticState:
        """Zero weights ``[F]`` and traces ``[B, F]`` (float64)."""
        return CriticState(np.zeros(n_features), np.zeros((batch, n_features)))

    @staticmethod
    def values(weights: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """``V(s) = w . phi(s)`` for features ``phi [B, F]`` -> ``[B]`` (reward units)."""
        return phi @ weights

    def shape_rewards(self, rewards: np.ndarray) -> np.ndarray:
        """``r~ = clip(reward_scale r, -reward_clip, reward_clip)`` as float64 ``[B]``
        (no clip when ``reward_clip`` is 0)."""
        r = np.asarray(rewards, dtype=np.float64)
        if self.reward_scale != 1.0:
            r = r * self.reward_scale
        if self.reward_clip > 0:
            r = np.clip(r, -self.reward_clip, self.reward_clip)
        return r

    def accumulate(self, trace: np.ndarray, phi: np.ndarray) -> None:
        """``z <- gamma lam z + phi``, in place on ``trace [B, F]`` (once per env step,
        with the features of the state acted in)."""
        trace *= self.gamma * self.lam
        trace += phi

    @staticmethod
    def reset(trace: np.ndarray, episode_start: np.ndarray) -> None:
        """Zero, in place, the traces of environments whose episode starts (``[B]`` bool)."""
        trace[np.asarray(episode_start, dtype=bool).reshape(-1)] = 0.0

    def td_error(
        self,
        weights: np.ndarray,
        phi: np.ndarray,
        phi_next: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        mask: np.ndarray | None = None,
    ) -> TDError:
        """``delta = clip(r~ + gamma V(s') (1 - done) - V(s), -delta_clip, delta_clip)``.

        Args:
            weights: Value weights ``[F]``.
            phi: Features of the states acted in ``[B, F]``.
            phi_next: Features of the next states ``[B, F]`` (an ended episode's final
                observation, not the reset one).
            rewards: Raw rewards ``[B]`` (shaped here by :meth:`shape_rewards`).
            terminated: True where the episode ended in a terminal state (no bootstrap).
            mask: 0 where the step was no real transition (its ``delta`` is 0); None: all 1.

        Returns:
            The TD errors, ``V(s)`` and the shaped rewards.
        """
        r = self.shape_rewards(rewards)
        v = self.values(weights, phi)
        v_next = self.values(weights, phi_next) * (1.0 - np.asarray(terminated, dtype=np.float64))
        delta = np.clip(r + self.gamma * v_next - v, -self.delta_clip, self.delta_clip)
        if mask is not None:
            delta = delta * mask
        return TDError(delta, v, r)

    def step_size(self, lr_fraction: float, batch: int) -> float:
        """Effective rate ``rho lr / B`` of one update (``rho``: the schedule's fraction)."""
        return lr_fraction * self.lr / batch

    def update(
        self,
        weights: np.ndarray,
        trace: np.ndarray,
        phi: np.ndarray,
        delta: np.ndarray,
        lr_fraction: float = 1.0,
    ) -> None:
        """``w <- w + (rho lr / B) sum_b delta_b z_b / max(sum_f phi_bf, 1e-8)``, in place
        on ``weights [F]``.

        Args:
            weights: Value weights ``[F]`` (changed in place).
            trace: Traces ``[B, F]`` after :meth:`accumulate` of this step.
            phi: Features of the states acted in ``[B, F]`` (the normalisation).
            delta: TD errors ``[B]`` from :meth:`td_error`.
            lr_fraction: The learning-rate schedule's fraction ``rho`` of this step.
        """
        norm = np.maximum(phi.sum(axis=1), _MIN_ACTIVITY)
        weights += self.step_size(lr_fraction, len(delta)) * ((delta / norm) @ trace)


def count_features(counts: np.ndarray, phi: np.ndarray) -> None:
    """Add the feature activity of the states ``phi [B, F]`` to the visit counts
    ``counts [F]``, in place: ``n_f <- n_f + sum_b phi_bf`` (pseudo-counts: a Gaussian
    field half on adds one half)."""
    counts += np.asarray(phi, dtype=np.float64).sum(axis=0)


def novelty(counts: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Pseudo-count novelty of states, in ``(0, 1]`` ``[B]``:

        nu(s) = sum_f phi_f(s) / sqrt(1 + n_f)  /  max(sum_f phi_f(s), 1e-8)

    the activity-weighted mean of ``1 / sqrt(1 + n_f)`` over the features the state drives
    (``n_f`` from :func:`count_features`): 1 for a state whose features were never seen,
    falling as ``1 / sqrt(visits)`` (the count-based bonus of Strehl & Littman 2008 and
    Bellemare et al. 2016, on the critic's features). Dimensionless.
    """
    p = np.asarray(phi, dtype=np.float64)
    root = np.sqrt(1.0 + np.asarray(counts, dtype=np.float64))
    return (p / root).sum(axis=1) / np.maximum(p.sum(axis=1), _MIN_ACTIVITY)
