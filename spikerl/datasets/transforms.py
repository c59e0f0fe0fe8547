"""Image transforms in plain torch (no torchvision).

Each transform is a pure function on a tensor plus a small callable class with the same
behaviour, usable as a dataset's ``transform``. They work on one image ``[C, H, W]`` or a
batch ``[N, ...]`` alike, and never change their input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

__all__ = [
    "MNIST_MEAN",
    "MNIST_STD",
    "Compose",
    "Flatten",
    "Normalize",
    "ScaleIntensity",
    "ToFloat",
    "flatten",
    "normalize",
    "scale_intensity",
    "to_float",
]

MNIST_MEAN = 0.1307
"""Mean pixel value of the MNIST training images in ``[0, 1]`` (0.130660...)."""

MNIST_STD = 0.3081
"""Standard deviation of the MNIST training pixels in ``[0, 1]`` (0.308107...)."""


def to_float(x: Tensor, max_value: float = 255.0) -> Tensor:
    """Convert integer pixels to ``float32`` in ``[0, 1]``: ``x / max_value``.

    Floating-point input is returned as ``float32`` unscaled (already in ``[0, 1]``).

    Args:
        x: Pixels, e.g. ``uint8`` 0..255.
        max_value: Value mapped to 1.0 for integer input.

    Returns:
        A new ``float32`` tensor.
    """
    if x.is_floating_point():
        return x.to(torch.float32, copy=True)
    return x.to(torch.float32) / max_value


def normalize(x: Tensor, mean: float, std: float) -> Tensor:
    """Standardise: ``(x - mean) / std``.

    Args:
        x: Floating-point tensor.
        mean: Value subtracted (e.g. :data:`MNIST_MEAN`).
        std: Divisor, > 0 (e.g. :data:`MNIST_STD`).

    Returns:
        A new tensor.
    """
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std!r}")
    return (x - mean) / std


def flatten(x: Tensor, start_dim: int = -3) -> Tensor:
    """Flatten the image dimensions: ``[..., C, H, W] -> [..., C*H*W]``.

    Args:
        x: Tensor with at least ``-start_dim`` dimensions.
        start_dim: First dimension flattened; -3 flattens ``[C, H, W]``, use -2 for ``[H, W]``.

    Returns:
        The flattened tensor (a view where possible; inputs are not modified).
    """
    return torch.flatten(x, start_dim=start_dim)


def scale_intensity(x: Tensor, scale: float) -> Tensor:
    """Multiply intensities: ``x * scale`` (e.g. pixel rates in Hz for Poisson encoding).

    Args:
        x: Tensor of intensities.
        scale: Factor, >= 0.

    Returns:
        A new tensor.
    """
    if not scale >= 0:
        raise ValueError(f"scale must be >= 0, got {scale!r}")
    return x * scale


class ToFloat:
    """Callable :func:`to_float`."""

    def __init__(self, max_value: float = 255.0) -> None:
        self.max_value = max_value

    def __call__(self, x: Tensor) -> Tensor:
        """Apply :func:`to_float`."""
        return to_float(x, self.max_value)

    def __repr__(self) -> str:
        return f"ToFloat(max_value={self.max_value})"


class Normalize:
    """Callable :func:`normalize`."""

    def __init__(self, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> None:
        if not std > 0:
            raise ValueError(f"std must be > 0, got {std!r}")
        self.mean = mean
        self.std = std

    def __call__(self, x: Tensor) -> Tensor:
        """Apply :func:`normalize`."""
        return normalize(x, self.mean, self.std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Flatten:
    """Callable :func:`flatten`."""

    def __init__(self, start_dim: int = -3) -> None:
        self.start_dim = start_dim

    def __call__(self, x: Tensor) -> Tensor:
        """Apply :func:`flatten`."""
        return flatten(x, self.start_dim)

    def __repr__(self) -> str:
        return f"Flatten(start_dim={self.start_dim})"


class ScaleIntensity:
    """Callable :func:`scale_intensity`."""

    def __init__(self, scale: float) -> None:
        if not scale >= 0:
            raise ValueError(f"scale must be >= 0, got {scale!r}")
        self.scale = scale

    def __call__(self, x: Tensor) -> Tensor:
        """Apply :func:`scale_intensity`."""
        return scale_intensity(x, self.scale)

    def __repr__(self) -> str:
        return f"ScaleIntensity(scale={self.scale})"


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[[Tensor], Tensor]]) -> None:
        self.transforms = tuple(transforms)

    def __call__(self, x: Tensor) -> Tensor:
        """Apply each transform in turn."""
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return f"Compose({list(self.transforms)!r})"
