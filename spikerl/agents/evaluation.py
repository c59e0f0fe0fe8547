"""Greedy evaluation of a spiking agent with its decision statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv


@dataclass(frozen=True)
class GreedyResult:
    """Returns of greedy episodes and how decisive the spike vote was.

    Attributes:
        returns: Return of each episode.
        lengths: Length of each episode (env steps).
        tie_fraction: Fraction of decisions whose best readout score was shared (a seeded
            draw decided), or NaN for a policy that does not report it.
        margin: Mean best-minus-second readout score (spikes; NaN if not reported).
        action_counts: How often each action was taken.
    """

    returns: list[float]
    lengths: list[int]
    tie_fraction: float
    margin: float
    action_counts: list[int]

    @property
    def mean(self) -> float:
        """Mean return."""
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        """Standard deviation of the returns."""
        return float(np.std(self.returns))


class PredictLearner:
    """Any model with SB3's ``predict`` as a (non-learning) learner of the Pipeline.

    The Pipeline's stages map onto ``predict``: ``reset(starts)`` keeps the episode starts,
    ``features`` is the identity (the policy encodes its own observations), and
    ``run_window`` calls ``model.predict(obs, state, starts, deterministic)``, carrying the
    recurrent state (membrane potentials, traces) between steps as training does. ``last`` is
    what the policy reported of its last decision (``policy.last_output``: tie flags and
    margins of the spiking policies), or None.

    Args:
        model: An SB3 ``BaseAlgorithm`` (``RSTDP``, PPO, DQN, ...) or anything with its
            ``predict`` signature.
        n_envs: Batch size of the env it plays.
    """

    def __init__(self, model: Any, n_envs: int) -> None:
        self.model = model
        self.n_envs = n_envs
        self.state: Any = None
        self._starts = np.ones(n_envs, dtype=bool)

    @property
    def last(self) -> Any:
        """The policy's report of its last decision (``last_output``), if it keeps one."""
        return getattr(getattr(self.model, "policy", None), "last_output", None)

    def forget_observations(self) -> None:
        """A fresh reset: drop the carried state."""
        self.state = None

    def reset(self, episode_start: np.ndarray) -> None:
        """Remember where episodes start; ``predict`` resets the state there."""
        self._starts = np.asarray(episode_start, dtype=bool).reshape(self.n_envs)

    def features(self, obs: np.ndarray) -> np.ndarray:
        """The identity: ``predict`` encodes the observations itself."""
        return obs

    def run_window(self, obs: np.ndarray, deterministic: bool, learn: bool) -> Any:
        """One decision: ``model.predict`` with the carried state and episode starts.

        Raises:
            ValueError: if asked to learn (a predict-only policy cannot).
        """
        if learn:
            raise ValueError("PredictLearner only predicts: run its Pipeline with learn=False")
        actions, self.state = self.model.predict(
            obs, self.state, self._starts, deterministic=deterministic
        )
        return _Decision(np.asarray(actions))


@dataclass(frozen=True)
class _Decision:
    """The decoded actions of one ``predict`` call ``[B]``."""

    actions: np.ndarray


def greedy_episodes(model: Any, env: VecEnv, episodes: int) -> GreedyResult:
    """Play ``episodes`` greedy episodes on the first environment of ``env``.

    The episodes run through :class:`spikerl.pipeline.Pipeline` (``learn=False``), the loop
    that training runs through too, with the model's ``predict`` as its policy
    (:class:`PredictLearner`): the policy's state (potentials, traces) is carried between
    steps and reset at episode starts, as in training. Ties and margins are read from
    ``model.policy.last_output`` when the policy exposes it (the spiking policies of
    :mod:`spikerl.agents`).

    Raises:
        ValueError: if ``episodes < 1`` or the env is batched.
    """
    from spikerl.pipeline import Pipeline  # the one loop (it imports the agents' parts)

    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if env.num_envs != 1:
        raise ValueError(f"greedy_episodes plays one env, got num_envs={env.num_envs}")
    pipe = Pipeline(env, PredictLearner(model, 1), learn=False, log_every=2**62)
    res = pipe.run(episodes=episodes)
    return GreedyResult(
        res.episode_returns[:episodes],
        res.episode_lengths[:episodes],
        res.tie_fraction,
        res.margin,
        res.action_counts or [0],
    )
