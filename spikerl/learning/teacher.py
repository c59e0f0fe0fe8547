"""Teacher forcing: clamp chosen neurons on (or off) for supervised local learning.

The network adds a non-``Input`` population's external input to its current
(``net.run({"out": current, ...})``). A very large current drives the potential past the
threshold at every step the neuron is not refractory (forced *on*); a very negative one
keeps it far below (forced *off*). Rules that learn from postsynaptic spikes (STDP,
Hebbian, Diehl & Cook) then associate the inputs with the teacher's choice.

A silenced LIF potential sits far below rest afterwards: reset the network state between
presentations (``state=None`` or ``net.reset_state``), or pick a milder ``off_current``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from spikerl.core.neurons.base import as_shape

__all__ = ["TeacherForcing", "one_hot_mask"]


def one_hot_mask(labels: Tensor, n_classes: int) -> Tensor:
    """Boolean ``[B, n_classes]`` mask, true at each label.

    Raises:
        TypeError: If ``labels`` is not an integer tensor.
        ValueError: If it is not ``[B]`` or a label is out of range.
    """
    if not isinstance(labels, Tensor) or labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError("labels must be an integer tensor [B]")
    if labels.dim() != 1:
        raise ValueError(f"labels must be [B], got shape {list(labels.shape)}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got {labels.tolist()}")
    return torch.nn.functional.one_hot(labels.long(), n_classes).to(torch.bool)


@dataclass(frozen=True)
class TeacherForcing:
    """Makes the external current that forces chosen neurons of a population on or off.

    Attributes:
        shape: Shape of the taught population.
        on_current: Current of forced-on units (mV per step for the LIF family); large
            enough to cross the threshold from any potential.
        off_current: Current of forced-off units (negative).
    """

    shape: tuple[int, ...]
    on_current: float = 1e3
    off_current: float = -1e3

    def __init__(
        self,
        shape: int | Sequence[int],
        on_current: float = 1e3,
        off_current: float = -1e3,
    ) -> None:
        if not math.isfinite(on_current) or on_current <= 0:
            raise ValueError(f"on_current must be finite and > 0, got {on_current}")
        if not math.isfinite(off_current) or off_current > 0:
            raise ValueError(f"off_current must be finite and <= 0, got {off_current}")
        object.__setattr__(self, "shape", as_shape(shape))
        object.__setattr__(self, "on_current", float(on_current))
        object.__setattr__(self, "off_current", float(off_current))

    def _mask(self, name: str, mask: Tensor, steps: int) -> Tensor:
        if not isinstance(mask, Tensor):
            raise TypeError(f"{name} must be a boolean Tensor, got {type(mask).__name__}")
        n = len(self.shape)
        if mask.dim() == n + 1 and tuple(mask.shape[1:]) == self.shape:
            return mask.to(torch.bool).unsqueeze(0).expand(steps, *mask.shape)
        if mask.dim() == n + 2 and tuple(mask.shape[2:]) == self.shape and mask.shape[0] == steps:
            return mask.to(torch.bool)
        raise ValueError(
            f"{name}: expected [B, {', '.join(map(str, self.shape))}] or [T={steps}, B, ...], "
            f"got {list(mask.shape)}"
        )

    def current(self, steps: int, on: Tensor, off: Tensor | None = None) -> Tensor:
        """External current ``[T, B, *shape]`` forcing ``on`` units to fire, ``off`` silent.

        Args:
            steps: Window length ``T``.
            on: Boolean ``[B, *shape]`` (whole window) or ``[T, B, *shape]``.
            off: Same layout; ``None`` leaves the other units free.

        Raises:
            ValueError: On bad shapes, or units forced both on and off.
        """
        if not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be an int >= 0, got {steps!r}")
        on_m = self._mask("on", on, steps)
        cur = on_m.to(torch.float32) * self.on_current
        if off is not None:
            off_m = self._mask("off", off, steps)
            if off_m.shape != on_m.shape:
                raise ValueError("on and off masks must have the same batch size")
            if bool((on_m & off_m).any()):
                raise ValueError("a unit cannot be forced both on and off")
            cur = cur + off_m.to(torch.float32) * self.off_current
        return cur

    def from_labels(self, labels: Tensor, steps: int, silence_others: bool = True) -> Tensor:
        """Current forcing the unit of each label on (and, by default, the others off).

        For a flat population of ``n_classes`` units: ``[B]`` labels to ``[T, B, n]``.
        """
        if len(self.shape) != 1:
            raise ValueError(f"from_labels needs a flat population, got shape {self.shape}")
        on = one_hot_mask(labels, self.shape[0])
        return self.current(steps, on, ~on if silence_others else None)
