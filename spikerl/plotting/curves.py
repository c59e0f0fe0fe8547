"""Curve plots: state variables over time, learning curves, STDP windows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

from spikerl.plotting._common import (
    ArrayLike,
    as_1d,
    as_float,
    figure_and_axes,
    select_neurons,
    shape_str,
    time_major,
)


def state_traces(
    values: ArrayLike,
    neurons: int | Sequence[int] | None = None,
    threshold: float | ArrayLike | None = None,
    *,
    batch_index: int = 0,
    dt: float = 1.0,
    ylabel: str = "v (mV)",
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot recorded state variables (voltages, thresholds, traces) of a few neurons.

    Args:
        values: Recording ``[T, B, *shape]`` or ``[T, n]`` (neurons flattened in C order).
        neurons: A count ``k`` (the first ``k`` neurons), flat indices, or ``None`` (the
            first 10 at most).
        threshold: ``None``; a number (a dashed horizontal line, e.g. ``-52`` mV); or a
            recording of the same shape as ``values`` (adaptive thresholds: a dashed curve
            per neuron, same colour as its trace).
        batch_index: Which sample of the batch to show.
        dt: Simulation step in ms.
        ylabel: Label of the y axis (the variable and its unit).
        title: Axes title.
        ax: Axes to draw into; a new figure is made when ``None``.

    Returns:
        The figure.

    Raises:
        ValueError: On a mis-shaped recording, neuron indices out of range, or a threshold
            array whose shape differs from ``values``.
    """
    v, _ = time_major(values, "state_traces: values", batch_index)
    idx = select_neurons(neurons, v.shape[1], "state_traces", 10)
    thr: NDArray[np.float64] | None = None
    thr_level: float | None = None
    if threshold is not None:
        thr_full = as_float(threshold, "state_traces: threshold")
        if thr_full.ndim == 0:
            thr_level = float(thr_full)
        else:
            vals = as_float(values, "state_traces: values")
            if thr_full.shape != vals.shape:
                raise ValueError(
                    "state_traces: threshold must be a number or an array of the same shape "
                    f"as values; expected {shape_str(vals)}, got {shape_str(thr_full)}"
                )
            thr, _ = time_major(thr_full, "state_traces: threshold", batch_index)
    fig, ax = figure_and_axes(ax)
    t = np.arange(v.shape[0]) * dt
    for i in idx:
        (line,) = ax.plot(t, v[:, i], linewidth=1.2, label=f"neuron {int(i)}")
        if thr is not None:
            ax.plot(t, thr[:, i], linestyle="--", linewidth=0.9, color=line.get_color())
    if thr_level is not None:
        ax.axhline(thr_level, linestyle="--", color="gray", linewidth=1.0, label="threshold")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(ylabel)
    ax.set_xlim(t[0], t[-1] if t.size > 1 else t[0] + dt)
    if title is not None:
        ax.set_title(title)
    if idx.size <= 10:
        ax.legend(loc="best", fontsize="small")
    return fig


def moving_average(values: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """Trailing mean over the last ``window`` values (fewer at the start).

    ``m[i] = mean(values[max(0, i - window + 1) : i + 1])``.
    """
    c = np.cumsum(np.concatenate([[0.0], values]))
    i = np.arange(1, values.size + 1)
    lo = np.maximum(0, i - window)
    return (c[i] - c[lo]) / (i - lo)


def learning_curve(
    values: ArrayLike,
    steps: ArrayLike | None = None,
    window: int = 10,
    label: str | None = None,
    *,
    xlabel: str = "episode",
    ylabel: str = "return",
    show_raw: bool = True,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot a learning curve (returns, accuracy, loss) with its moving average.

    Call it again with the same ``ax`` and another ``label`` to compare runs.

    Args:
        values: One number per episode or evaluation, ``[N]``.
        steps: x positions ``[N]`` (e.g. env steps); default ``0 .. N-1``.
        window: Moving-average window in points (trailing mean, see :func:`moving_average`).
        label: Legend label of the curve.
        xlabel: x-axis label.
        ylabel: y-axis label.
        show_raw: Also draw the raw values, faint.
        title: Axes title.
        ax: Axes to draw into; a new figure is made when ``None``.

    Returns:
        The figure.

    Raises:
        ValueError: If ``values`` is not 1-D, ``steps`` differs in length, or
            ``window < 1``.
    """
    y = as_1d(values, "learning_curve: values")
    if steps is None:
        x = np.arange(y.size, dtype=np.float64)
    else:
        x = as_1d(steps, "learning_curve: steps")
        if x.shape != y.shape:
            raise ValueError(
                f"learning_curve: steps must match values; expected shape [{y.size}], "
                f"got {shape_str(x)}"
            )
    if window < 1:
        raise ValueError(f"learning_curve: window must be >= 1, got {window}")
    fig, ax = figure_and_axes(ax)
    (line,) = ax.plot(
        x,
        moving_average(y, window),
        linewidth=1.8,
        label=(label or ylabel) + (f" (mean of {window})" if window > 1 else ""),
    )
    if show_raw and window > 1:
        ax.plot(x, y, color=line.get_color(), alpha=0.3, linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    ax.grid(True, alpha=0.3)
    return fig


def stdp_window(
    offsets_ms: ArrayLike,
    dw: ArrayLike,
    *,
    label: str | None = None,
    title: str | None = "STDP window",
    ax: Axes | None = None,
) -> Figure:
    """Plot an STDP window: weight change against spike-timing offset.

    The offset is ``dt = t_post - t_pre`` in ms: positive offsets (pre before post) are
    potentiation in classic pair-based STDP, ``dw = A+ exp(-dt / tau+)``, negative ones
    depression, ``dw = -A- exp(dt / tau-)``.

    Args:
        offsets_ms: Offsets ``t_post - t_pre`` in ms, ``[N]``.
        dw: Weight change for each offset, ``[N]`` (measured or analytic).
        label: Legend label.
        title: Axes title.
        ax: Axes to draw into; a new figure is made when ``None``.

    Returns:
        The figure.

    Raises:
        ValueError: If the two arrays are not 1-D of the same length.
    """
    x = as_1d(offsets_ms, "stdp_window: offsets_ms")
    y = as_1d(dw, "stdp_window: dw")
    if x.shape != y.shape:
        raise ValueError(
            f"stdp_window: dw must match offsets_ms; expected shape [{x.size}], got {shape_str(y)}"
        )
    order = np.argsort(x, kind="stable")
    fig, ax = figure_and_axes(ax)
    ax.axhline(0.0, color="gray", linewidth=0.8)
    ax.axvline(0.0, color="gray", linewidth=0.8)
    ax.plot(x[order], y[order], marker="o", markersize=3, linewidth=1.2, label=label)
    ax.set_xlabel(r"$\Delta t = t_\mathrm{post} - t_\mathrm{pre}$ (ms)")
    ax.set_ylabel(r"$\Delta w$")
    if title is not None:
        ax.set_title(title)
    if label is not None:
        ax.legend(loc="best")
    return fig
