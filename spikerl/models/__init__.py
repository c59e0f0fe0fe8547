"""spikerl.models."""

from spikerl.models.diehl_cook import DiehlCook2015, DiehlCookConfig, Readout
from spikerl.models.supervised import SupervisedConfig, SupervisedSTDP
from spikerl.models.surrogate import (
    LeakyReadout,
    SpikingConvNet,
    SpikingMLP,
)

__all__ = [
    "DiehlCook2015",
    "DiehlCookConfig",
    "LeakyReadout",
    "Readout",
    "SpikingConvNet",
    "SpikingMLP",
    "SupervisedConfig",
    "SupervisedSTDP",
]
