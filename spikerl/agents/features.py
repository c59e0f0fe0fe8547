"""Observation feature maps for the R-STDP agent: observations -> firing probabilities.

A feature map turns a batch of observations ``[B, *obs_shape]`` into values in ``[0, 1]``
(``[B, F]``), read by the input population as per-step spike probabilities (population
coding). The actor and the critic both read these features.

The generic encoders live in :mod:`spikerl.encoders` and are re-exported here under their
old names: :class:`~spikerl.encoders.GaussianFields` (Gaussian receptive fields with
conjunctive pairs, :mod:`spikerl.encoders.fields`) and :class:`~spikerl.encoders.PixelGrid`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from spikerl.encoders.fields import GaussianFields, GaussianFieldsConfig, resolve_bounds
from spikerl.encoders.pixels import PixelGrid, PixelGridConfig

__all__ = [
    "AutoFeaturesConfig",
    "BreakoutFields",
    "BreakoutFieldsConfig",
    "FeatureMap",
    "GaussianFields",
    "GaussianFieldsConfig",
    "OneHot",
    "OneHotConfig",
    "PixelGrid",
    "PixelGridConfig",
    "resolve_bounds",
]


class FeatureMap(Protocol):
    """What the agent reads: ``__call__(obs [B, *obs_shape]) -> features [B, F]`` in ``[0, 1]``.

    A protocol: the generic encoders of :mod:`spikerl.encoders` (e.g.
    :class:`~spikerl.encoders.PixelGrid`) satisfy it without depending on the agent.
    """

    n_features: int

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Map observations to features."""
        raise NotImplementedError


@dataclass(frozen=True)
class AutoFeaturesConfig:
    """Choose the encoder from the observation space (see ``make_features``)."""


@dataclass(frozen=True)
class OneHotConfig:
    """``copies`` features per state of a ``Discrete`` observation space.

    A lone active input (weight about 0.5 mV) cannot bring an action neuron to threshold
    within a window, so every greedy decision would be a tie of silent populations; with
    ``copies`` input neurons per state (and per bias) ``2 * copies`` inputs are active, a
    drive like the ~20 active Gaussian fields of CartPole.

    Attributes:
        bias: Append an always-on feature (``copies`` of it).
        copies: Input neurons per state, all active when the env is in that state (>= 1).
    """

    bias: bool = True
    copies: int = 8

    def __post_init__(self) -> None:
        if not isinstance(self.copies, int) or isinstance(self.copies, bool) or self.copies < 1:
            raise ValueError(f"OneHotConfig.copies must be an int >= 1, got {self.copies!r}")


