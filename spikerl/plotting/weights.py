"""Weight plots: dense weight matrices, receptive fields, convolution kernels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from spikerl.plotting._common import (
    ArrayLike,
    as_float,
    color_limits,
    figure_and_axes,
    select_neurons,
    shape_str,
    tile_images,
)


def _mosaic_figsize(mosaic: NDArray[np.float64]) -> tuple[float, float]:
    """A figure size that fits a mosaic's aspect ratio plus a colorbar."""
    rows, cols = mosaic.shape
    height = 6.0
    width = float(np.clip(height * cols / rows + 1.4, 3.5, 12.0))
    return width, height


def _cmap_for(cmap: str | None, diverging: bool) -> str:
    if cmap is not None:
        return cmap
    return "RdBu_r" if diverging else "hot_r"


def weight_matrix(
    w: ArrayLike,
    *,
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    symmetric: bool | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot a dense weight matrix ``[n_source, n_target]`` as an image with a colorbar.

    Rows (y) are source neurons, columns (x) target neurons.

    Args:
        w: Weights ``[n_source, n_target]``.
        cmap: Colormap (default: ``RdBu_r`` for signed weights, ``hot_r`` otherwise).
        vmin: Lower colour limit (default: from the data).
        vmax: Upper colour limit (default: from the data).
        symmetric: Limits symmetric around 0 (default: when the weights change sign).
        title: Axes title.
        ax: Axes to draw into; a new figure is made when ``None``.

    Returns:
        The figure.

    Raises:
        ValueError: If ``w`` is not a non-empty 2-D array.
    """
    a = as_float(w, "weight_matrix: w")
    if a.ndim != 2 or a.size == 0:
        raise ValueError(
            f"weight_matrix: expected a 2-D weight matrix [n_source, n_target], "
            f"got shape {shape_str(a)}"
        )
    lo, hi, diverging = color_limits(a, vmin, vmax, symmetric)
    fig, ax = figure_and_axes(ax)
    im = ax.imshow(
        a,
        cmap=_cmap_for(cmap, diverging),
        vmin=lo,
        vmax=hi,
        aspect="auto",
        interpolation="nearest",
    )
    ax.set_xlabel(f"target neuron ({a.shape[1]})")
    ax.set_ylabel(f"source neuron ({a.shape[0]})")
    ax.set_title(title if title is not None else "weights")
    fig.colorbar(im, ax=ax, label="w")
    return fig


def receptive_fields(
    w: ArrayLike,
    image_shape: tuple[int, int] = (28, 28),
    *,
    neurons: int | Sequence[int] | None = None,
    n_cols: int | None = None,
    normalize: bool = False,
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot each neuron's input weights as an image, tiled into one grid.

    Column ``j`` of ``w`` (the weights from all inputs onto neuron ``j``) is reshaped to
    ``image_shape``, as in Diehl & Cook (2015) figures.

    Args:
        w: Weights ``[n_in, n_neurons]`` with ``n_in = H * W``.
        image_shape: ``(H, W)`` of one field.
        neurons: Which neurons: a count ``k`` (the first ``k``), flat indices, or ``None``
            (at most the first 400).
        n_cols: Tiles per row (default: about ``sqrt(n)``).
        normalize: Scale each field to ``[0, 1]`` by its own min and max.
        cmap: Colormap (default: ``RdBu_r`` for signed weights, ``hot_r`` otherwise).
        vmin: Lower colour limit.
        vmax: Upper colour limit.
        title: Axes title.
        ax: Axes to draw into; a new figure is made when ``None``.

    Returns:
        The figure.

    Raises:
        ValueError: If ``w`` is not 2-D or its rows do not match ``image_shape``.
    """
    a = as_float(w, "receptive_fields: w")
    if len(image_shape) != 2:
        raise ValueError(f"receptive_fields: image_shape must be (H, W), got {image_shape}")
    h, wd = int(image_shape[0]), int(image_shape[1])
    if a.ndim != 2 or a.shape[0] != h * wd or a.shape[1] == 0:
        raise ValueError(
            f"receptive_fields: expected weights [n_in, n_neurons] with n_in = {h}*{wd} = "
            f"{h * wd}, got shape {shape_str(a)}"
        )
    idx = select_neurons(neurons, a.shape[1], "receptive_fields", 400)
    fields = a[:, idx].T.reshape(idx.size, h, wd)
    if normalize:
        lo_f = fields.min(axis=(1, 2), keepdims=True)
        span = fields.max(axis=(1, 2), keepdims=True) - lo_f
        fields = (fields - lo_f) / np.where(span > 0, span, 1.0)
    lo, hi, diverging = color_limits(fields, vmin, vmax, None)
    mosaic = tile_images(fields, n_cols)
    fig, ax = figure_and_axes(ax, figsize=_mosaic_figsize(mosaic))
    im = ax.imshow(
        mosaic, cmap=_cmap_for(cmap, diverging), vmin=lo, vmax=hi, interpolation="nearest"
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title if title is not None else f"receptive fields ({idx.size} neurons)")
    fig.colorbar(im, ax=ax, label="normalised w" if normalize else "w", shrink=0.8)
    return fig


def conv_kernels(
    k: ArrayLike,
    *,
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot convolution kernels ``[C_out, C_in, kh, kw]`` as a grid of small images.

    With one input channel the ``C_out`` kernels are tiled into a square-ish grid;
    otherwise row ``o`` holds the ``C_in`` kernels of output channel ``o``.

    Args:
        k: Kernels ``[C_out, C_in, kh, kw]``.
        cmap: Colormap (default: ``RdBu_r`` for signed kernels, ``hot_r`` otherwise).
        vmin: Lower colour limit.
        vmax: Upper colour limit.
        title: Axes title.
        ax: Axes to draw into; a new figure is made when ``None``.

    Returns:
        The figure.

    Raises:
        ValueError: If ``k`` is not a non-empty 4-D array.
    """
    a = as_float(k, "conv_kernels: k")
    if a.ndim != 4 or a.size == 0:
        raise ValueError(
            f"conv_kernels: expected kernels [C_out, C_in, kh, kw], got shape {shape_str(a)}"
        )
    c_out, c_in, kh, kw = a.shape
    tiles = a.reshape(c_out * c_in, kh, kw)
    mosaic = tile_images(tiles, None if c_in == 1 else c_in)
    lo, hi, diverging = color_limits(a, vmin, vmax, None)
    fig, ax = figure_and_axes(ax, figsize=_mosaic_figsize(mosaic))
    im = ax.imshow(
        mosaic, cmap=_cmap_for(cmap, diverging), vmin=lo, vmax=hi, interpolation="nearest"
    )
    ax.set_xticks([])
    ax.set_yticks([])
    if c_in > 1:
        ax.set_xlabel(f"input channel (1..{c_in})")
        ax.set_ylabel(f"output channel (1..{c_out})")
    ax.set_title(title if title is not None else f"conv kernels {c_out}x{c_in}x{kh}x{kw}")
    fig.colorbar(im, ax=ax, label="w", shrink=0.8)
    return fig


def conv_features(
    features: Sequence[ArrayLike],
    *,
    titles: Sequence[str] | None = None,
    n_cols: int | None = None,
    cmap: str = "RdBu_r",
    title: str | None = None,
) -> Figure:
    """Plot the learned features of a stack of convolutional layers, one panel per layer.

    Each layer's features are images ``[maps, h, w]`` (e.g. kernels drawn back into pixel
    space, :meth:`spikerl.models.conv_stdp.ConvSTDPFeatures.reconstructions`). Every
    image is divided by its own largest absolute value, so it spans ``[-1, 1]`` and the
    colours are comparable between images of different scale (red: the feature wants
    light, blue: dark).

    Args:
        features: One ``[maps, h, w]`` array per layer.
        titles: Panel titles (default ``layer 1``, ``layer 2``, ...).
        n_cols: Tiles per row (default: about ``sqrt(maps)``).
        cmap: Colormap (diverging).
        title: Figure title.

    Returns:
        The figure.

    Raises:
        ValueError: No layers, a layer that is not a non-empty 3-D array, or a number of
            titles that differs from the number of layers.
    """
    layers = [as_float(f, f"conv_features: features[{i}]") for i, f in enumerate(features)]
    if not layers:
        raise ValueError("conv_features: expected at least one layer of features")
    for i, a in enumerate(layers):
        if a.ndim != 3 or a.size == 0:
            raise ValueError(
                f"conv_features: features[{i}] must be [maps, h, w], got shape {shape_str(a)}"
            )
    names = list(titles) if titles is not None else [f"layer {i + 1}" for i in range(len(layers))]
    if len(names) != len(layers):
        raise ValueError(f"conv_features: {len(names)} titles for {len(layers)} layers")
    mosaics = []
    for a in layers:
        peak = np.abs(a).max(axis=(1, 2), keepdims=True)
        mosaics.append(tile_images(a / np.where(peak > 0, peak, 1.0), n_cols))
    fig = Figure(figsize=(4.0 * len(layers) + 1.2, 4.4), layout="constrained")
    axes = fig.subplots(1, len(layers), squeeze=False)[0]
    im = None
    for ax, mosaic, name, a in zip(axes, mosaics, names, layers, strict=True):
        im = ax.imshow(mosaic, cmap=cmap, vmin=-1.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name}: {a.shape[0]} maps, {a.shape[1]}x{a.shape[2]} px")
    assert im is not None
    fig.colorbar(im, ax=list(axes), label="feature / max |feature|", shrink=0.8)
    if title is not None:
        fig.suptitle(title)
    return fig
