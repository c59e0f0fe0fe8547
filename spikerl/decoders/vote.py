"""The population vote on NumPy arrays: the decision rule of the R-STDP agent.

The action population of a spiking policy has ``A`` groups of ``k`` neurons. After a window
of ``T`` simulation steps the decoder scores each group from what the group itself did and
picks the best score:

- :attr:`Readout.COUNTS` (default): ``score_a = sum_{i in a} sum_t s_i[t]``, the number of
  spikes of group ``a`` in the window.
- :attr:`Readout.POTENTIAL`: ``score_a = sum_{i in a} (v_i[T] - v_rest)`` in mV, the summed
  membrane potential of the group at the end of the window (a declared analog readout).

Ties are broken by a seeded draw ``u ~ U[0, 1)`` per decision: of the ``m`` tied groups
(in index order) the ``floor(u m)``-th wins, so every tied action is equally likely and the
same draws give the same actions. Nothing else (input currents, drives) is read.
:func:`spikerl.decoders.pick_max` applies the same rule to torch tensors.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import NamedTuple

import numpy as np


class Readout(StrEnum):
    """What the vote reads from each action group."""

    COUNTS = "counts"
    """Spike counts of the group in the window (ties broken by a seeded draw)."""
    POTENTIAL = "potential"
    """Summed membrane potential (mV above rest) of the group at the end of the window."""


class Decision(NamedTuple):
    """A batch of decisions and how decisive they were.

    Attributes:
        actions: Chosen actions ``[B]`` (int64).
        tied: True where two or more actions shared the best score ``[B]``.
        margin: Best minus second-best score ``[B]`` (0 where tied; spikes or mV).
    """

    actions: np.ndarray
    tied: np.ndarray
    margin: np.ndarray


def vote(scores: np.ndarray, u: np.ndarray) -> Decision:
    """Pick the best-scoring action per row, ties broken by the draws ``u``.

    Args:
        scores: Scores ``[B, A]`` (float).
        u: One uniform draw in ``[0, 1)`` per row, ``[B]``.

    Returns:
        The :class:`Decision`: of the ``m`` tied maxima of row ``b`` the
        ``floor(u[b] m)``-th (in index order) is chosen.

    Raises:
        ValueError: on shapes that do not match or non-finite scores.
    """
    s = np.asarray(scores, dtype=np.float64)
    draws = np.asarray(u, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 1 or draws.shape != (s.shape[0],):
        raise ValueError(
            f"vote: expected scores [B, A] and draws [B], got {list(s.shape)} and "
            f"{list(draws.shape)}"
        )
    if s.shape[0] <= _SMALL_BATCH:
        return _vote_rows(s, draws)
    if not np.isfinite(s).all():
        raise ValueError("vote: scores must be finite")
    best = s.max(axis=1, keepdims=True)
    is_max = s == best
    m = is_max.sum(axis=1)
    pick = np.minimum((draws * m).astype(np.int64), m - 1)
    # index of the pick-th True in each row
    rank = np.cumsum(is_max, axis=1) - 1
    actions = np.argmax(is_max & (rank == pick[:, None]), axis=1).astype(np.int64)
    if s.shape[1] > 1:
        second = np.where(is_max, -np.inf, s).max(axis=1)
        margin = np.where(m > 1, 0.0, best[:, 0] - second)
    else:
        margin = np.zeros(s.shape[0])
    return Decision(actions, m > 1, margin)


#: Batches up to this size are decided row by row in plain Python: at batch 1 that costs
#: a few microseconds instead of ~35 for the vectorised path's array calls.
_SMALL_BATCH = 4


def _vote_rows(s: np.ndarray, draws: np.ndarray) -> Decision:
    """:func:`vote` for a few rows (the same rule, the same results)."""
    b = s.shape[0]
    actions = np.empty(b, dtype=np.int64)
    tied = np.empty(b, dtype=bool)
    margin = np.empty(b)
    for r, (row, u) in enumerate(zip(s.tolist(), draws.tolist(), strict=True)):
        if not all(math.isfinite(x) for x in row):
            raise ValueError("vote: scores must be finite")
        best = max(row)
        top = [i for i, x in enumerate(row) if x == best]
        m = len(top)
        actions[r] = top[min(int(u * m), m - 1)]
        tied[r] = m > 1
        rest = [x for x in row if x != best]
        margin[r] = 0.0 if m > 1 or not rest else best - max(rest)
    return Decision(actions, tied, margin)


def group_scores(
    readout: Readout, counts: np.ndarray, v_end: np.ndarray, n_per_action: int
) -> np.ndarray:
    """Scores ``[B, A]`` of the readout.

    Args:
        readout: Which quantity is read.
        counts: Spike counts per action group ``[B, A]``.
        v_end: Membrane potentials (mV above rest) at the end of the window ``[B, A k]``.
        n_per_action: Neurons per group ``k``.
    """
    if readout is Readout.COUNTS:
        return np.asarray(counts, dtype=np.float64)
    b = v_end.shape[0]
    return np.asarray(v_end, dtype=np.float64).reshape(b, -1, n_per_action).sum(axis=2)


__all__ = ["Decision", "Readout", "group_scores", "vote"]
