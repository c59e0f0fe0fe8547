"""The R-STDP actor's three-factor update: eligibility, third factor, weight change.

The actor's synapses ``W [F, N]`` (``F`` input features, ``N`` action neurons; mV per
input spike) learn from three factors, per environment step and environment ``b`` of a
batch of ``B``:

1. the window's STDP pair sums ``Z_b [F, N]`` (:func:`pair_sums`; dimensionless, pairs
   weighted by the LTP/LTD amplitudes), optionally centred over the action neurons
   (:func:`centre`): ``Z_b[f, n] <- Z_b[f, n] - (1/N) sum_m Z_b[f, m]``, so that the
   neurons that fired less than average get the opposite sign;
2. the eligibility trace decays by ``gamma lam`` per env step and takes the window's pairs
   in: ``e_b <- gamma lam e_b + Z_b`` (:func:`accumulate_eligibility`);
3. the third factor ``m_b`` is the critic's TD error ``delta_b`` or the shaped reward
   ``clip(r~_b, -c, c)``, times the step's mask (:func:`third_factor`);
4. the weights move along the eligibility, with the schedule's fraction ``rho`` of the rate
   ``lr`` spread over the features and the batch:
   ``dW = rho lr / (F B) sum_b m_b e_b`` (:func:`weight_change`), then
   ``W <- clip(W + dW, wmin, wmax)`` (:func:`apply_change`);
5. optionally each action neuron's weights are shifted to hold their mean at ``target``
   (homeostasis of the neuron's input drive; :func:`normalise_columns`):
   ``W[:, n] <- clip(W[:, n] + target - mean_f W[f, n], wmin, wmax)``. The R-STDP agent's
   target is the mean of each neuron's initial weights, ``g_n (w_init_low + w_init) / 2``
   (``g_n`` its gain, ``snn.gain_spread``); a core
   projection gets the same step as the piece :class:`spikerl.learning.pieces.ColumnMean`.

Units: ``W``, ``wmin``, ``wmax`` and ``target`` in mV per spike; ``Z``, ``e`` and ``m``
dimensionless (``m`` in the critic's scaled reward units); ``lr`` in mV per unit of
``m e`` per env step.

State is explicit: the caller owns the float64 arrays (the agent keeps ``W`` in a torch
parameter and passes a zero-copy view). Functions named for an in-place change say so and
return nothing or the change; the others are pure. The R-STDP agent's learner
(:class:`spikerl.agents.core_policy.NetworkLearner`) takes its third factor and centring
from here; the weight change itself runs through :class:`~spikerl.learning.Plasticity`
(tested equal to this module's in ``tests/learning/test_actor.py``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "accumulate_eligibility",
    "actor_step_size",
    "apply_change",
    "centre",
    "normalise_columns",
    "pair_sums",
    "third_factor",
    "weight_change",
]


def pair_sums(
    x_pre: np.ndarray,
    s_post: np.ndarray,
    s_pre: np.ndarray,
    x_post_before: np.ndarray,
    a_plus: float,
    a_minus: float,
) -> np.ndarray:
    """STDP pair sums of one window (window mode of the core's ``PostPre``).

        Z[b, f, n] = a_plus  sum_t x_pre[t, b, f] s_post[t, b, n]
                   - a_minus sum_t s_pre[t, b, f] x_post_before[t, b, n]

    Args:
        x_pre: Pre-synaptic traces including step ``t``'s spikes, ``[T, B, F]``.
        s_post: Post-synaptic spikes, ``[T, B, N]``.
        s_pre: Pre-synaptic spikes (or expected spikes), ``[T, B, F]``.
        x_post_before: Post-synaptic traces before step ``t``'s spikes, ``[T, B, N]``.
        a_plus: LTP amplitude.
        a_minus: LTD amplitude (0: no depression term).

    Returns:
        ``Z`` ``[B, F, N]`` (float64).
    """
    z = a_plus * np.matmul(x_pre.transpose(1, 2, 0), s_post.transpose(1, 0, 2))
    if a_minus:
        z -= a_minus * np.matmul(s_pre.transpose(1, 2, 0), x_post_before.transpose(1, 0, 2))
    return z


def centre(z: np.ndarray) -> None:
    """Subtract, in place, the mean over the action neurons:
    ``Z[b, f, n] <- Z[b, f, n] - (1/N) sum_m Z[b, f, m]`` for ``z [B, F, N]``."""
    z -= z.sum(axis=2, keepdims=True) / z.shape[2]


def accumulate_eligibility(elig: np.ndarray, z: np.ndarray, decay: float) -> None:
    """``e <- decay e + Z``, in place on ``elig [B, F, N]`` (``decay = gamma lam``, once
    per env step, with the window's pair sums ``z [B, F, N]``)."""
    elig *= decay
    elig += z


def third_factor(
    delta: np.ndarray,
    reward: np.ndarray,
    mask: np.ndarray | None,
    *,
    td_error: bool,
    clip: float,
) -> np.ndarray:
    """The modulatory signal ``m [B]``: the TD error, or the shaped reward clipped to
    ``[-clip, clip]`` and masked.

    Args:
        delta: The critic's TD errors ``[B]`` (already clipped and masked).
        reward: The shaped rewards ``r~`` ``[B]`` (scaled, not masked).
        mask: 0 where the step was no real transition; None: all 1.
        td_error: Use ``delta`` (True) or the reward (False).
        clip: Clip of the reward signal.
    """
    if td_error:
        return delta
    mod = np.clip(reward, -clip, clip)
    if mask is not None:
        mod = mod * mask
    return mod


def actor_step_size(lr_fraction: float, lr: float, n_features: int, batch: int) -> float:
    """Effective rate ``rho lr / (F B)`` of one update (``rho``: the schedule's fraction)."""
    return lr_fraction * lr / (n_features * batch)


def weight_change(mod: np.ndarray, elig: np.ndarray, lr_fraction: float, lr: float) -> np.ndarray:
    """``dW = rho lr / (F B) sum_b m_b e_b`` ``[F, N]`` for ``mod [B]``, ``elig [B, F, N]``."""
    b, f = elig.shape[0], elig.shape[1]
    return actor_step_size(lr_fraction, lr, f, b) * np.tensordot(mod, elig, axes=1)


def normalise_columns(
    w: np.ndarray | Tensor,
    target: float | np.ndarray | Tensor,
    wmin: float | None,
    wmax: float | None,
    max_std: float | None = None,
) -> None:
    """Shift each neuron's weights to mean ``target``, then clip, in place on ``w [F, N]``:
    ``W[:, n] <- clip(W[:, n] + target - mean_f W[f, n], wmin, wmax)`` (mV).

    With ``max_std`` (mV) a column whose spread exceeds it is also shrunk about its mean
    before the clip, ``W[:, n] <- target + min(1, max_std / std_f W[f, n]) (W[:, n] -
    target)`` (a max-norm on the spread: the neuron's drive keeps a bounded range, so it
    does not end up always on or always off).

    The clip can leave a column's mean off ``target`` when weights sit at a bound. A NumPy
    array is changed in NumPy (the agent's weights), a tensor in torch (a core projection's,
    through :class:`spikerl.learning.pieces.ColumnMean`); a bound of None is not applied.
    A ``target [N]`` (an array for array weights, a tensor for tensor weights) gives each
    neuron its own target.
    """
    if isinstance(w, Tensor):
        if isinstance(target, np.ndarray):
            raise TypeError("normalise_columns: an array target needs array weights")
        w.add_(target - w.mean(dim=0, keepdim=True))
        if max_std is not None:
            std = w.std(dim=0, unbiased=False, keepdim=True)
            scale = torch.clamp(max_std / torch.clamp(std, min=1e-300), max=1.0)
            w.sub_(target).mul_(scale).add_(target)
        if wmin is not None or wmax is not None:
            w.clamp_(min=wmin, max=wmax)
        return
    if isinstance(target, Tensor):
        raise TypeError("normalise_columns: a tensor target needs tensor weights")
    w += target - w.mean(axis=0, keepdims=True)
    if max_std is not None:
        std = w.std(axis=0, keepdims=True)
        scale = np.minimum(1.0, max_std / np.maximum(std, 1e-300))
        w -= target
        w *= scale
        w += target
    if wmin is not None or wmax is not None:
        np.clip(w, wmin, wmax, out=w)


def apply_change(
    w: np.ndarray,
    dw: np.ndarray,
    wmin: float,
    wmax: float,
    target: float | np.ndarray | None = None,
) -> None:
    """``W <- clip(W + dW, wmin, wmax)`` in place on ``w [F, N]``, then, with a ``target``
    mean (mV, one for all neurons or ``[N]``; None: off), :func:`normalise_columns`."""
    w += dw
    np.clip(w, wmin, wmax, out=w)
    if target is not None:
        normalise_columns(w, target, wmin, wmax)
