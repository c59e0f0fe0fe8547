"""Checks on raw observations before they are encoded: finite and within the space's bounds."""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor


def require_box(space: spaces.Space, who: str) -> spaces.Box:
    """Return ``space`` if it is a Box, else raise ``TypeError`` saying what to do."""
    if not isinstance(space, spaces.Box):
        raise TypeError(
            f"{who} supports Box observation spaces only, got {type(space).__name__} ({space}). "
            "Flatten Dict/Tuple observations first (gymnasium.wrappers.FlattenObservation) "
            "or one-hot encode Discrete ones."
        )
    return space


def observation_tensor(
    obs: object, space: spaces.Box, tolerance: float = 1e-4, batched: bool = False
) -> Tensor:
    """Validate a raw observation and return it as a tensor with a batch dimension.

    Args:
        obs: One observation ``space.shape`` (or ``[B, *space.shape]`` if ``batched``).
        space: The Box it must belong to. Bounds are checked with an absolute tolerance of
            ``tolerance * max(1, |bound|)``; infinite bounds are not checked.
        tolerance: Relative tolerance on the bounds.
        batched: Whether ``obs`` already carries the batch dimension (vector envs).

    Returns:
        ``[B, *space.shape]`` tensor (B = 1 when not batched), dtype of ``obs``.

    Raises:
        ValueError: wrong shape, NaN/inf values, or values outside the bounds.
    """
    arr = np.asarray(obs)
    expected = space.shape if not batched else (arr.shape[:1] + space.shape)
    if arr.shape != expected or (batched and arr.ndim == 0):
        raise ValueError(
            f"observation has shape {arr.shape}; the observation space {space} expects "
            f"{'[B, ' if batched else '['}{', '.join(map(str, space.shape))}]"
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"observation must hold real numbers, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if not finite.all():
            raise ValueError(
                f"observation holds {int((~finite).sum())} NaN or inf value(s); "
                "the environment must return finite observations"
            )
    low = np.asarray(space.low, dtype=np.float64)
    high = np.asarray(space.high, dtype=np.float64)
    values = arr.astype(np.float64, copy=False)
    below = values < low - tolerance * np.maximum(1.0, np.abs(low))
    above = values > high + tolerance * np.maximum(1.0, np.abs(high))
    if below.any() or above.any():
        bad = np.argwhere(below | above)[0]
        idx = tuple(int(i) for i in bad)
        elem = idx[1:] if batched else idx
        raise ValueError(
            f"observation value {values[idx]!r} at index {list(idx)} lies outside the declared "
            f"bounds [{low[elem]}, {high[elem]}] of {space}; "
            f"{int(below.sum() + above.sum())} value(s) out of bounds"
        )
    t = torch.from_numpy(np.ascontiguousarray(arr))
    return t if batched else t.unsqueeze(0)
