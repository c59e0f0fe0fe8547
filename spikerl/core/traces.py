"""Exponential spike traces, the memory that local learning rules read."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from spikerl._checks import check_positive


class TraceMode(enum.Enum):
    """How a spike changes the trace.

    ``ADD`` (all-to-all interactions): ``x <- x + scale * s``.
    ``SET`` (nearest-spike interactions): ``x <- scale`` where ``s``.
    """

    ADD = "add"
    SET = "set"


@dataclass(frozen=True)
class TraceParams:
    """Constants of an exponential trace.

    Attributes:
        tau: Decay time constant (ms).
        scale: Amount added (``ADD``) or value set (``SET``) on a spike.
        mode: All-to-all (``ADD``) or nearest-spike (``SET``).
    """

    tau: float = 20.0
    scale: float = 1.0
    mode: TraceMode = TraceMode.ADD

    def __post_init__(self) -> None:
        check_positive("tau", self.tau)


def trace_step(x: Tensor, s: Tensor, p: TraceParams, dt: float = 1.0) -> Tensor:
    """Advance a trace one step and register this step's spikes.

        x[t] = x[t-1] * exp(-dt / tau) + scale * s[t]      (ADD)
        x[t] = scale where s[t] else x[t-1] * exp(-dt / tau)  (SET)

    Args:
        x: Trace ``[B, *shape]`` (dimensionless).
        s: Spikes ``[B, *shape]`` (0/1, or graded).
        p: Trace constants.
        dt: Step (ms).
    """
    decayed = x * math.exp(-dt / p.tau)
    if p.mode is TraceMode.ADD:
        return decayed + p.scale * s
    return torch.where(s > 0, torch.full_like(x, p.scale), decayed)
