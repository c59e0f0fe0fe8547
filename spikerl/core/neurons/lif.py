"""Integrate-and-fire (IF) and leaky integrate-and-fire (LIF) neurons."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from spikerl._checks import check_non_negative, check_positive
from spikerl.core.neurons.base import Neuron, Reset, fire, leaky_integrate


class IFState(NamedTuple):
    """State of IF and LIF neurons.

    Attributes:
        v: Membrane potential (mV), ``[B, *shape]``.
        refrac: Remaining refractory time (ms), ``[B, *shape]``.
    """

    v: Tensor
    refrac: Tensor


LIFState = IFState


@dataclass(frozen=True)
class IFParams:
    """Constants of the IF neuron.

    Attributes:
        v_thresh: Firing threshold (mV).
        v_reset: Potential after a spike (mV).
        v_init: Potential of a fresh state (mV).
        refrac: Refractory period (ms): input is ignored while it runs.
        reset: Hard or soft (subtractive) reset.
    """

    v_thresh: float = -52.0
    v_reset: float = -65.0
    v_init: float = -65.0
    refrac: float = 5.0
    reset: Reset = Reset.HARD

    def __post_init__(self) -> None:
        check_non_negative("refrac", self.refrac)
        if self.v_reset >= self.v_thresh:
            raise ValueError(f"v_reset ({self.v_reset}) must be below v_thresh ({self.v_thresh})")


@dataclass(frozen=True)
class LIFParams:
    """Constants of the LIF neuron (classic defaults).

    Attributes:
        tau_mem: Membrane time constant (ms).
        v_rest: Resting potential (mV), the fixed point of the leak.
        v_reset: Potential after a spike (mV).
        v_thresh: Firing threshold (mV).
        refrac: Refractory period (ms).
        reset: Hard or soft (subtractive) reset.
    """

    tau_mem: float = 100.0
    v_rest: float = -65.0
    v_reset: float = -65.0
    v_thresh: float = -52.0
    refrac: float = 5.0
    reset: Reset = Reset.HARD

    def __post_init__(self) -> None:
        check_positive("tau_mem", self.tau_mem)
        check_non_negative("refrac", self.refrac)
        if self.v_reset >= self.v_thresh:
            raise ValueError(f"v_reset ({self.v_reset}) must be below v_thresh ({self.v_thresh})")


def if_step(x: Tensor, state: IFState, p: IFParams, dt: float = 1.0) -> tuple[Tensor, IFState]:
    """One step of the integrate-and-fire neuron.

    With ``r = refrac[t-1] > 0`` (refractory):

        v[t] = v[t-1] + x[t] * (1 - r)           (x in mV per step)
        s[t] = v[t] >= v_thresh and not r
        refrac[t] = max(refrac[t-1] - dt, 0), or p.refrac where s[t]

    then reset where ``s[t]`` (hard: ``v_reset``; soft: subtract ``v_thresh - v_reset``).
    A refractory period of ``R`` ms blocks input for ``ceil(R / dt)`` steps after a spike.
    """
    active = state.refrac <= 0
    v = state.v + torch.where(active, x, torch.zeros_like(x))
    refrac = (state.refrac - dt).clamp_min(0.0)
    s, v, refrac = fire(v, refrac, active, p.v_thresh, p.v_reset, p.refrac, p.reset)
    return s, IFState(v, refrac)


def lif_step(x: Tensor, state: LIFState, p: LIFParams, dt: float = 1.0) -> tuple[Tensor, LIFState]:
    """One step of the leaky integrate-and-fire neuron (exact leak, Euler input).

    With ``a = exp(-dt / tau_mem)`` and ``r = refrac[t-1] > 0``:

        v[t] = v_rest + (v[t-1] - v_rest) * a + x[t] * (1 - r)     (x in mV per step)
        s[t] = v[t] >= v_thresh and not r

    then refractory count and reset as in :func:`if_step`. The leak runs during the
    refractory period; input is ignored.
    """
    v, refrac, active = leaky_integrate(x, state.v, state.refrac, p.v_rest, p.tau_mem, dt)
    s, v, refrac = fire(v, refrac, active, p.v_thresh, p.v_reset, p.refrac, p.reset)
    return s, LIFState(v, refrac)


class IF(Neuron[IFParams, IFState]):
    """Integrate-and-fire population (:func:`if_step`)."""

    step_fn = staticmethod(if_step)

    def __init__(
        self, shape: int | Sequence[int], params: IFParams | None = None, dt: float = 1.0
    ) -> None:
        super().__init__(shape, params or IFParams(), dt)

    def initial_state(self, batch_size: int) -> IFState:
        p = self.params
        return IFState(self._full(batch_size, p.v_init), self._full(batch_size, 0.0))


class LIF(Neuron[LIFParams, LIFState]):
    """Leaky integrate-and-fire population (:func:`lif_step`)."""

    step_fn = staticmethod(lif_step)

    def __init__(
        self, shape: int | Sequence[int], params: LIFParams | None = None, dt: float = 1.0
    ) -> None:
        super().__init__(shape, params or LIFParams(), dt)

    def initial_state(self, batch_size: int) -> LIFState:
        p = self.params
        return LIFState(self._full(batch_size, p.v_rest), self._full(batch_size, 0.0))

    def relax(self, state: LIFState, duration: float) -> LIFState:
        """``duration`` ms without input: the leak alone, in closed form.

        v <- v_rest + (v - v_rest) exp(-duration / tau_mem)          (mV)
        refrac <- max(refrac - duration, 0)                          (ms)
        """
        p = self.params
        a = math.exp(-duration / p.tau_mem)
        v = (state.v - p.v_rest) * a + p.v_rest
        return LIFState(v, (state.refrac - duration).clamp_min(0.0))

    def absorb(self, state: LIFState, current: Tensor) -> LIFState:
        """``v <- v + I`` where not refractory, no threshold (mV): a silent step's input."""
        active = state.refrac <= 0
        v = state.v + torch.where(active, current.to(state.v.dtype), torch.zeros_like(state.v))
        return LIFState(v, state.refrac)
