"""spikerl.models."""

from spikerl.models.surrogate import (
    LeakyReadout,
    SpikingConvNet,
    SpikingMLP,
)

__all__ = [
    "LeakyReadout",
    "SpikingConvNet",
    "SpikingMLP",
]
