"""Monitors: record chosen variables of chosen populations into preallocated buffers."""

from __future__ import annotations

import torch
from torch import Tensor

#: Variables every population offers besides its state fields.
SPIKES = "spikes"
TRACE = "trace"


class Monitor:
    """Records one variable of one population over a run, as ``[T, B, *shape]``.

    The buffer is allocated once per run (``T`` and ``B`` are known at its start) and
    filled in place; :attr:`values` holds the latest run. With ``keep_history`` the runs
    are also kept, concatenated along time by :meth:`history`.

    Args:
        population: Population name.
        variable: ``"spikes"``, ``"trace"`` (if the population has a trace) or a field of
            the population's state (e.g. ``"v"``, ``"theta"``, ``"refrac"``).
        keep_history: Keep the buffers of earlier runs.
    """

    def __init__(self, population: str, variable: str = SPIKES, keep_history: bool = False):
        self.population = population
        self.variable = variable
        self.keep_history = keep_history
        self._buffer: Tensor | None = None
        self._past: list[Tensor] = []

    def allocate(self, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> Tensor:
        """Allocate the buffer for a run of ``shape = (T, B, *pop_shape)``."""
        if self._buffer is not None and self.keep_history:
            self._past.append(self._buffer)
        self._buffer = torch.empty(shape, dtype=dtype, device=device)
        return self._buffer

    def write(self, t: int, value: Tensor) -> None:
        """Store ``value [B, *shape]`` at step ``t`` of the current run."""
        assert self._buffer is not None
        self._buffer[t] = value

    def write_window(self, values: Tensor) -> None:
        """Store a whole window ``[T, B, *shape]``."""
        assert self._buffer is not None
        self._buffer.copy_(values)

    @property
    def values(self) -> Tensor:
        """The latest run's record ``[T, B, *shape]``."""
        if self._buffer is None:
            raise RuntimeError(
                f"monitor of '{self.population}.{self.variable}' has not recorded a run yet"
            )
        return self._buffer

    def history(self) -> Tensor:
        """All kept runs concatenated along time."""
        runs = [*self._past, self.values]
        return torch.cat(runs, dim=0)

    def reset(self) -> None:
        """Forget everything recorded."""
        self._buffer = None
        self._past = []

    def __repr__(self) -> str:
        return f"Monitor({self.population!r}, {self.variable!r})"