@dataclass
class OneHot(FeatureMap):
    """``phi_{k c + j}(s) = [s == start + k]`` for ``Discrete(n, start)`` observations
    (``j < copies``: each state's features repeated ``copies`` times), plus ``copies`` bias
    features."""

    config: OneHotConfig = field(default_factory=OneHotConfig)
    space: Any = None

    def __post_init__(self) -> None:
        from gymnasium import spaces

        if not isinstance(self.space, spaces.Discrete):
            raise ValueError(f"OneHot features need a Discrete observation space, got {self.space}")
        self.n = int(self.space.n)
        self.start = int(self.space.start)
        self.n_features = (self.n + int(self.config.bias)) * self.config.copies

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Map ``[B]`` states to ``[B, (n (+1)) * copies]`` one-hot rows."""
        s = np.asarray(obs).reshape(-1).astype(np.int64) - self.start
        if ((s < 0) | (s >= self.n)).any():
            raise ValueError(f"OneHot: states outside [{self.start}, {self.start + self.n})")
        out = np.zeros((s.shape[0], self.n + int(self.config.bias)))
        out[np.arange(s.shape[0]), s] = 1.0
        if self.config.bias:
            out[:, -1] = 1.0
        return np.repeat(out, self.config.copies, axis=1)


@dataclass(frozen=True)
class BreakoutFieldsConfig:
    """Baseline encoder ``kind: breakout_objects``: Breakout's ball/paddle features for
    full-resolution grey Breakout frames (210x160).

    Privileged information (it reads the ball and the paddle from Breakout's known pixel
    rows and columns): a labelled baseline, never a preset's default. ``kind: breakout``
    is its deprecated name, still read from saved configs and models.

    Attributes:
        n_bins: Gaussian fields over the horizontal ball-minus-paddle offset.
        n_ball_y: Fields over the ball's height.
        n_dir: 3: ball moving left / not / right (1: ignore direction).
        width: Field standard deviation as a fraction of the field spacing.
        offset_range: Offsets beyond +-this fraction of the play width saturate.
        paddle_rows: Rows ``[start, stop)`` of the paddle.
        field_rows: Rows ``[start, stop)`` searched for the ball (below the bricks).
        cols: Columns ``[start, stop)`` inside the side walls.
    """

    n_bins: int = 11
    n_ball_y: int = 4
    n_dir: int = 3
    width: float = 0.6
    offset_range: float = 0.5
    paddle_rows: tuple[int, int] = (189, 193)
    field_rows: tuple[int, int] = (93, 189)
    cols: tuple[int, int] = (8, 152)


@functools.cache
def _compile_locate() -> Any:
    import numba

    @numba.njit(cache=True, nogil=True)  # type: ignore[misc]
    def locate(frames, prow, f0, f1, c0, c1, bx, by, px, vis):  # type: ignore[no-untyped-def]
        w = float(c1 - c0)
        for i in range(frames.shape[0]):
            n = 0
            acc = 0
            for j in range(c1 - c0):
                if frames[i, prow, c0 + j] != 0:
                    n += 1
                    acc += j
            if n:
                px[i] = acc / (n * w)
            n = 0
            acc_r = 0
            acc_c = 0
            r = 0
            for row in range(f0, f1, 2):
                col = 0
                for x in range(c0, c1, 2):
                    if frames[i, row, x] != 0:
                        n += 1
                        acc_r += r
                        acc_c += col
                    col += 1
                r += 1
            if n:
                vis[i] = True
                bx[i] = 2.0 * acc_c / (n * w)
                by[i] = 2.0 * acc_r / (n * (f1 - f0))

    return locate


def _fields_kernel() -> Any:
    """The compiled feature map of :class:`BreakoutFields`: locate ball and paddle in the
    newest (and previous) frame and build the fields, in one call (``None`` without numba
    or with kernels disabled)."""
    from spikerl.core import kernels

    return _compile_features() if kernels.enabled() else None


@functools.cache
def _compile_features() -> Any:
    import numba

    locate = _compile_locate()
    build = _compile_fields()

    @numba.njit(cache=True, nogil=True)  # type: ignore[misc]
    def features(frames, prow, f0, f1, c0, c1, c_off, s_off, c_y, s_y, off_range, dirs, out):  # type: ignore[no-untyped-def]
        b = frames.shape[0]
        bx, by, px = np.full(b, 0.5), np.zeros(b), np.full(b, 0.5)
        vis = np.zeros(b, dtype=np.bool_)
        locate(frames[:, frames.shape[1] - 1], prow, f0, f1, c0, c1, bx, by, px, vis)
        obx, oby, opx = np.full(b, 0.5), np.zeros(b), np.full(b, 0.5)
        ovis = np.zeros(b, dtype=np.bool_)
        if dirs:
            locate(frames[:, 0], prow, f0, f1, c0, c1, obx, oby, opx, ovis)
        build(bx, by, px, vis, obx, ovis, c_off, s_off, c_y, s_y, off_range, dirs, out)

    return features


@functools.cache
def _compile_fields() -> Any:
    import math

    import numba

    @numba.njit(cache=True, nogil=True)  # type: ignore[misc]
    def build(bx, by, px, vis, obx, ovis, c_off, s_off, c_y, s_y, off_range, dirs, out):  # type: ignore[no-untyped-def]
        K = c_off.shape[0]
        M = c_y.shape[0]
        D = 3 if dirs else 1
        for i in range(bx.shape[0]):
            off = min(max((bx[i] - px[i]) / (2 * off_range) + 0.5, 0.0), 1.0)
            d_on = np.ones(D)
            if dirs:
                vx = bx[i] - obx[i] if vis[i] and ovis[i] else 0.0
                d_on[0] = 1.0 if vx < -1e-4 else 0.0
                d_on[1] = 1.0 if abs(vx) <= 1e-4 else 0.0
                d_on[2] = 1.0 if vx > 1e-4 else 0.0
            seen = 1.0 if vis[i] else 0.0
            j = 0
            for k in range(K):
                zk = (off - c_off[k]) / s_off
                fk = math.exp(-0.5 * zk * zk)
                for m in range(M):
                    zm = (by[i] - c_y[m]) / s_y
                    f = fk * math.exp(-0.5 * zm * zm)
                    for d in range(D):
                        out[i, j] = f * d_on[d] * seen
                        j += 1
            out[i, j] = 1.0 - seen
            out[i, j + 1] = 1.0

    return build


@dataclass
class BreakoutFields(FeatureMap):
    """Baseline (game-specific) features relating ball and paddle, read from the last two
    grey Breakout frames: ``kind: breakout_objects``, never a default (see
    :class:`~spikerl.encoders.PixelGrid` for the generic encoder).

    Input: observations ``[B, 2, H, W]`` (two stacked grey frames, newest last; raw
    210x160 ALE frames). The paddle is the lit pixel mass in ``paddle_rows``; the ball is
    the lit mass in ``field_rows``. Features: Gaussian fields of the offset
    ``(ball_x - paddle_x)``, conjoined with fields of the ball's height and its
    horizontal direction (from the previous frame), plus "no ball" and bias units.
    """

    config: BreakoutFieldsConfig = field(default_factory=BreakoutFieldsConfig)
    #: Reads a game's pixel layout (privileged information: baselines only).
    game_specific: ClassVar[bool] = True

    def __post_init__(self) -> None:
        c = self.config
        n_dir = 3 if c.n_dir == 3 else 1
        self.n_features = c.n_bins * c.n_ball_y * n_dir + 2
        self._c_off = np.linspace(0.0, 1.0, c.n_bins)
        self._s_off = c.width / max(c.n_bins - 1, 1)
        self._c_y = np.linspace(0.0, 1.0, c.n_ball_y)
        self._s_y = c.width / max(c.n_ball_y - 1, 1)

    def _locate_numpy(
        self, frames: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Ball x, ball y, paddle x (in [0, 1]) and a ball-visible flag, ``[B]`` each: every
        second row and column (the ball is 2x4 pixels) scanned with ``flatnonzero``. The
        reference of the compiled locator inside :meth:`__call__`."""
        c = self.config
        c0, c1 = c.cols
        w = float(c1 - c0)
        f0, f1 = c.field_rows
        b = frames.shape[0]
        bx = np.full(b, 0.5)
        by = np.zeros(b)
        px = np.full(b, 0.5)
        vis = np.zeros(b, dtype=bool)
        wc = (c1 - c0 + 1) // 2
        for i in range(b):
            prow = frames[i, c.paddle_rows[0] + 1, c0:c1]
            pi = np.flatnonzero(prow)
            if pi.size:
                px[i] = pi.sum() / (pi.size * w)
            fi = np.flatnonzero(frames[i, f0:f1:2, c0:c1:2])
            if fi.size:
                vis[i] = True
                r, col = np.divmod(fi, wc)
                bx[i] = 2.0 * col.sum() / (fi.size * w)
                by[i] = 2.0 * r.sum() / (fi.size * (f1 - f0))
        return bx, by, px, vis

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Map ``[B, 2, H, W]`` frames to ``[B, F]`` ball/paddle features."""
        c = self.config
        x = np.asarray(obs)
        if x.ndim == 3:
            x = x[:, None]
        rows = max(c.paddle_rows[1], c.field_rows[1])
        if x.ndim != 4 or x.shape[0] == 0 or x.shape[-2] < rows or x.shape[-1] < c.cols[1]:
            raise ValueError(
                f"BreakoutFields expects grey ALE frames [B, 2, H, W] or [B, H, W] with at least "
                f"{rows} rows and {c.cols[1]} columns (raw 210x160, not resized or RGB); got "
                f"shape {list(x.shape)}. Make the env with the agent's recipe "
                f"(spikerl.agents.envs.make_agent_vec_env('Breakout'))"
            )
        kernel = _fields_kernel()
        if kernel is not None:
            out = np.empty((x.shape[0], self.n_features))
            kernel(np.ascontiguousarray(x), c.paddle_rows[0] + 1, *c.field_rows, *c.cols,
                   self._c_off, self._s_off, self._c_y, self._s_y, c.offset_range,
                   c.n_dir == 3, out)  # fmt: skip
            return out
        return self.features_numpy(x)

    def features_numpy(self, x: np.ndarray) -> np.ndarray:
        """:meth:`__call__` in numpy (the reference of the compiled path), ``x [B, 2, H, W]``."""
        c = self.config
        bx, by, px, vis = self._locate_numpy(x[:, -1])
        b = len(bx)
        off = np.clip((bx - px) / (2 * c.offset_range) + 0.5, 0.0, 1.0)
        f_off = np.exp(-0.5 * ((off[:, None] - self._c_off) / self._s_off) ** 2)
        f_y = np.exp(-0.5 * ((by[:, None] - self._c_y) / self._s_y) ** 2)
        conj = f_off[:, :, None] * f_y[:, None, :]
        if c.n_dir == 3:
            obx, _, _, ovis = self._locate_numpy(x[:, 0])
            vx = np.where(vis & ovis, bx - obx, 0.0)
            dirs = np.stack([vx < -1e-4, np.abs(vx) <= 1e-4, vx > 1e-4], axis=1)
            conj = conj[:, :, :, None] * dirs[:, None, None, :]
        conj = conj.reshape(b, -1) * vis[:, None]
        return np.concatenate([conj, (~vis)[:, None].astype(np.float64), np.ones((b, 1))], axis=1)
