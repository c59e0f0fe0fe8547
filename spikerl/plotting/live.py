"""Live plots that follow a running simulation, in a window or as numbered frame files."""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeAlias

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends import BackendFilter, backend_registry
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from spikerl.plotting._common import ArrayLike, to_numpy
from spikerl.plotting.curves import state_traces
from spikerl.plotting.export import atomic_write, save_figure
from spikerl.plotting.spikes import spike_raster

PanelFn: TypeAlias = Callable[..., Any]
"""A panel draws one array: called as ``fn(array, ax=ax)``, like every plot function of
:mod:`spikerl.plotting` (use :func:`functools.partial` to fix other arguments)."""

Source: TypeAlias = Callable[[], Mapping[str, ArrayLike]]
"""Reads the arrays to draw, e.g. from monitors: ``lambda: {"v": mon.get("v")}``."""


def is_headless() -> bool:
    """Say whether live windows are impossible here.

    True when the selected matplotlib backend is non-interactive (Agg, PDF, SVG, ...,
    or Jupyter's inline backend), or on Linux without ``DISPLAY``/``WAYLAND_DISPLAY``.
    Only when neither decides is pyplot imported to let matplotlib pick a backend.
    """
    non_interactive = set(backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE))
    backend = matplotlib.get_backend(auto_select=False)
    if backend is not None:
        name = backend.lower()
        return name in non_interactive or "inline" in name
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return True
    return matplotlib.get_backend().lower() in non_interactive


def _auto_panel(array: ArrayLike) -> PanelFn:
    """Spike raster for boolean or 0/1 data, state traces otherwise."""
    a = to_numpy(array, "LivePlot array")
    if a.dtype == np.bool_ or bool(((a == 0) | (a == 1)).all()):
        return spike_raster
    return state_traces


