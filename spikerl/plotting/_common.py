"""Shared helpers of :mod:`spikerl.plotting`: array conversion, shape checks, new figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray
from torch import Tensor

ArrayLike: TypeAlias = Tensor | np.ndarray | Sequence[float]
"""What plot functions accept: a torch tensor (any device), a numpy array or a list."""

DEFAULT_FIGSIZE: tuple[float, float] = (6.4, 4.0)


def to_numpy(x: object, name: str) -> NDArray[np.generic]:
    """Return ``x`` as a numpy array on the CPU, detached from any autograd graph.

    Args:
        x: A tensor, a numpy array or a (nested) sequence of numbers.
        name: What ``x`` is, for error messages.

    Returns:
        A numpy array (half and bfloat16 tensors become float32).

    Raises:
        TypeError: If ``x`` cannot be read as a numeric array.
    """
    if isinstance(x, Tensor):
        t = x.detach()
        if t.is_complex():
            raise TypeError(f"{name}: complex tensors cannot be plotted")
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        return t.cpu().numpy()
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}"
            ) from err
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must hold numbers, got {type(x).__name__} of dtype {arr.dtype}")
    return arr


def as_float(x: object, name: str) -> NDArray[np.float64]:
    """Like :func:`to_numpy`, as float64."""
    return to_numpy(x, name).astype(np.float64, copy=False)


def shape_str(a: NDArray[np.generic]) -> str:
    """Format a shape as ``[d0, d1, ...]`` for error messages."""
    return "[" + ", ".join(str(d) for d in a.shape) + "]"


def time_major(
    x: object, name: str, batch_index: int
) -> tuple[NDArray[np.float64], tuple[int, ...]]:
    """Select one sample of a time-first recording and flatten its neurons.

    Args:
        x: A recording ``[T, B, *shape]`` (batch present) or ``[T, n]`` (one sample).
        name: What ``x`` is, for error messages.
        batch_index: Which sample of the batch to take (ignored layout: must be 0 for
            ``[T, n]``).

    Returns:
        ``(values [T, n], sample_shape)`` where ``n = prod(sample_shape)``.

    Raises:
        ValueError: On fewer than 2 dimensions, an empty time or neuron axis, or a
            batch index out of range.
    """
    a = as_float(x, name)
    if a.ndim < 2:
        raise ValueError(
            f"{name}: expected a time-first array [T, B, *shape] or [T, n], "
            f"got shape {shape_str(a)}"
        )
    if a.ndim == 2:
        if batch_index not in (0, -1):
            raise ValueError(
                f"{name}: shape {shape_str(a)} is read as [T, n] (no batch axis), "
                f"so batch_index must be 0, got {batch_index}"
            )
        sample = a
        sample_shape: tuple[int, ...] = (a.shape[1],)
    else:
        n_batch = a.shape[1]
        if not -n_batch <= batch_index < n_batch:
            raise ValueError(
                f"{name}: batch_index {batch_index} is out of range for shape "
                f"{shape_str(a)} = [T, B, *shape] with B={n_batch}"
            )
        sample = a[:, batch_index]
        sample_shape = tuple(int(d) for d in sample.shape[1:])
    if sample.shape[0] == 0 or sample[0].size == 0:
        raise ValueError(f"{name}: nothing to plot, got shape {shape_str(a)}")
    return sample.reshape(sample.shape[0], -1), sample_shape


def as_1d(x: object, name: str) -> NDArray[np.float64]:
    """Return ``x`` as a non-empty 1-D float array, or raise ``ValueError``."""
    a = as_float(x, name)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D array [N], got shape {shape_str(a)}")
    return a


def root_figure(ax: Axes) -> Figure:
    """Return the top-level :class:`Figure` that holds ``ax``."""
    fig = ax.get_figure(root=True)
    if not isinstance(fig, Figure):
        raise ValueError("ax is not attached to a matplotlib Figure")
    return fig


def figure_and_axes(
    ax: Axes | None, figsize: tuple[float, float] = DEFAULT_FIGSIZE
) -> tuple[Figure, Axes]:
    """Return ``(figure, axes)``: a new one-panel figure, or ``ax`` and its figure.

    New figures are plain :class:`Figure` objects (no pyplot state) with a
    constrained layout.
    """
    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        return root_figure(ax), ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def select_neurons(
    neurons: int | Sequence[int] | None, n: int, name: str, default_max: int
) -> NDArray[np.int64]:
    """Resolve a neuron selection into flat indices in ``[0, n)``.

    Args:
        neurons: ``None`` (the first ``default_max``), a count ``k`` (the first ``k``)
            or explicit flat indices.
        n: Number of neurons available.
        name: What is selected, for error messages.
        default_max: How many to take when ``neurons`` is ``None``.
    """
    if neurons is None:
        return np.arange(min(n, default_max))
    if isinstance(neurons, int | np.integer):
        if neurons <= 0:
            raise ValueError(f"{name}: neurons must be a count > 0, got {neurons}")
        return np.arange(min(n, int(neurons)))
    idx = np.asarray(list(neurons), dtype=np.int64)
    if idx.ndim != 1 or idx.size == 0:
        raise ValueError(f"{name}: neurons must be a non-empty list of flat indices")
    if idx.min() < -n or idx.max() >= n:
        raise ValueError(
            f"{name}: neuron indices must lie in [0, {n}) for {n} neurons, got "
            f"min {int(idx.min())}, max {int(idx.max())}"
        )
    return idx % n


def tile_images(
    images: NDArray[np.float64], n_cols: int | None = None, pad: int = 1
) -> NDArray[np.float64]:
    """Tile ``[N, H, W]`` images into one mosaic separated by NaN gutters.

    Args:
        images: The tiles.
        n_cols: Tiles per row (default: about ``sqrt(N)``).
        pad: Gutter width in pixels (NaN, drawn as the colormap's "bad" colour).

    Returns:
        A 2-D mosaic array.
    """
    n, h, w = images.shape
    cols = n_cols if n_cols is not None else int(np.ceil(np.sqrt(n)))
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    mosaic = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        mosaic[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = images[i]
    return mosaic


def color_limits(
    a: NDArray[np.float64], vmin: float | None, vmax: float | None, symmetric: bool | None
) -> tuple[float, float, bool]:
    """Choose colour limits; signed data get limits symmetric around 0.

    Returns:
        ``(vmin, vmax, diverging)``; ``diverging`` says a diverging colormap fits.
    """
    finite = a[np.isfinite(a)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 1.0
    diverging = symmetric if symmetric is not None else (lo < 0.0 < hi)
    if diverging:
        m = max(abs(lo), abs(hi)) or 1.0
        lo, hi = -m, m
    if vmin is not None:
        lo = vmin
    if vmax is not None:
        hi = vmax
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi, diverging
