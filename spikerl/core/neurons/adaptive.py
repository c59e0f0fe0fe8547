"""Adaptive-threshold LIF and the Diehl & Cook (2015) excitatory neuron."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from spikerl._checks import check_non_negative, check_positive
from spikerl.core.neurons.base import Neuron, Reset, fire, leaky_integrate


class AdaptiveLIFState(NamedTuple):
    """State of adaptive-threshold neurons.

    Attributes:
        v: Membrane potential (mV).
        refrac: Remaining refractory time (ms).
        theta: Threshold adaptation (mV), added to ``v_thresh``.
    """

    v: Tensor
    refrac: Tensor
    theta: Tensor


@dataclass(frozen=True)
class AdaptiveLIFParams:
    """Constants of the adaptive-threshold LIF.

    Attributes:
        tau_mem: Membrane time constant (ms).
        v_rest: Resting potential (mV).
        v_reset: Potential after a spike (mV).
        v_thresh: Base threshold (mV); the effective one is ``v_thresh + theta``.
        refrac: Refractory period (ms).
        theta_plus: Increase of ``theta`` on each spike (mV).
        tau_theta: Decay time constant of ``theta`` (ms).
        adapt: Whether ``theta`` changes at all (``False`` freezes it, e.g. for testing).
        reset: Hard or soft reset.
    """

    tau_mem: float = 20.0
    v_rest: float = -65.0
    v_reset: float = -65.0
    v_thresh: float = -52.0
    refrac: float = 5.0
    theta_plus: float = 0.05
    tau_theta: float = 1e7
    adapt: bool = True
    reset: Reset = Reset.HARD

    def __post_init__(self) -> None:
        check_positive("tau_mem", self.tau_mem)
        check_positive("tau_theta", self.tau_theta)
        check_non_negative("refrac", self.refrac)
        check_non_negative("theta_plus", self.theta_plus)
        if self.v_reset >= self.v_thresh:
            raise ValueError(f"v_reset ({self.v_reset}) must be below v_thresh ({self.v_thresh})")


@dataclass(frozen=True)
class DiehlCookParams(AdaptiveLIFParams):
    """Diehl & Cook (2015) excitatory neurons (their constants by default).

    Attributes:
        one_spike: At most one spike per batch element and step: the unit with the
            largest ``v - (v_thresh + theta)`` among those above threshold wins.
    """

    tau_mem: float = 100.0
    v_reset: float = -60.0
    one_spike: bool = True


def _adapt(theta: Tensor, s: Tensor, p: AdaptiveLIFParams, dt: float) -> Tensor:
    """``theta * exp(-dt / tau_theta) + theta_plus * s`` (mV), or ``theta`` if not adapting."""
    if not p.adapt:
        return theta
    return theta * math.exp(-dt / p.tau_theta) + p.theta_plus * s


def adaptive_lif_step(
    x: Tensor, state: AdaptiveLIFState, p: AdaptiveLIFParams, dt: float = 1.0
) -> tuple[Tensor, AdaptiveLIFState]:
    """One step of the adaptive-threshold LIF.

    With ``a = exp(-dt / tau_mem)``, ``b = exp(-dt / tau_theta)``, ``r = refrac[t-1] > 0``:

        v[t] = v_rest + (v[t-1] - v_rest) * a + x[t] * (1 - r)      (mV per step)
        s[t] = v[t] >= v_thresh + theta[t-1] and not r
        theta[t] = theta[t-1] * b + theta_plus * s[t]               (if adapt)

    then refractory count and reset as for the LIF.
    """
    v, refrac, active = leaky_integrate(x, state.v, state.refrac, p.v_rest, p.tau_mem, dt)
    thresh = p.v_thresh + state.theta
    s, v, refrac = fire(v, refrac, active, thresh, p.v_reset, p.refrac, p.reset)
    return s, AdaptiveLIFState(v, refrac, _adapt(state.theta, s, p, dt))


def diehl_cook_step(
    x: Tensor, state: AdaptiveLIFState, p: DiehlCookParams, dt: float = 1.0
) -> tuple[Tensor, AdaptiveLIFState]:
    """One step of the Diehl & Cook excitatory neuron.

    As :func:`adaptive_lif_step`, except that with ``one_spike`` only the unit furthest
    above its threshold ``v_thresh + theta`` spikes in each batch element (deterministic
    winner; ties go to the lowest index); the others keep their potential and may fire
    on a later step.
    """
    if not p.one_spike:
        return adaptive_lif_step(x, state, p, dt)
    v, refrac, active = leaky_integrate(x, state.v, state.refrac, p.v_rest, p.tau_mem, dt)
    thresh = p.v_thresh + state.theta
    above = (v >= thresh) & active
    margin = torch.where(above, v - thresh, torch.full_like(v, -math.inf)).flatten(1)
    winner = margin.argmax(dim=1, keepdim=True)
    only = torch.zeros_like(margin, dtype=torch.bool).scatter_(1, winner, True)
    active = active & only.view_as(v)
    s, v, refrac = fire(v, refrac, active, thresh, p.v_reset, p.refrac, p.reset)
    return s, AdaptiveLIFState(v, refrac, _adapt(state.theta, s, p, dt))


class AdaptiveLIF(Neuron[AdaptiveLIFParams, AdaptiveLIFState]):
    """Adaptive-threshold LIF population (:func:`adaptive_lif_step`)."""

    step_fn = staticmethod(adaptive_lif_step)

    def __init__(
        self,
        shape: int | Sequence[int],
        params: AdaptiveLIFParams | None = None,
        dt: float = 1.0,
    ) -> None:
        super().__init__(shape, params or AdaptiveLIFParams(), dt)

    def initial_state(self, batch_size: int) -> AdaptiveLIFState:
        p = self.params
        z = self._full(batch_size, 0.0)
        return AdaptiveLIFState(self._full(batch_size, p.v_rest), z, z.clone())

    def reset_state(self, state: AdaptiveLIFState, episode_start: Tensor) -> AdaptiveLIFState:
        """Reset ``v`` and ``refrac`` where ``episode_start``; ``theta`` is learned, kept."""
        fresh = super().reset_state(state, episode_start)
        return AdaptiveLIFState(fresh.v, fresh.refrac, state.theta)


class DiehlCook(AdaptiveLIF):
    """Diehl & Cook (2015) excitatory population (:func:`diehl_cook_step`)."""

    step_fn = staticmethod(diehl_cook_step)  # type: ignore[assignment]

    def __init__(
        self,
        shape: int | Sequence[int],
        params: DiehlCookParams | None = None,
        dt: float = 1.0,
    ) -> None:
        super().__init__(shape, params or DiehlCookParams(), dt)