class LivePlot:
    """A figure that follows a simulation, redrawn at a chosen interval.

    Each redraw clears the figure and draws one panel (row) per named array. With a
    display the figure is an interactive pyplot window; on a headless machine (a
    non-interactive backend such as Agg, or no display) the same code writes numbered
    frames ``frame_000001.png, ...`` into ``frame_dir`` instead. Frames are also written
    with a display when ``frame_dir`` is given.

    Between redraws :meth:`update` only compares the step (and the clock, with
    ``every_seconds``) and returns; arrays are read only when a redraw is due. Use
    :meth:`due` to avoid even building the arrays.

    Example:
        >>> live = LivePlot(every_steps=100, frame_dir="runs/live")  # doctest: +SKIP
        >>> for t in range(1, 251):  # doctest: +SKIP
        ...     spikes, state = lif(x[t - 1], state)
        ...     rec_s.append(spikes); rec_v.append(state.v)
        ...     if live.due(t):
        ...         live.update(t, spikes=torch.stack(rec_s), v=torch.stack(rec_v))
        >>> live.close()  # doctest: +SKIP

    Args:
        panels: ``{name: panel function}``; a name without an entry gets a spike raster
            when its data are 0/1 (or bool) and state traces otherwise.
        every_steps: Redraw when ``step - last_redraw_step >= every_steps``.
        every_seconds: Redraw when at least this many seconds passed since the last
            redraw (or creation). With both intervals, either one triggers. With neither,
            ``every_steps=100``.
        source: Called on each redraw when :meth:`update` gets no arrays; returns
            ``{name: array}``, e.g. read from monitors.
        frame_dir: Folder for frame files (created). Headless without it: a new
            temporary folder, announced with a warning.
        headless: Force file mode (``True``) or a window (``False``); default: detect
            with :func:`is_headless`.
        figsize: Figure size in inches; default 8 wide, 2.6 per panel (fixed after the
            first redraw, so all frames have the same pixel size).
        dpi: Figure resolution.
        title: Figure title; the step is appended.
        constrained_layout: Use matplotlib's constrained layout (tidier margins, about
            twice the redraw time) instead of fixed margins.
    """

    def __init__(
        self,
        panels: Mapping[str, PanelFn] | None = None,
        *,
        every_steps: int | None = None,
        every_seconds: float | None = None,
        source: Source | None = None,
        frame_dir: str | os.PathLike[str] | None = None,
        headless: bool | None = None,
        figsize: tuple[float, float] | None = None,
        dpi: float = 100.0,
        title: str | None = None,
        constrained_layout: bool = False,
    ) -> None:
        if every_steps is None and every_seconds is None:
            every_steps = 100
        if every_steps is not None and (not isinstance(every_steps, int) or every_steps < 1):
            raise ValueError(f"LivePlot: every_steps must be an int >= 1, got {every_steps!r}")
        if every_seconds is not None and not every_seconds > 0:
            raise ValueError(f"LivePlot: every_seconds must be > 0, got {every_seconds!r}")
        self.panels: dict[str, PanelFn] = dict(panels or {})
        self.every_steps = every_steps
        self.every_seconds = every_seconds
        self.source = source
        self.headless = is_headless() if headless is None else headless
        self.title = title
        self.figsize = figsize
        self.dpi = dpi
        self.constrained_layout = constrained_layout
        if frame_dir is None and self.headless:
            frame_dir = tempfile.mkdtemp(prefix="spikerl-live-")
            warnings.warn(
                f"LivePlot: no display, writing frames to {frame_dir} (pass frame_dir=...)",
                stacklevel=2,
            )
        self.frame_dir: Path | None = Path(frame_dir) if frame_dir is not None else None
        self.frames: list[Path] = []
        self.n_redraws = 0
        self.redraw_seconds = 0.0
        """Total wall time spent in redraws (drawing plus writing frames), in seconds."""
        self._last_step = 0
        self._last_time = time.perf_counter()
        self._fig: Figure | None = None
        self._closed = False

    @property
    def figure(self) -> Figure | None:
        """The live figure (``None`` before the first redraw)."""
        return self._fig

    def due(self, step: int) -> bool:
        """Say whether :meth:`update` at ``step`` would redraw."""
        if self._closed:
            return False
        if self.every_steps is not None and step - self._last_step >= self.every_steps:
            return True
        return (
            self.every_seconds is not None
            and time.perf_counter() - self._last_time >= self.every_seconds
        )

    def update(self, step: int, force: bool = False, **arrays: ArrayLike) -> bool:
        """Redraw if due (or ``force``), from ``arrays`` or else from ``source``.

        Args:
            step: The current simulation step.
            force: Redraw now, e.g. at the last step.
            **arrays: Named recordings, time-first ``[T, B, *shape]`` or ``[T, n]``.

        Returns:
            True when the figure was redrawn.

        Raises:
            ValueError: When a redraw is due but there is nothing to draw.
        """
        if not (force or self.due(step)) or self._closed:
            return False
        data: Mapping[str, ArrayLike] | None = arrays or (
            self.source() if self.source is not None else None
        )
        if not data:
            raise ValueError("LivePlot.update: nothing to draw; pass arrays or a source")
        start = time.perf_counter()
        self._redraw(step, data)
        end = time.perf_counter()
        self.redraw_seconds += end - start
        self.n_redraws += 1
        self._last_step = step
        self._last_time = end
        return True

    def _make_figure(self, n_panels: int) -> Figure:
        size = self.figsize or (8.0, 0.6 + 2.6 * n_panels)
        layout: Literal["constrained"] | None = "constrained" if self.constrained_layout else None
        if self.headless:
            fig = Figure(figsize=size, dpi=self.dpi, layout=layout)
            FigureCanvasAgg(fig)
            return fig
        import matplotlib.pyplot as plt  # a window needs pyplot's event loop

        fig = plt.figure(figsize=size, dpi=self.dpi, layout=layout)
        plt.show(block=False)
        return fig

    def _redraw(self, step: int, data: Mapping[str, ArrayLike]) -> None:
        if self._fig is None:
            self._fig = self._make_figure(len(data))
        fig = self._fig
        fig.clear()
        axes: list[Axes] = list(fig.subplots(len(data), 1, squeeze=False)[:, 0])
        if not self.constrained_layout:
            height = fig.get_figheight()
            fig.subplots_adjust(
                left=0.09,
                right=0.97,
                bottom=0.45 / height,
                top=1.0 - 0.55 / height,
                hspace=0.9 / max(height / len(data) - 0.9, 0.5),
            )
        for ax, (name, array) in zip(axes, data.items()):
            panel = self.panels.get(name) or _auto_panel(array)
            panel(array, ax=ax)
            sub = ax.get_title()
            ax.set_title(f"{name}: {sub}" if sub else name, fontsize="medium")
        fig.suptitle(f"{self.title} — step {step}" if self.title else f"step {step}")
        canvas = fig.canvas
        if isinstance(canvas, FigureCanvasAgg):
            canvas.draw()  # one synchronous render serves the window and the frame
        else:
            canvas.draw_idle()
        if not self.headless:
            canvas.flush_events()
        if self.frame_dir is not None:
            path = self.frame_dir / f"frame_{len(self.frames) + 1:06d}.png"
            if isinstance(canvas, FigureCanvasAgg):
                from PIL import Image  # a matplotlib dependency

                image = Image.fromarray(np.asarray(canvas.buffer_rgba()))
                self.frames.append(
                    atomic_write(path, lambda fh: image.save(fh, format="png", compress_level=1))
                )
            else:
                self.frames.append(save_figure(fig, path, pil_kwargs={"compress_level": 1}))

    def close(self) -> None:
        """Close the window (if any); later updates do nothing."""
        if self._fig is not None and not self.headless:
            import matplotlib.pyplot as plt

            plt.close(self._fig)
        self._closed = True

    def __enter__(self) -> LivePlot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
