"""Shared machinery of neuron populations: the module wrapper around a pure step function.

Every neuron model is three things (the functional-core idiom):

* a frozen ``*Params`` dataclass of constants (times in ms, potentials in mV),
* a ``*State`` NamedTuple of tensors, each shaped ``[B, *shape]``,
* a pure ``*_step(x, state, params, dt) -> (spikes, new_state)`` that never changes its inputs.

:class:`Neuron` is the thin ``nn.Module`` around them: ``forward(x, state=None)`` always
returns ``(spikes, state)``; ``state=None`` means fresh state.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

import torch
from torch import Tensor, nn

from spikerl._checks import check_finite, check_positive, check_shape, check_tensor


class Reset(enum.Enum):
    """What happens to the membrane potential after a spike.

    ``HARD``: ``v <- v_reset``. ``SOFT`` (subtractive): ``v <- v - (v_thresh - v_reset)``.
    """

    HARD = "hard"
    SOFT = "soft"


P = TypeVar("P")
S = TypeVar("S", bound=tuple[Any, ...])

StepFn = Callable[[Tensor, Any, Any, float], tuple[Tensor, Any]]


def as_shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    """Normalise a population size (``int`` or sequence) to a shape tuple of positive ints."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        dims: tuple[int, ...] = (shape,)
    elif isinstance(shape, Sequence) and all(
        isinstance(d, int) and not isinstance(d, bool) for d in shape
    ):
        dims = tuple(shape)
    else:
        raise TypeError(f"shape must be an int or a sequence of ints, got {shape!r}")
    if not dims or any(d <= 0 for d in dims):
        raise ValueError(f"shape must have positive sizes, got {dims}")
    return dims


def fire(
    v: Tensor,
    refrac: Tensor,
    active: Tensor,
    v_thresh: Tensor | float,
    v_reset: float,
    refrac_period: float,
    reset: Reset,
) -> tuple[Tensor, Tensor, Tensor]:
    """Threshold, reset and refractory bookkeeping shared by the integrate-and-fire family.

    ``s = (v >= v_thresh) & active``; spiking units get ``refrac <- refrac_period`` and
    their potential reset (hard: ``v_reset``; soft: ``v - (v_thresh - v_reset)``).

    Returns:
        ``(spikes, v, refrac)`` with spikes in the dtype of ``v`` (0.0 or 1.0).
    """
    s = (v >= v_thresh) & active
    if reset is Reset.HARD:
        v = torch.where(s, torch.full_like(v, v_reset), v)
    else:
        v = v - s.to(v.dtype) * (v_thresh - v_reset)
    refrac = torch.where(s, torch.full_like(refrac, refrac_period), refrac)
    return s.to(v.dtype), v, refrac


