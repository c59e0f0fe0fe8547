"""Surrogate gradients: train spiking networks by backpropagation through time (BPTT).

A spiking neuron emits ``s = H(v - v_thresh)`` (Heaviside step), whose derivative is zero
almost everywhere, so plain autograd cannot train it. A *surrogate gradient* keeps the exact
step in the forward pass and replaces ``dH/dx`` by a smooth pseudo-derivative ``g(x)`` in the
backward pass (Neftci, Mostafa & Zenke 2019). Here ``x = v - v_thresh`` is in mV, so every
surrogate's sharpness parameter is in 1/mV; the peak ``g(0)`` and the width of ``g`` scale with
it.

Surrogates are small frozen dataclasses, chosen by object, not by string:

* :class:`FastSigmoid` (SuperSpike, Zenke & Ganguli 2018): ``g(x) = 1 / (1 + k|x|)^2``.
* :class:`ATan` (Fang et al. 2021): ``g(x) = (a / 2) / (1 + (pi a x / 2)^2)``.
* :class:`Sigmoid`: ``g(x) = k * sigma(k x) * (1 - sigma(k x))``.

:func:`spike_fn` applies one of them; :func:`surrogate_lif_step` is the differentiable twin of
:func:`spikerl.core.neurons.lif.lif_step` (same equations, bit-identical forward), and
:class:`SurrogateLIF` is its thin module.

Example:
    >>> lif = SurrogateLIF(params=LIFParams(v_rest=0.0, v_reset=0.0, v_thresh=1.0, refrac=0.0))
    >>> x = torch.rand(8, 4, 10, requires_grad=True)  # [T, B, N] input in mV per step
    >>> lif.run(x).sum().backward()  # x.grad is finite and (almost surely) non-zero
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from spikerl._checks import check_positive, check_shape, check_tensor
from spikerl.core.neurons.base import Reset, as_shape
from spikerl.core.neurons.lif import LIFParams, LIFState

__all__ = [
    "ATan",
    "ATanSpike",
    "FastSigmoid",
    "FastSigmoidSpike",
    "Sigmoid",
    "SigmoidSpike",
    "Surrogate",
    "SurrogateLIF",
    "atan_derivative",
    "fast_sigmoid_derivative",
    "heaviside",
    "sigmoid_derivative",
    "spike_fn",
    "surrogate_lif_step",
]


def heaviside(x: Tensor) -> Tensor:
    """Heaviside step ``H(x) = 1 if x >= 0 else 0`` in the dtype of ``x``.

    ``H(0) = 1`` matches the core neurons' ``v >= v_thresh`` spike condition.
    """
    return (x >= 0).to(x.dtype)


# --------------------------------------------------------------------------- derivatives


def fast_sigmoid_derivative(x: Tensor, slope: float) -> Tensor:
    """SuperSpike surrogate ``g(x) = 1 / (1 + k|x|)^2`` (k = ``slope``, 1/mV; ``g(0) = 1``)."""
    return 1.0 / (1.0 + slope * x.abs()).square()


def atan_derivative(x: Tensor, alpha: float) -> Tensor:
    """Arctan surrogate ``g(x) = (a/2) / (1 + (pi a x / 2)^2)`` (a = ``alpha``, 1/mV).

    It is the derivative of ``arctan(pi a x / 2) / pi + 1/2``; ``g(0) = a / 2``.
    """
    return (alpha / 2.0) / (1.0 + (math.pi * alpha * x / 2.0).square())


def sigmoid_derivative(x: Tensor, slope: float) -> Tensor:
    """Logistic surrogate ``g(x) = k sigma(kx)(1 - sigma(kx))`` (k = ``slope``, 1/mV).

    It is the derivative of ``sigma(kx)``; ``g(0) = k / 4``.
    """
    sig = torch.sigmoid(slope * x)
    return slope * sig * (1.0 - sig)


# --------------------------------------------------------------------------- autograd functions


class FastSigmoidSpike(torch.autograd.Function):
    """Heaviside forward, :func:`fast_sigmoid_derivative` backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, slope: float) -> Tensor:
        """``H(x)``; saves ``x`` for the backward pass."""
        ctx.save_for_backward(x)
        ctx.slope = slope
        return heaviside(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        """``dL/dx = dL/ds * 1 / (1 + k|x|)^2``."""
        (x,) = ctx.saved_tensors
        return grad_output * fast_sigmoid_derivative(x, ctx.slope), None


class ATanSpike(torch.autograd.Function):
    """Heaviside forward, :func:`atan_derivative` backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, alpha: float) -> Tensor:
        """``H(x)``; saves ``x`` for the backward pass."""
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return heaviside(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        """``dL/dx = dL/ds * (a/2) / (1 + (pi a x / 2)^2)``."""
        (x,) = ctx.saved_tensors
        return grad_output * atan_derivative(x, ctx.alpha), None


class SigmoidSpike(torch.autograd.Function):
    """Heaviside forward, :func:`sigmoid_derivative` backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, slope: float) -> Tensor:
        """``H(x)``; saves ``x`` for the backward pass."""
        ctx.save_for_backward(x)
        ctx.slope = slope
        return heaviside(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        """``dL/dx = dL/ds * k sigma(kx)(1 - sigma(kx))``."""
        (x,) = ctx.saved_tensors
        return grad_output * sigmoid_derivative(x, ctx.slope), None


# --------------------------------------------------------------------------- surrogate objects


@dataclass(frozen=True)
class Surrogate:
    """Base of the surrogate choices: Heaviside forward, :meth:`derivative` backward."""

    def derivative(self, x: Tensor) -> Tensor:
        """Pseudo-derivative ``g(x)`` used in place of ``dH/dx`` (1/mV)."""
        raise NotImplementedError

    def spike(self, x: Tensor) -> Tensor:
        """``H(x)`` with this surrogate's gradient (``x = v - v_thresh`` in mV)."""
        raise NotImplementedError


@dataclass(frozen=True)
class FastSigmoid(Surrogate):
    """SuperSpike fast-sigmoid surrogate ``g(x) = 1 / (1 + k|x|)^2``.

    Attributes:
        slope: ``k`` (1/mV), > 0; larger is sharper. ``g(0) = 1``, ``g(1/k) = 1/4``.
    """

    slope: float = 25.0

    def __post_init__(self) -> None:
        check_positive("slope", self.slope)

    def derivative(self, x: Tensor) -> Tensor:
        """``1 / (1 + k|x|)^2``."""
        return fast_sigmoid_derivative(x, self.slope)

    def spike(self, x: Tensor) -> Tensor:
        """``H(x)`` with the fast-sigmoid gradient."""
        out: Tensor = FastSigmoidSpike.apply(x, self.slope)
        return out


@dataclass(frozen=True)
class ATan(Surrogate):
    """Arctan surrogate ``g(x) = (a/2) / (1 + (pi a x / 2)^2)``.

    Attributes:
        alpha: ``a`` (1/mV), > 0; larger is sharper. ``g(0) = a / 2``.
    """

    alpha: float = 2.0

    def __post_init__(self) -> None:
        check_positive("alpha", self.alpha)

    def derivative(self, x: Tensor) -> Tensor:
        """``(a/2) / (1 + (pi a x / 2)^2)``."""
        return atan_derivative(x, self.alpha)

    def spike(self, x: Tensor) -> Tensor:
        """``H(x)`` with the arctan gradient."""
        out: Tensor = ATanSpike.apply(x, self.alpha)
        return out


@dataclass(frozen=True)
class Sigmoid(Surrogate):
    """Logistic surrogate ``g(x) = k sigma(kx) (1 - sigma(kx))``.

    Attributes:
        slope: ``k`` (1/mV), > 0; larger is sharper. ``g(0) = k / 4``.
    """

    slope: float = 25.0

    def __post_init__(self) -> None:
        check_positive("slope", self.slope)

    def derivative(self, x: Tensor) -> Tensor:
        """``k sigma(kx) (1 - sigma(kx))``."""
        return sigmoid_derivative(x, self.slope)

    def spike(self, x: Tensor) -> Tensor:
        """``H(x)`` with the logistic gradient."""
        out: Tensor = SigmoidSpike.apply(x, self.slope)
        return out


def spike_fn(v_minus_thresh: Tensor, surrogate: Surrogate | None = None) -> Tensor:
    """Spike nonlinearity: exact Heaviside forward, surrogate derivative backward.

    Forward ``s = H(x) = [x >= 0]``; backward ``dL/dx = dL/ds * g(x)`` with ``g`` from
    ``surrogate``.

    Args:
        v_minus_thresh: ``x = v - v_thresh`` (mV), any shape, floating point.
        surrogate: The pseudo-derivative; default :class:`FastSigmoid` ``(slope=25)``.

    Returns:
        Spikes (0.0/1.0) of the shape and dtype of ``v_minus_thresh``.
    """
    if not isinstance(surrogate, Surrogate | None):
        raise TypeError(
            "surrogate must be a Surrogate object such as FastSigmoid(), ATan() or Sigmoid(), "
            f"got {surrogate!r}"
        )
    return (surrogate or FastSigmoid()).spike(v_minus_thresh)


# --------------------------------------------------------------------------- LIF for BPTT


def surrogate_lif_step(
    x: Tensor,
    state: LIFState,
    params: LIFParams,
    dt: float = 1.0,
    surrogate: Surrogate | None = None,
    detach_reset: bool = False,
) -> tuple[Tensor, LIFState]:
    """One differentiable LIF step: :func:`~spikerl.core.neurons.lif.lif_step` for BPTT.

    With ``a = exp(-dt / tau_mem)`` and ``r = refrac[t-1] > 0`` (refractory):

        v'[t]  = v_rest + (v[t-1] - v_rest) * a + x[t] * (1 - r)     (x in mV per step)
        s[t]   = H(v'[t] - v_thresh) * (1 - r)                       (surrogate backward)
        v[t]   = v'[t] * (1 - s[t]) + v_reset * s[t]                 (hard reset)
               = v'[t] - s[t] * (v_thresh - v_reset)                 (soft reset)
        refrac[t] = max(refrac[t-1] - dt, 0), or params.refrac where s[t]

    The forward values equal ``lif_step``'s exactly. Gradients flow through ``v`` (across
    time), ``x`` and the spike (by the surrogate); the refractory gate ``r`` is a constant
    mask. With ``detach_reset`` the ``s[t]`` in the reset term is detached (Zenke & Vogels
    2021: often trains better, since the reset then does not feed gradient back into the
    threshold crossing).

    Args:
        x: Input current (mV per step), ``[B, *shape]``.
        state: ``LIFState(v [mV], refrac [ms])``, each ``[B, *shape]``.
        params: LIF constants (``tau_mem`` in ms, potentials in mV).
        dt: Time step (ms).
        surrogate: Pseudo-derivative of the spike; default :class:`FastSigmoid` ``(25)``.
        detach_reset: Detach the spike in the reset term from the graph.

    Returns:
        ``(spikes, new_state)``; spikes 0.0/1.0 ``[B, *shape]`` in the dtype of ``x``.
    """
    a = math.exp(-dt / params.tau_mem)
    active = (state.refrac <= 0).to(x.dtype)
    v = params.v_rest + (state.v - params.v_rest) * a + x * active
    s = spike_fn(v - params.v_thresh, surrogate) * active
    sr = s.detach() if detach_reset else s
    if params.reset is Reset.HARD:
        v = v * (1.0 - sr) + params.v_reset * sr
    else:
        v = v - sr * (params.v_thresh - params.v_reset)
    refrac = (state.refrac - dt).clamp_min(0.0)
    if params.refrac > 0:
        refrac = torch.where(s.detach() > 0, torch.full_like(refrac, params.refrac), refrac)
    return s, LIFState(v, refrac)


class SurrogateLIF(nn.Module):
    """LIF population trained by BPTT (:func:`surrogate_lif_step`), shape-agnostic.

    ``forward(x, state=None) -> (spikes, state)`` advances one step; ``run(x)`` scans a window
    ``[T, B, *shape]``. Fresh states (``v = v_rest``, ``refrac = 0``) take the shape, device
    and dtype of the input, so one module serves dense and convolutional layers.

    Args:
        shape: Population shape, checked against inputs; ``None`` accepts any ``[B, ...]``.
        params: LIF constants; default :class:`~spikerl.core.neurons.lif.LIFParams` ``()``
            (classic -65/-52 mV). For deep learning, a normalised
            ``LIFParams(v_rest=0, v_reset=0, v_thresh=1, refrac=0)`` is more usual.
        dt: Time step (ms).
        surrogate: Pseudo-derivative of the spike; default :class:`FastSigmoid` ``(25)``.
        detach_reset: Detach the reset from the graph (see :func:`surrogate_lif_step`).
    """

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        params: LIFParams | None = None,
        dt: float = 1.0,
        surrogate: Surrogate | None = None,
        detach_reset: bool = False,
    ) -> None:
        super().__init__()
        if surrogate is not None and not isinstance(surrogate, Surrogate):
            raise TypeError(f"surrogate must be a Surrogate object, got {surrogate!r}")
        self.shape: tuple[int, ...] | None = None if shape is None else as_shape(shape)
        self.params: LIFParams = params or LIFParams()
        self.dt: float = check_positive("dt", dt)
        self.surrogate: Surrogate = surrogate or FastSigmoid()
        self.detach_reset = detach_reset

    def initial_state(self, x: Tensor) -> LIFState:
        """Fresh state shaped, placed and typed like one step of input ``x`` ``[B, *shape]``."""
        return LIFState(torch.full_like(x, self.params.v_rest), torch.zeros_like(x))

    def reset_state(self, state: LIFState, episode_start: Tensor) -> LIFState:
        """Replace the state of batch elements where ``episode_start`` (``[B]`` bool) is true."""
        mask = episode_start.to(device=state.v.device, dtype=torch.bool)
        view = mask.view(-1, *([1] * (state.v.dim() - 1)))
        fresh = self.initial_state(state.v)
        return LIFState(*(torch.where(view, f, s) for f, s in zip(fresh, state, strict=True)))

    def _check(self, x: Tensor, leading: int) -> None:
        check_tensor("input to SurrogateLIF", x)
        if not x.is_floating_point():
            raise TypeError(f"input to SurrogateLIF must be floating point, got {x.dtype}")
        if self.shape is not None:
            what = "[B, *shape]" if leading == 1 else "[T, B, *shape]"
            if x.dim() != len(self.shape) + leading:
                raise ValueError(
                    f"input to SurrogateLIF: expected {what} with shape {self.shape}, "
                    f"got {list(x.shape)}"
                )
            check_shape("input to SurrogateLIF", x.flatten(0, leading - 1), self.shape, what)

    def forward(self, x: Tensor, state: LIFState | None = None) -> tuple[Tensor, LIFState]:
        """Advance one step of ``dt`` ms.

        Args:
            x: Input current (mV per step), ``[B, *shape]``.
            state: Previous state; ``None`` means fresh state.

        Returns:
            ``(spikes [B, *shape] of 0.0/1.0, new_state)``.
        """
        self._check(x, 1)
        if state is None:
            state = self.initial_state(x)
        return surrogate_lif_step(x, state, self.params, self.dt, self.surrogate, self.detach_reset)

    def run(self, x: Tensor, state: LIFState | None = None) -> Tensor:
        """Scan the step over a window.

        Args:
            x: Input current over time (mV per step), ``[T, B, *shape]``.
            state: Initial state; ``None`` means fresh state.

        Returns:
            Spikes ``[T, B, *shape]`` (0.0/1.0), differentiable by the surrogate.
        """
        self._check(x, 2)
        if state is None:
            state = self.initial_state(x[0])
        from spikerl.learning.fused_lif import fused_lif_window

        fused = fused_lif_window(
            x, state.v, self.params, self.dt, self.surrogate, self.detach_reset
        )
        if fused is not None:  # compiled forward + backward (CPU, refractory-free)
            return fused[0]
        out = []
        for t in range(x.shape[0]):
            s, state = surrogate_lif_step(
                x[t], state, self.params, self.dt, self.surrogate, self.detach_reset
            )
            out.append(s)
        return torch.stack(out)

    def extra_repr(self) -> str:
        return (
            f"shape={self.shape}, dt={self.dt}, params={self.params}, "
            f"surrogate={self.surrogate}, detach_reset={self.detach_reset}"
        )
