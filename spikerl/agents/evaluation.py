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


def greedy_episodes(model: Any, env: VecEnv, episodes: int) -> GreedyResult:
    """Play ``episodes`` greedy episodes on the first environment of ``env``.

    The policy's state (potentials, traces) is carried between steps and reset at episode
    starts, as in training. Ties and margins are read from ``model.policy.last_output``
    when the policy exposes it (the spiking policies of :mod:`spikerl.agents`).

    Raises:
        ValueError: if ``episodes < 1`` or the env is batched.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if env.num_envs != 1:
        raise ValueError(f"greedy_episodes plays one env, got num_envs={env.num_envs}")
    n_actions = int(getattr(env.action_space, "n", 0))
    counts = np.zeros(max(n_actions, 1), dtype=np.int64)
    returns: list[float] = []
    lengths: list[int] = []
    tied: list[bool] = []
    margins: list[float] = []
    obs = env.reset()
    state = None
    starts = np.ones(1, dtype=bool)
    ret, length = 0.0, 0
    while len(returns) < episodes:
        action, state = model.predict(obs, state, starts, deterministic=True)
        last = getattr(getattr(model, "policy", None), "last_output", None)
        if last is not None and hasattr(last, "tied"):
            tied.append(bool(np.asarray(last.tied).reshape(-1)[0]))
            margins.append(float(np.asarray(last.margin).reshape(-1)[0]))
        if n_actions:
            counts[int(np.asarray(action).reshape(-1)[0])] += 1
        obs, r, done, _ = env.step(action)
        ret += float(r[0])
        length += 1
        starts = done
        if done[0]:
            returns.append(ret)
            lengths.append(length)
            ret, length = 0.0, 0
    return GreedyResult(
        returns,
        lengths,
        float(np.mean(tied)) if tied else float("nan"),
        float(np.mean(margins)) if margins else float("nan"),
        counts.tolist(),
    )
