"""Continuous actions for vote decoders: a ``Box`` action space binned per dimension.

A vote decoder picks one of ``A`` action populations. For a ``Box`` action space of ``d``
dimensions, :class:`BinnedActions` offers ``A = n_bins ** d`` discrete actions: action
``k`` has per-dimension bin indices ``(k_1, ..., k_d)`` (``k`` in base ``n_bins``, first
dimension most significant) and sends the bin centres

    a_j = low_j + (k_j + 0.5) (high_j - low_j) / n_bins     (the action's units)

so that each action population codes for one region of the continuous action range
(population coding with one preferred value per population).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

MAX_BINNED_ACTIONS = 256


def bin_centres(low: np.ndarray, high: np.ndarray, n_bins: int) -> np.ndarray:
    """All ``n_bins ** d`` actions ``[A, d]`` (bin centres), first dimension slowest."""
    d = low.shape[0]
    grids = [low[j] + (np.arange(n_bins) + 0.5) * (high[j] - low[j]) / n_bins for j in range(d)]
    mesh = np.meshgrid(*grids, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=1)


class BinnedActions(gym.ActionWrapper):  # type: ignore[type-arg]
    """Expose a bounded flat ``Box`` action space as ``Discrete(n_bins ** d)`` (bin centres).

    Args:
        env: An environment with a bounded flat ``Box`` action space.
        n_bins: Bins per action dimension (>= 2).

    Raises:
        ValueError: unbounded or non-flat action space, ``n_bins < 2``, or more than
            ``MAX_BINNED_ACTIONS`` actions.
    """

    def __init__(self, env: gym.Env[Any, Any], n_bins: int = 9) -> None:
        super().__init__(env)
        box = env.action_space
        if not isinstance(box, spaces.Box) or len(box.shape) != 1:
            raise ValueError(f"BinnedActions needs a flat Box action space, got {box}")
        if not (np.isfinite(box.low).all() and np.isfinite(box.high).all()):
            raise ValueError(f"BinnedActions needs finite action bounds, got {box}")
        if not isinstance(n_bins, int) or isinstance(n_bins, bool) or n_bins < 2:
            raise ValueError(f"n_bins must be an int >= 2, got {n_bins!r}")
        n_actions = n_bins ** box.shape[0]
        if n_actions > MAX_BINNED_ACTIONS:
            raise ValueError(
                f"BinnedActions: {n_bins} bins on {box.shape[0]} dimensions give {n_actions} "
                f"actions (at most {MAX_BINNED_ACTIONS}); use fewer bins"
            )
        self.n_bins = n_bins
        self.centres = bin_centres(
            box.low.astype(np.float64), box.high.astype(np.float64), n_bins
        ).astype(box.dtype)
        self.action_space = spaces.Discrete(n_actions)

    def action(self, action: Any) -> np.ndarray:
        """The bin centres of discrete action ``action``."""
        k = int(np.asarray(action).reshape(()))
        if not 0 <= k < self.centres.shape[0]:
            raise ValueError(f"action {k} outside [0, {self.centres.shape[0]})")
        return self.centres[k].copy()
