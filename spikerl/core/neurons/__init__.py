"""Neuron models: pure step functions, their params and states, and thin modules."""

from spikerl.core.neurons.adaptive import (
    AdaptiveLIF,
    AdaptiveLIFParams,
    AdaptiveLIFState,
    DiehlCook,
    DiehlCookParams,
    adaptive_lif_step,
    diehl_cook_step,
)
from spikerl.core.neurons.base import EmptyState, Neuron, Reset
from spikerl.core.neurons.cuba import CubaLIF, CubaLIFParams, CubaLIFState, cuba_lif_step
from spikerl.core.neurons.input import Input, InputParams, input_step
from spikerl.core.neurons.izhikevich import (
    Izhikevich,
    IzhikevichParams,
    IzhikevichState,
    izhikevich_step,
)
from spikerl.core.neurons.lif import (
    IF,
    LIF,
    IFParams,
    IFState,
    LIFParams,
    LIFState,
    if_step,
    lif_step,
)

__all__ = [
    "IF",
    "LIF",
    "AdaptiveLIF",
    "AdaptiveLIFParams",
    "AdaptiveLIFState",
    "CubaLIF",
    "CubaLIFParams",
    "CubaLIFState",
    "DiehlCook",
    "DiehlCookParams",
    "EmptyState",
    "IFParams",
    "IFState",
    "Input",
    "InputParams",
    "Izhikevich",
    "IzhikevichParams",
    "IzhikevichState",
    "LIFParams",
    "LIFState",
    "Neuron",
    "Reset",
    "adaptive_lif_step",
    "cuba_lif_step",
    "diehl_cook_step",
    "if_step",
    "input_step",
    "izhikevich_step",
    "lif_step",
]
