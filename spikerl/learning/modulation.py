"""Modulators: turn a raw reward into the third factor of a three-factor rule.

A three-factor rule (:class:`~spikerl.learning.rules.MSTDP`, ``MSTDPET``) multiplies its
Hebbian term by a modulatory signal ``m``. The signal may be

* the reward itself: :class:`RewardModulation` (``m = scale * r``);
* a reward-prediction error against a running baseline: :class:`RewardPredictionError`
  (``m = r - r_bar``);
* a TD error ``delta = r + gamma V(s') - V(s)`` computed by a critic outside: pass it as a
  plain float or ``[B]`` tensor (no modulator needed).

Every modulator maps a float or ``[B]`` tensor to a ``[B]``-broadcastable tensor.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from spikerl._checks import check_positive

__all__ = ["Modulator", "RewardModulation", "RewardPredictionError", "as_reward_tensor"]


def as_reward_tensor(reward: float | Tensor) -> Tensor:
    """A finite float tensor from a reward (float, ``[]`` or ``[B]``).

    Raises:
        TypeError: If ``reward`` is neither a number nor a tensor.
        ValueError: If it holds NaN or inf, or has more than one dimension.
    """
    if isinstance(reward, bool) or not isinstance(reward, int | float | Tensor):
        raise TypeError(f"reward must be a float or a Tensor, got {type(reward).__name__}")
    r = torch.as_tensor(reward, dtype=torch.float32) if not isinstance(reward, Tensor) else reward
    r = r.detach().float()
    if not bool(torch.isfinite(r).all()):
        raise ValueError(f"reward must be finite, got {reward!r}")
    if r.dim() > 1:
        raise ValueError(f"reward must be a scalar or [B], got shape {list(r.shape)}")
    return r


@runtime_checkable
class Modulator(Protocol):
    """Maps a reward (float or ``[B]``) to the modulatory signal of a three-factor rule."""

    def __call__(self, reward: float | Tensor) -> Tensor:
        """The modulation for ``reward``."""
        ...


class RewardModulation:
    """Modulation by the reward itself: ``m = scale * r``.

    Args:
        scale: Gain (dimensionless).
    """

    def __init__(self, scale: float = 1.0) -> None:
        if not math.isfinite(scale):
            raise ValueError(f"scale must be finite, got {scale}")
        self.scale = float(scale)

    def __call__(self, reward: float | Tensor) -> Tensor:
        return self.scale * as_reward_tensor(reward)

    def __repr__(self) -> str:
        return f"RewardModulation(scale={self.scale})"


class RewardPredictionError:
    """Modulation by a reward-prediction error against a moving-average baseline.

        m = r - r_bar
        r_bar <- r_bar + (r - r_bar) / tau           (after computing m)

    ``tau`` counts calls (e.g. trials), not ms: the baseline is an exponential moving
    average of the rewards seen with time constant ``tau`` calls. With ``per_sample`` each
    batch element keeps its own baseline; otherwise the baseline tracks the batch mean.
    The first call starts the baseline at zero.

    Args:
        tau: Averaging time constant (calls, >= 1).
        per_sample: One baseline per batch element.
    """

    def __init__(self, tau: float = 10.0, per_sample: bool = False) -> None:
        check_positive("tau", tau)
        if tau < 1.0:
            raise ValueError(f"tau must be >= 1 call, got {tau}")
        self.tau = float(tau)
        self.per_sample = per_sample
        self.baseline: Tensor | None = None

    def __call__(self, reward: float | Tensor) -> Tensor:
        r = as_reward_tensor(reward)
        target = r if self.per_sample else r.mean()
        if self.baseline is None:
            self.baseline = torch.zeros_like(target)
        if self.baseline.shape != target.shape:
            raise ValueError(
                f"reward of shape {list(r.shape)} does not match the baseline of shape "
                f"{list(self.baseline.shape)}; call reset() when the batch size changes"
            )
        m = r - self.baseline
        self.baseline = self.baseline + (target - self.baseline) / self.tau
        return m

    def reset(self) -> None:
        """Forget the baseline."""
        self.baseline = None

    def __repr__(self) -> str:
        return f"RewardPredictionError(tau={self.tau}, per_sample={self.per_sample})"
