"""Current-based LIF: a synaptic current filters the input before the membrane."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from spikerl._checks import check_non_negative, check_positive
from spikerl.core.neurons.base import Neuron, Reset, fire


class CubaLIFState(NamedTuple):
    """State of the current-based LIF.

    Attributes:
        v: Membrane potential (mV).
        i: Synaptic current, in mV per step.
        refrac: Remaining refractory time (ms).
    """

    v: Tensor
    i: Tensor
    refrac: Tensor


@dataclass(frozen=True)
class CubaLIFParams:
    """Constants of the current-based LIF.

    Attributes:
        tau_mem: Membrane time constant (ms).
        tau_syn: Synaptic current time constant (ms).
        v_rest: Resting potential (mV).
        v_reset: Potential after a spike (mV).
        v_thresh: Threshold (mV).
        refrac: Refractory period (ms).
        reset: Hard or soft reset.
    """

    tau_mem: float = 100.0
    tau_syn: float = 5.0
    v_rest: float = -65.0
    v_reset: float = -65.0
    v_thresh: float = -52.0
    refrac: float = 5.0
    reset: Reset = Reset.HARD

    def __post_init__(self) -> None:
        check_positive("tau_mem", self.tau_mem)
        check_positive("tau_syn", self.tau_syn)
        check_non_negative("refrac", self.refrac)
        if self.v_reset >= self.v_thresh:
            raise ValueError(f"v_reset ({self.v_reset}) must be below v_thresh ({self.v_thresh})")


def cuba_lif_step(
    x: Tensor, state: CubaLIFState, p: CubaLIFParams, dt: float = 1.0
) -> tuple[Tensor, CubaLIFState]:
    """One step of the current-based LIF.

    With ``a_m = exp(-dt / tau_mem)``, ``a_s = exp(-dt / tau_syn)``, ``r = refrac[t-1] > 0``:

        i[t] = i[t-1] * a_s + x[t]                                (mV per step)
        v[t] = v_rest + (v[t-1] - v_rest) * a_m + i[t] * (1 - r)
        s[t] = v[t] >= v_thresh and not r

    then refractory count and reset as for the LIF. The current keeps integrating while
    the neuron is refractory; it reaches the membrane once the refractory period ends.
    """
    a_m = math.exp(-dt / p.tau_mem)
    a_s = math.exp(-dt / p.tau_syn)
    i = state.i * a_s + x
    active = state.refrac <= 0
    v = p.v_rest + (state.v - p.v_rest) * a_m + torch.where(active, i, torch.zeros_like(i))
    refrac = (state.refrac - dt).clamp_min(0.0)
    s, v, refrac = fire(v, refrac, active, p.v_thresh, p.v_reset, p.refrac, p.reset)
    return s, CubaLIFState(v, i, refrac)


class CubaLIF(Neuron[CubaLIFParams, CubaLIFState]):
    """Current-based LIF population (:func:`cuba_lif_step`)."""

    step_fn = staticmethod(cuba_lif_step)

    def __init__(
        self, shape: int | Sequence[int], params: CubaLIFParams | None = None, dt: float = 1.0
    ) -> None:
        super().__init__(shape, params or CubaLIFParams(), dt)

    def initial_state(self, batch_size: int) -> CubaLIFState:
        p = self.params
        z = self._full(batch_size, 0.0)
        return CubaLIFState(self._full(batch_size, p.v_rest), z, z.clone())