def leaky_integrate(
    x: Tensor, v: Tensor, refrac: Tensor, v_rest: float, tau_mem: float, dt: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Leak toward ``v_rest`` and add the input of non-refractory units, shared by the LIFs.

        v'      = v_rest + (v - v_rest) * exp(-dt / tau_mem) + x * (refrac <= 0)   (mV)
        refrac' = max(refrac - dt, 0)                                             (ms)

    Returns:
        ``(v', refrac', active)`` with ``active = refrac <= 0`` (before the decrement).
    """
    a = math.exp(-dt / tau_mem)
    active = refrac <= 0
    v = v_rest + (v - v_rest) * a + torch.where(active, x, torch.zeros_like(x))
    return v, (refrac - dt).clamp_min(0.0), active


class Neuron(nn.Module, Generic[P, S]):
    """A population of neurons of one model: a thin module around a pure step function.

    Subclasses set :attr:`step_fn` and implement :meth:`initial_state`.

    Args:
        shape: Population shape (``int`` or tuple); states and spikes are ``[B, *shape]``.
        params: The model's frozen parameter dataclass.
        dt: Simulation step in ms (> 0).
    """

    step_fn: StepFn

    def __init__(self, shape: int | Sequence[int], params: P, dt: float = 1.0) -> None:
        super().__init__()
        self.shape: tuple[int, ...] = as_shape(shape)
        self.params: P = params
        self.dt: float = check_positive("dt", dt)
        # Anchors device and dtype so that `.to(...)` moves fresh states too.
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)
        self.name: str = type(self).__name__

    @property
    def n(self) -> int:
        """Number of neurons (product of the shape)."""
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def device(self) -> torch.device:
        """Device of the module's states."""
        return self._anchor.device  # type: ignore[return-value]

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the module's states."""
        return self._anchor.dtype  # type: ignore[return-value]

    def _full(self, batch_size: int, value: float) -> Tensor:
        return torch.full((batch_size, *self.shape), value, device=self.device, dtype=self.dtype)

    def initial_state(self, batch_size: int) -> S:
        """Fresh state for a batch of ``batch_size``."""
        raise NotImplementedError

    def relax(self, state: S, duration: float) -> S:
        """The state after ``duration`` ms without input and without spikes (a silent gap).

        Raises:
            NotImplementedError: for a model without a closed-form relaxation.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no silent-gap relaxation (relax); models with one: "
            f"Input, LIF"
        )

    def absorb(self, state: S, current: Tensor) -> S:
        """The state after a synaptic current ``[B, *shape]`` arrives at a silent step:
        added to the membrane as a step's input would be, without firing (the first step of
        a silent gap receives the spikes in flight).

        Raises:
            NotImplementedError: for a model without it.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot absorb a current without firing (absorb); models "
            f"with it: LIF"
        )

    def check_input(self, x: Tensor) -> None:
        """Raise a clear error unless ``x`` is a finite ``[B, *shape]`` tensor."""
        check_tensor(f"input to population '{self.name}'", x)
        check_shape(f"input to population '{self.name}'", x, self.shape)
        check_finite(f"input to population '{self.name}'", x)

    def step(self, x: Tensor, state: S) -> tuple[Tensor, S]:
        """One unchecked step of the pure step function (hot path)."""
        return type(self).step_fn(x, state, self.params, self.dt)  # type: ignore[return-value]

    def forward(self, x: Tensor, state: S | None = None) -> tuple[Tensor, S]:
        """Advance one step of ``dt`` ms.

        Args:
            x: Input ``[B, *shape]`` (the model's docstring gives its units).
            state: Previous state; ``None`` means fresh state.

        Returns:
            ``(spikes, new_state)`` with spikes ``[B, *shape]`` of 0.0/1.0.
        """
        self.check_input(x)
        if state is None:
            state = self.initial_state(x.shape[0])
        return self.step(x.to(self.dtype), state)

    def run(
        self, x: Tensor, state: S | None = None, record: Sequence[str] = ()
    ) -> tuple[Tensor, S, dict[str, Tensor]]:
        """Scan the step over a window ``x`` of shape ``[T, B, *shape]``.

        Args:
            x: Input over time.
            state: Initial state (``None``: fresh).
            record: State fields to record at every step (e.g. ``("v",)``).

        Returns:
            ``(spikes [T, B, *shape], final_state, {field: [T, B, *shape]})``.
        """
        if x.dim() != len(self.shape) + 2 or tuple(x.shape[2:]) != self.shape:
            raise ValueError(
                f"input to population '{self.name}': expected shape [T, B, "
                f"{', '.join(map(str, self.shape))}], got {list(x.shape)}"
            )
        if x.is_floating_point() and not bool(torch.isfinite(x.sum())):
            # A finite sum proves finite entries (cheap); else the full check explains.
            check_finite(f"input to population '{self.name}'", x)
        T, B = x.shape[0], x.shape[1]
        if state is None:
            state = self.initial_state(B)
        x = x.to(self.dtype)
        if T > 0:
            # Compiled scan (CPU, no autograd, LIF family); bit-exact with the loop below.
            from spikerl.core import kernels

            fast = kernels.neuron_scan(self, x, state, record)
            if fast is not None:
                return fast  # type: ignore[return-value]
        spikes = torch.empty_like(x)
        recs = {k: torch.empty_like(x) for k in record}
        for t in range(T):
            s, state = self.step(x[t], state)
            spikes[t] = s
            for k in record:
                recs[k][t] = getattr(state, k)
        return spikes, state, recs

    def reset_state(self, state: S, episode_start: Tensor) -> S:
        """Replace the state of batch elements where ``episode_start`` is true by fresh state.

        Args:
            state: Current state, fields ``[B, *shape]``.
            episode_start: Boolean ``[B]``.
        """
        mask = episode_start.to(device=self.device, dtype=torch.bool)
        fresh = self.initial_state(mask.shape[0])
        view = mask.view(-1, *([1] * len(self.shape)))
        return type(state)(*(torch.where(view, f, s) for f, s in zip(fresh, state, strict=True)))

    def extra_repr(self) -> str:
        return f"shape={self.shape}, dt={self.dt}, params={self.params}"


class EmptyState(NamedTuple):
    """State of a model that keeps none (input sources)."""
