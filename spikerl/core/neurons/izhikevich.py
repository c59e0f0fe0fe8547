"""Izhikevich (2003) neurons with the regular-spiking, fast-spiking and bursting presets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from spikerl._checks import check_positive
from spikerl.core.neurons.base import Neuron


class IzhikevichState(NamedTuple):
    """State of Izhikevich neurons.

    Attributes:
        v: Membrane potential (mV).
        u: Recovery variable (mV/ms scale, dimensionless in the model).
    """

    v: Tensor
    u: Tensor


@dataclass(frozen=True)
class IzhikevichParams:
    """Constants of the Izhikevich model (regular spiking by default).

    Attributes:
        a: Recovery time scale (1/ms).
        b: Sensitivity of ``u`` to ``v``.
        c: Reset potential after a spike (mV).
        d: Jump of ``u`` after a spike.
        v_peak: Spike cut-off (mV).
        v_init: Initial potential (mV); ``u`` starts at ``b * v_init``.
    """

    a: float = 0.02
    b: float = 0.2
    c: float = -65.0
    d: float = 8.0
    v_peak: float = 30.0
    v_init: float = -65.0

    def __post_init__(self) -> None:
        check_positive("a", self.a)

    @classmethod
    def regular_spiking(cls) -> IzhikevichParams:
        """RS cortical excitatory cell: a=0.02, b=0.2, c=-65, d=8."""
        return cls(a=0.02, b=0.2, c=-65.0, d=8.0)

    @classmethod
    def fast_spiking(cls) -> IzhikevichParams:
        """FS inhibitory interneuron: a=0.1, b=0.2, c=-65, d=2."""
        return cls(a=0.1, b=0.2, c=-65.0, d=2.0)

    @classmethod
    def bursting(cls) -> IzhikevichParams:
        """Chattering (fast rhythmic bursting) cell: a=0.02, b=0.2, c=-50, d=2."""
        return cls(a=0.02, b=0.2, c=-50.0, d=2.0)

    @classmethod
    def intrinsically_bursting(cls) -> IzhikevichParams:
        """IB cell: a=0.02, b=0.2, c=-55, d=4."""
        return cls(a=0.02, b=0.2, c=-55.0, d=4.0)


def izhikevich_step(
    x: Tensor, state: IzhikevichState, p: IzhikevichParams, dt: float = 1.0
) -> tuple[Tensor, IzhikevichState]:
    """One forward-Euler step of the Izhikevich model.

    v' = v + dt * (0.04 v^2 + 5 v + 140 - u + x)       (x in mV/ms)
    u' = u + dt * a * (b v - u)                         (old v)
    s = v' >= v_peak;  where s: v' <- c, u' <- u' + d
    """
    v, u = state.v, state.u
    v_new = v + dt * (0.04 * v * v + 5.0 * v + 140.0 - u + x)
    u_new = u + dt * p.a * (p.b * v - u)
    s = v_new >= p.v_peak
    v_new = torch.where(s, torch.full_like(v_new, p.c), v_new)
    u_new = u_new + p.d * s.to(u_new.dtype)
    return s.to(v.dtype), IzhikevichState(v_new, u_new)


class Izhikevich(Neuron[IzhikevichParams, IzhikevichState]):
    """Izhikevich population (:func:`izhikevich_step`); ``dt`` of 0.5 ms or less is advised."""

    step_fn = staticmethod(izhikevich_step)

    def __init__(
        self,
        shape: int | Sequence[int],
        params: IzhikevichParams | None = None,
        dt: float = 1.0,
    ) -> None:
        super().__init__(shape, params or IzhikevichParams(), dt)

    def initial_state(self, batch_size: int) -> IzhikevichState:
        p = self.params
        return IzhikevichState(
            self._full(batch_size, p.v_init), self._full(batch_size, p.b * p.v_init)
        )
