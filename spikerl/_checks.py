"""Input validation shared by the package: clear errors instead of deep torch ones."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def check_positive(name: str, value: float) -> float:
    """Return ``value`` if it is a finite number > 0, else raise ``ValueError``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_non_negative(name: str, value: float) -> float:
    """Return ``value`` if it is a finite number >= 0, else raise ``ValueError``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_tensor(name: str, x: object) -> Tensor:
    """Raise ``TypeError`` unless ``x`` is a tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


def check_finite(name: str, x: Tensor) -> Tensor:
    """Raise ``ValueError`` if ``x`` holds NaN or inf."""
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        n_bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} holds {n_bad} NaN or inf value(s); inputs must be finite")
    return x


def check_shape(name: str, x: Tensor, expected: Sequence[int], what: str = "[B, *shape]") -> None:
    """Raise ``ValueError`` unless ``x.shape[-len(expected):]`` equals ``expected``.

    Args:
        name: What the tensor is, for the message (e.g. ``"input to population 'exc'"``).
        x: The tensor.
        expected: The trailing shape it must have.
        what: The layout to quote in the message.
    """
    expected = tuple(expected)
    if x.dim() != len(expected) + 1 or tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"{name}: expected shape {what} = [B, {', '.join(map(str, expected))}], "
            f"got {list(x.shape)}"
        )
