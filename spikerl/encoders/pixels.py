"""Generic pixel features: foreground occupancy and ON/OFF motion of frames on a coarse grid.

The same encoder serves every Atari game (and any grey-frame environment): it knows only
the frame's shape and value range (the observation space's ``Box`` bounds), never a game's
rows, columns or colours. Its output is one value in ``{0, 1}`` per feature, read by the
R-STDP agent's input population as a per-step spike probability.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["PixelGrid", "PixelGridConfig"]


@dataclass(frozen=True)
class PixelGridConfig:
    """Settings of :class:`PixelGrid`.

    Attributes:
        rows: Grid rows (the frame's height is split into this many bands).
        cols: Grid columns (the width is split into this many bands).
        threshold: A pixel is foreground where it differs from the frame's background
            value (its most common value) by more than this fraction of the value range.
        motion: Add ON (newly foreground) and OFF (no longer foreground) channels from the
            last two stacked frames (needs a stack of at least two frames).
        bias: Append one always-on feature.
    """

    rows: int = 7
    cols: int = 20
    threshold: float = 0.04
    motion: bool = True
    bias: bool = True


@dataclass
class PixelGrid:
    """Occupancy and motion of a grey frame (or a stack of frames) on a ``rows x cols`` grid.

    Knows only the frame's shape and value range ``[low, high]`` (the ``Box`` bounds), never
    a game. With ``m(x)`` the most common value of frame ``x`` (its background) and

        f(x) = |x - m(x)| > threshold * (high - low)        (per pixel, boolean)

    the foreground, and ``x_last``, ``x_prev`` the newest and the previous stacked frame,
    each cell ``(r, c)`` of the grid (rows split evenly into ``rows`` bands, columns into
    ``cols``) gives

        occ[r, c] = max over the cell's pixels of f(x_last)
        on[r, c]  = max over the cell of f(x_last) AND NOT f(x_prev)
        off[r, c] = max over the cell of f(x_prev) AND NOT f(x_last)

    Features, in this order: ``occ`` (and ``on``, ``off`` with ``motion`` and a stack of two
    or more frames) flattened row-major, then a bias of 1. All values are 0 or 1.

    Args:
        config: Grid size, threshold, channels.
        space: The observation space: a ``Box`` of grey frames ``[H, W]`` or stacks
            ``[k, H, W]`` (newest frame last).

    Raises:
        ValueError: if ``space`` is not such a ``Box`` or the grid does not fit the frame.
    """

    config: PixelGridConfig = field(default_factory=PixelGridConfig)
    space: Any = None
    n_features: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        from gymnasium import spaces

        c = self.config
        if not isinstance(self.space, spaces.Box) or len(self.space.shape) not in (2, 3):
            raise ValueError(
                f"PixelGrid needs grey frames [H, W] or stacks [k, H, W], got {self.space}"
            )
        shape = self.space.shape
        self.stack = int(shape[0]) if len(shape) == 3 else 1
        self.h, self.w = int(shape[-2]), int(shape[-1])
        if not (1 <= c.rows <= self.h and 1 <= c.cols <= self.w):
            raise ValueError(f"PixelGrid: grid {c.rows}x{c.cols} does not fit frames {shape}")
        lo = float(np.min(self.space.low))
        hi = float(np.max(self.space.high))
        self.cut = c.threshold * (hi - lo)
        self.use_motion = c.motion and self.stack >= 2
        self._r0 = np.linspace(0, self.h, c.rows + 1).astype(np.int64)[:-1]
        self._c0 = np.linspace(0, self.w, c.cols + 1).astype(np.int64)[:-1]
        cells = c.rows * c.cols
        self.n_features = cells * (3 if self.use_motion else 1) + int(c.bias)
        # pixel row / column -> grid cell row / column (the compiled path's lookup tables)
        self._row_cell = np.searchsorted(self._r0, np.arange(self.h), side="right") - 1
        self._col_cell = np.searchsorted(self._c0, np.arange(self.w), side="right") - 1

    def foreground(self, frames: np.ndarray) -> np.ndarray:
        """Boolean foreground ``f(x)`` of ``[B, H, W]`` frames (distance from each frame's
        most common value above ``threshold * (high - low)``)."""
        b = frames.shape[0]
        flat = frames.reshape(b, -1)
        mode = np.empty(b, dtype=np.float64)
        for i, row in enumerate(flat):
            if flat.dtype == np.uint8:
                mode[i] = np.bincount(row, minlength=256).argmax()
            else:
                vals, cnt = np.unique(row, return_counts=True)
                mode[i] = vals[cnt.argmax()]
        diff = np.abs(flat.astype(np.float64) - mode[:, None])
        return (diff > self.cut).reshape(frames.shape)

    def pool(self, mask: np.ndarray) -> np.ndarray:
        """Max over each grid cell: boolean ``[B, H, W]`` -> ``[B, rows * cols]`` in {0, 1}."""
        m = mask.astype(np.uint8)
        m = np.maximum.reduceat(m, self._r0, axis=1)
        m = np.maximum.reduceat(m, self._c0, axis=2)
        return m.reshape(m.shape[0], -1).astype(np.float64)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Map ``[B, (k,) H, W]`` frames to ``[B, n_features]`` features.

        Raises:
            ValueError: if the frames' shape is not the space's.
        """
        x = np.asarray(obs)
        want = (self.stack, self.h, self.w) if self.stack > 1 else (self.h, self.w)
        if x.shape[1:] != want:
            raise ValueError(f"PixelGrid: expected frames [B, {list(want)}], got {list(x.shape)}")
        kernel = _kernel() if x.dtype == np.uint8 else None
        if kernel is None:
            return self.features_numpy(x)
        frames = x.reshape(x.shape[0], -1, self.h, self.w)
        out = np.empty((x.shape[0], self.n_features))
        c = self.config
        kernel(np.ascontiguousarray(frames), self.cut, self._row_cell, self._col_cell,
               c.rows, c.cols, self.use_motion, c.bias, out)  # fmt: skip
        return out

    def features_numpy(self, x: np.ndarray) -> np.ndarray:
        """:meth:`__call__` in NumPy (the reference of the compiled path for uint8 frames)."""
        last = self.foreground(x[:, -1] if self.stack > 1 else x)
        parts = [self.pool(last)]
        if self.use_motion:
            prev = self.foreground(x[:, -2])
            parts += [self.pool(last & ~prev), self.pool(prev & ~last)]
        if self.config.bias:
            parts.append(np.ones((x.shape[0], 1)))
        return np.concatenate(parts, axis=1)


def _kernel() -> Any:
    """The compiled feature map for uint8 frames (``None`` without numba or with kernels
    disabled by ``SPIKERL_NO_KERNELS=1``)."""
    from spikerl.core import kernels

    return _compile() if kernels.enabled() else None


@functools.cache
def _compile() -> Any:
    import numba

    @numba.njit(cache=True, nogil=True)  # type: ignore[misc]
    def mode(frame):  # type: ignore[no-untyped-def]
        hist = np.zeros(256, dtype=np.int64)
        for r in range(frame.shape[0]):
            for c in range(frame.shape[1]):
                hist[frame[r, c]] += 1
        m = 0
        for v in range(256):  # the first most common value, as bincount().argmax()
            if hist[v] > hist[m]:
                m = v
        return float(m)

    @numba.njit(cache=True, nogil=True)  # type: ignore[misc]
    def features(frames, cut, row_cell, col_cell, rows, cols, motion, bias, out):  # type: ignore[no-untyped-def]
        b, k, h, w = frames.shape
        cells = rows * cols
        out[:] = 0.0
        for i in range(b):
            x_last = frames[i, k - 1]
            m_last = mode(x_last)
            x_prev = frames[i, k - 2] if motion else x_last
            m_prev = mode(x_prev) if motion else m_last
            for r in range(h):
                base = row_cell[r] * cols
                for c in range(w):
                    j = base + col_cell[c]
                    a = abs(float(x_last[r, c]) - m_last) > cut
                    if a:
                        out[i, j] = 1.0
                    if motion:
                        p = abs(float(x_prev[r, c]) - m_prev) > cut
                        if a and not p:
                            out[i, cells + j] = 1.0
                        elif p and not a:
                            out[i, 2 * cells + j] = 1.0
            if bias:
                out[i, out.shape[1] - 1] = 1.0

    return features
