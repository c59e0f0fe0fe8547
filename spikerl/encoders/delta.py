"""Event (delta) coding for frames: ON/OFF spikes where brightness changed."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import NamedTuple

import torch
from torch import Tensor

from spikerl._checks import check_positive
from spikerl.encoders.base import StatefulEncoder, spike_dtype
from spikerl.encoders.intensity import IntensityRange, RangeBound


class EventTiming(Enum):
    """When within the window of T steps the events of one frame are emitted."""

    FIRST_STEP = "first_step"
    """One spike per event at step 0, silence afterwards."""
    ALL_STEPS = "all_steps"
    """The event channel stays on for all T steps (a constant drive)."""


class DeltaState(NamedTuple):
    """Delta-encoder state.

    Attributes:
        previous: Previous frame's intensities ``[B, *input_shape]``.
        valid: ``[B]`` bool; false where there is no previous frame (fresh episode).
    """

    previous: Tensor
    valid: Tensor


class DeltaEncoder(StatefulEncoder[DeltaState]):
    """ON/OFF event encoder (like a DVS camera) from frame differences.

    With intensities ``u = (x - low) / (high - low)`` and the previous frame ``u_prev``:
    ``ON = [u - u_prev > threshold]``, ``OFF = [u_prev - u > threshold]``. The output per
    step is ``[2, *input_shape]`` (channel 0 ON, channel 1 OFF). A frame without a
    previous one (``state=None`` or after an episode start) gives no events.
    Deterministic; ``generator`` is unused.

    Args:
        input_shape: Frame shape, e.g. ``(84, 84)``.
        time_steps: Window length T.
        threshold: Change in intensity (fraction of the input range) that makes an event.
        timing: When the events are emitted within the window.
        dt: Step in ms.
        input_range: ``(low, high)`` of raw inputs, e.g. ``(0, 255)`` for uint8 frames.
    """

    def __init__(
        self,
        input_shape: int | Sequence[int],
        time_steps: int,
        threshold: float = 0.05,
        timing: EventTiming = EventTiming.FIRST_STEP,
        dt: float = 1.0,
        input_range: tuple[RangeBound, RangeBound] = (0.0, 1.0),
    ) -> None:
        super().__init__(input_shape, time_steps, dt)
        self.threshold = check_positive("threshold", threshold)
        if not isinstance(timing, EventTiming):
            raise TypeError(f"timing must be an EventTiming, got {timing!r}")
        self.timing = timing
        self.intensity = IntensityRange(self.input_shape, *input_range)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (2, *self.input_shape)

    def initial_state(self, x: Tensor) -> DeltaState:
        """A state with no previous frame for a batch shaped like ``x``."""
        u = torch.zeros(x.shape, dtype=spike_dtype(x), device=x.device)
        return DeltaState(u, torch.zeros(x.shape[0], dtype=torch.bool, device=x.device))

    def reset_state(self, state: DeltaState, episode_start: Tensor) -> DeltaState:
        start = torch.as_tensor(episode_start, dtype=torch.bool, device=state.valid.device)
        if start.shape != state.valid.shape:
            raise ValueError(
                f"episode_start must have shape [B] = {list(state.valid.shape)}, "
                f"got {list(start.shape)}"
            )
        return DeltaState(state.previous, state.valid & ~start)

    def events(self, x: Tensor, state: DeltaState | None = None) -> tuple[Tensor, DeltaState]:
        """One step of events ``[B, 2, *input_shape]`` and the new state."""
        x = self.check_input(x)
        u = self.intensity(x, spike_dtype(x))
        if state is None:
            state = self.initial_state(x)
        elif state.previous.shape != u.shape:
            raise ValueError(
                f"state.previous has shape {list(state.previous.shape)}, input {list(u.shape)}"
            )
        diff = u - state.previous.to(u.dtype)
        valid = state.valid.view(-1, *([1] * (u.dim() - 1)))
        on = (diff > self.threshold) & valid
        off = (diff < -self.threshold) & valid
        ev = torch.stack((on, off), dim=1).to(u.dtype)
        new_state = DeltaState(u, torch.ones_like(state.valid))
        return ev, new_state

    def forward(
        self,
        x: Tensor,
        state: DeltaState | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, DeltaState]:
        ev, new_state = self.events(x, state)
        if self.timing is EventTiming.ALL_STEPS:
            out = ev.unsqueeze(0).repeat(self.time_steps, *([1] * ev.dim()))
        else:
            out = torch.zeros((self.time_steps, *ev.shape), dtype=ev.dtype, device=ev.device)
            out[0] = ev
        return out, new_state

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, threshold={self.threshold}, timing={self.timing.name}"
