"""Spike plots: rasters, input spike trains with their rate image, population rates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from spikerl.plotting._common import (
    ArrayLike,
    as_float,
    figure_and_axes,
    root_figure,
    select_neurons,
    shape_str,
    time_major,
)


def _raster_into(
    ax: Axes,
    s: NDArray[np.float64],
    dt: float,
    color: str,
    marker_size: float | None,
    neuron_ids: NDArray[np.int64] | None = None,
) -> int:
    """Draw the raster of ``s [T, n]`` into ``ax``; return the number of spikes."""
    t_idx, n_idx = np.nonzero(s)
    n = s.shape[1]
    ms = marker_size if marker_size is not None else float(np.clip(240.0 / max(n, 1), 1.0, 6.0))
    ys = n_idx if neuron_ids is None else neuron_ids[n_idx]
    ax.plot(t_idx * dt, ys, linestyle="none", marker="|", markersize=ms, color=color)
    ax.set_xlim(-0.5 * dt, (s.shape[0] - 0.5) * dt)
    if neuron_ids is None:
        ax.set_ylim(-0.5, n - 0.5)
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    return int(t_idx.size)


def spike_raster(
    spikes: ArrayLike,
    *,
    batch_index: int = 0,
    dt: float = 1.0,
    neurons: Sequence[int] | None = None,
    title: str | None = None,
    color: str = "black",
    marker_size: float | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot a spike raster: one tick per spike, time on x, neuron index on y.

    Args:
        spikes: Spike train ``[T, B, *shape]`` (neurons are flattened in C order) or
            ``[T, n]``; any non-zero entry is a spike.
        batch_index: Which sample of the batch to show.
        dt: Simulation step in ms (tick at ``t * dt``).
        neurons: Flat indices of the neurons to show (default: all).
        title: Axes title (default: spike count and mean rate).
        color: Tick colour.
        marker_size: Tick length in points (default: scaled to the neuron count).
        ax: Axes to draw into; a new figure is made when ``None``.

    Returns:
        The figure (``ax``'s figure when ``ax`` is given).

    Raises:
        ValueError: If ``spikes`` is not time-first ``[T, B, *shape]`` / ``[T, n]``.
    """
    s, _ = time_major(spikes, "spike_raster: spikes", batch_index)
    ids: NDArray[np.int64] | None = None
    if neurons is not None:
        ids = select_neurons(neurons, s.shape[1], "spike_raster", s.shape[1])
        s = s[:, ids]
    fig, ax = figure_and_axes(ax)
    count = _raster_into(ax, s, dt, color, marker_size, ids)
    rate_hz = count / (s.shape[0] * s.shape[1] * dt) * 1000.0
    ax.set_title(title if title is not None else f"{count} spikes, mean {rate_hz:.1f} Hz")
    return fig


def _image_shape_for(
    sample_shape: tuple[int, ...], image_shape: tuple[int, int] | None
) -> tuple[tuple[int, int], int]:
    """Return ``((H, W), C)`` for the mean-rate image of one sample."""
    n = int(np.prod(sample_shape))
    if image_shape is not None:
        if len(image_shape) != 2:
            raise ValueError(f"input_spikes: image_shape must be (H, W), got {image_shape}")
        h, w = int(image_shape[0]), int(image_shape[1])
        if n % (h * w) != 0:
            raise ValueError(
                f"input_spikes: expected C*{h}*{w} inputs per sample (a multiple of "
                f"{h * w}) for image_shape ({h}, {w}), got sample shape {list(sample_shape)}"
            )
        return (h, w), n // (h * w)
    if len(sample_shape) >= 2:
        h, w = sample_shape[-2], sample_shape[-1]
        return (h, w), n // (h * w)
    side = round(float(np.sqrt(n)))
    if side * side == n:
        return (side, side), 1
    return (1, n), 1


