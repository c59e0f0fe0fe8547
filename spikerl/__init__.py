"""spikerl: clock-driven spiking neural networks on PyTorch for RL and MNIST.

Importing the package is light: names are resolved lazily from :mod:`spikerl.core` on
first use. Gymnasium, ALE, wandb and matplotlib are imported only by the submodules
that need them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_CORE_NAMES = (
    "IF",
    "LIF",
    "AdaptiveLIF",
    "Conv2dProjection",
    "CubaLIF",
    "DenseProjection",
    "DiehlCook",
    "ExecutionMode",
    "Input",
    "Izhikevich",
    "LateralProjection",
    "LocalConnected2dProjection",
    "Monitor",
    "Network",
    "Propagation",
    "SparseProjection",
)

__all__ = [*_CORE_NAMES, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _CORE_NAMES:
        return getattr(importlib.import_module("spikerl.core"), name)
    raise AttributeError(f"module 'spikerl' has no attribute {name!r}")