def input_spikes(
    spikes: ArrayLike,
    *,
    image_shape: tuple[int, int] | None = None,
    batch_index: int = 0,
    dt: float = 1.0,
    title: str | None = None,
    cmap: str = "gray_r",
    ax: Axes | tuple[Axes, Axes] | None = None,
) -> Figure:
    """Plot an input spike train as a raster beside its mean-rate image.

    The rate of input ``i`` is ``r_i = (1 / (T dt)) * sum_t s_i[t]`` converted to Hz
    (``dt`` in ms), e.g. a Poisson-encoded MNIST digit over 250 steps shows the digit.

    Args:
        spikes: Input spikes ``[T, B, *shape]`` or ``[T, n]``, e.g. ``[250, B, 1, 28, 28]``
            or ``[250, B, 784]``.
        image_shape: ``(H, W)`` of the rate image; inferred from a 2-D or 3-D sample
            shape, else a square when ``n`` is a perfect square, else a ``1 x n`` strip.
            Channels (``n = C * H * W``) are averaged.
        batch_index: Which sample of the batch to show.
        dt: Simulation step in ms.
        title: Figure (or raster) title.
        cmap: Colormap of the rate image.
        ax: ``None`` (new two-panel figure), a pair ``(raster_ax, rate_ax)``, or one Axes
            (the raster only, since one Axes cannot hold both panels).

    Returns:
        The figure.

    Raises:
        ValueError: On a mis-shaped spike train or an ``image_shape`` that does not fit.
    """
    s, sample_shape = time_major(spikes, "input_spikes: spikes", batch_index)
    (h, w), channels = _image_shape_for(sample_shape, image_shape)
    rates = s.mean(axis=0) / dt * 1000.0
    rate_img = rates.reshape(channels, h, w).mean(axis=0)
    count = int(np.count_nonzero(s))
    label = f"{s.shape[1]} inputs, {count} spikes over {s.shape[0] * dt:g} ms"

    rate_ax: Axes | None
    if ax is None:
        fig = Figure(figsize=(9.0, 4.0), layout="constrained")
        raster_ax, rate_ax = fig.subplots(1, 2, width_ratios=[2.2, 1.0])
        fig.suptitle(title if title is not None else label)
    elif isinstance(ax, Axes):
        fig, raster_ax, rate_ax = root_figure(ax), ax, None
    else:
        if len(ax) != 2 or not all(isinstance(a, Axes) for a in ax):
            raise TypeError("input_spikes: ax must be an Axes, a pair of Axes, or None")
        raster_ax, rate_ax = ax
        fig = root_figure(raster_ax)
    _raster_into(raster_ax, s, dt, "black", None)
    raster_ax.set_ylabel("input")
    if ax is not None:
        raster_ax.set_title(title if title is not None else label)
    if rate_ax is not None:
        im = rate_ax.imshow(rate_img, cmap=cmap, vmin=0.0, interpolation="nearest")
        rate_ax.set_title(
            f"mean rate ({h}x{w})" + (f", mean of {channels} ch" if channels > 1 else "")
        )
        rate_ax.set_xticks([])
        rate_ax.set_yticks([])
        fig.colorbar(im, ax=rate_ax, label="rate (Hz)", shrink=0.85)
    return fig


def _population_rate(
    spikes: ArrayLike, name: str, batch_index: int | None, dt: float, steps: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return ``(times_ms, rate_hz)`` of a population with a sliding boxcar of ``steps``."""
    if batch_index is None:
        a = as_float(spikes, name)
        if a.ndim < 3:
            raise ValueError(
                f"{name}: batch_index=None averages over the batch, which needs "
                f"[T, B, *shape], got shape {shape_str(a)}"
            )
        s = a.reshape(a.shape[0], -1)  # mean over batch and neurons alike
        if s.shape[0] == 0 or s.shape[1] == 0:
            raise ValueError(f"{name}: nothing to plot, got shape {shape_str(a)}")
    else:
        s, _ = time_major(spikes, name, batch_index)
    n_steps = s.shape[0]
    if steps > n_steps:
        raise ValueError(
            f"{name}: window of {steps} steps is longer than the recording ({n_steps} steps)"
        )
    per_step = (s != 0).mean(axis=1)  # fraction of neurons spiking per step
    kernel = np.full(steps, 1.0 / steps)
    rate: NDArray[np.float64] = np.convolve(per_step, kernel, mode="valid") / dt * 1000.0
    times = (np.arange(rate.size, dtype=np.float64) + (steps - 1) / 2.0) * dt
    return times, rate


def firing_rates(
    spikes: ArrayLike | Mapping[str, ArrayLike],
    dt: float = 1.0,
    window: float = 10.0,
    *,
    batch_index: int | None = 0,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot the population firing rate over time, in Hz.

    ``r(t) = 1000 / (N * w * dt) * sum_{t' in window(t)} sum_i s_i[t']`` with ``w`` the
    window in steps (a centred sliding boxcar of ``window`` ms), ``N`` neurons and
    ``dt`` in ms.

    Args:
        spikes: A spike train ``[T, B, *shape]`` / ``[T, n]``, or a mapping
            ``{population name: spike train}`` (one curve each, sharing ``dt``).
        dt: Simulation step in ms.
        window: Width of the sliding window in ms (rounded to whole steps, at least 1).
        batch_index: Which sample to show; ``None`` averages over the batch as well.
        title: Axes title.
        ax: Axes to draw into; a new figure is made when ``None``.

    Returns:
        The figure.

    Raises:
        ValueError: On mis-shaped spikes, ``dt``/``window`` not > 0, or a window longer
            than the recording.
    """
    if not dt > 0 or not window > 0:
        raise ValueError(f"firing_rates: dt and window must be > 0, got dt={dt}, window={window}")
    steps = max(1, round(window / dt))
    series = dict(spikes) if isinstance(spikes, Mapping) else {"": spikes}
    if not series:
        raise ValueError("firing_rates: got an empty mapping of populations")
    curves = [
        (
            label,
            *_population_rate(
                x, f"firing_rates: spikes{f'[{label!r}]' if label else ''}", batch_index, dt, steps
            ),
        )
        for label, x in series.items()
    ]
    fig, ax = figure_and_axes(ax)
    for label, times, rate in curves:
        ax.plot(times, rate, label=label or None)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("population rate (Hz)")
    ax.set_ylim(bottom=0.0)
    ax.set_title(title if title is not None else f"population rate ({steps * dt:g} ms window)")
    if any(label for label, *_ in curves):
        ax.legend(loc="best")
    return fig
