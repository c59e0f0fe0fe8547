"""Atari frame preprocessing without OpenCV (same steps as gymnasium's ``AtariPreprocessing``).

gymnasium's ``AtariPreprocessing`` needs ``opencv-python`` for one call (``cv2.resize`` with
``INTER_AREA``). This wrapper follows its step/reset logic line for line and resizes with
the exact area-averaging map written as two small matrices, so no OpenCV is needed.
"""

from __future__ import annotations

from functools import cache
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.spaces import Box


@cache
def area_matrix(src: int, dst: int) -> np.ndarray:
    """``[dst, src]`` weights of area-averaging resampling (OpenCV's ``INTER_AREA``).

    Output pixel i averages the source interval ``[i * s, (i + 1) * s)``, ``s = src / dst``,
    each source pixel j weighted by its overlap with that interval divided by ``s``.
    """
    scale = src / dst
    w = np.zeros((dst, src), dtype=np.float64)
    for i in range(dst):
        a, b = i * scale, (i + 1) * scale
        for j in range(int(np.floor(a)), min(src, int(np.ceil(b)))):
            w[i, j] = max(0.0, min(b, j + 1) - max(a, j)) / scale
    w.setflags(write=False)
    return w


def area_resize(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a uint8 frame ``[H, W]`` or ``[H, W, C]`` by area averaging, rounding to uint8."""
    wy = area_matrix(frame.shape[0], height)
    wx = area_matrix(frame.shape[1], width)
    f = frame.astype(np.float64)
    if f.ndim == 2:
        out = wy @ f @ wx.T
    else:  # [H, W, C]: resize each channel
        out = np.stack([wy @ f[..., c] @ wx.T for c in range(f.shape[2])], axis=-1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class AtariFrames(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """No-op starts, frame skipping with max-pooling, grayscale and resizing for ALE envs.

    Per agent step the action is repeated for ``frame_skip`` frames (rewards summed) and
    the observation is the pixel-wise max of the last two frames (Atari sprites flicker),
    resized to ``screen_size`` by area averaging. Make the env with ``frameskip=1`` so
    skipping is not doubled.

    Args:
        env: An ALE env made with ``frameskip=1``.
        noop_max: Max random no-ops (action 0) after reset, drawn from the env's RNG; 0 = off.
        frame_skip: Frames per agent step.
        screen_size: Output side (square) or ``(width, height)``.
        terminal_on_life_loss: End the episode when a life is lost.
        grayscale_obs: Grayscale ``(H, W)`` frames, else RGB ``(H, W, 3)``.
    """

    def __init__(
        self,
        env: gym.Env,
        noop_max: int = 30,
        frame_skip: int = 4,
        screen_size: int | tuple[int, int] = 84,
        terminal_on_life_loss: bool = False,
        grayscale_obs: bool = True,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            noop_max=noop_max,
            frame_skip=frame_skip,
            screen_size=screen_size,
            terminal_on_life_loss=terminal_on_life_loss,
            grayscale_obs=grayscale_obs,
        )
        gym.Wrapper.__init__(self, env)
        if not isinstance(frame_skip, int) or frame_skip < 1:
            raise ValueError(f"frame_skip must be an int >= 1, got {frame_skip!r}")
        if frame_skip > 1 and getattr(env.unwrapped, "_frameskip", None) != 1:
            raise ValueError("make the ALE env with frameskip=1, else frames are skipped twice")
        if not isinstance(noop_max, int) or noop_max < 0:
            raise ValueError(f"noop_max must be an int >= 0, got {noop_max!r}")
        if noop_max > 0 and env.unwrapped.get_action_meanings()[0] != "NOOP":  # type: ignore[attr-defined]
            raise ValueError("noop_max > 0 needs action 0 to be NOOP")
        if not isinstance(env.observation_space, Box):
            raise TypeError(
                f"AtariFrames needs a Box observation space, got {env.observation_space}"
            )
        self.noop_max = noop_max
        self.frame_skip = frame_skip
        size = screen_size if isinstance(screen_size, tuple) else (screen_size, screen_size)
        self.width, self.height = int(size[0]), int(size[1])
        self.terminal_on_life_loss = terminal_on_life_loss
        self.grayscale_obs = grayscale_obs
        raw = env.observation_space.shape
        buf_shape = raw[:2] if grayscale_obs else raw
        self._buffer = [np.empty(buf_shape, dtype=np.uint8), np.empty(buf_shape, dtype=np.uint8)]
        self._lives = 0
        shape = (self.height, self.width) if grayscale_obs else (self.height, self.width, 3)
        self.observation_space = Box(low=0, high=255, shape=shape, dtype=np.uint8)

    @property
    def ale(self) -> Any:
        """The ALE interface of the wrapped env."""
        return self.env.unwrapped.ale  # type: ignore[attr-defined]

    def _grab(self, index: int) -> None:
        if self.grayscale_obs:
            self.ale.getScreenGrayscale(self._buffer[index])
        else:
            self.ale.getScreenRGB(self._buffer[index])

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        total, terminated, truncated = 0.0, False, False
        info: dict[str, Any] = {}
        for t in range(self.frame_skip):
            _, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if self.terminal_on_life_loss:
                lives = self.ale.lives()
                terminated = terminated or lives < self._lives
                self._lives = lives
            if terminated or truncated:
                break
            if t == self.frame_skip - 2:
                self._grab(1)
            elif t == self.frame_skip - 1:
                self._grab(0)
        return self._observation(), total, terminated, truncated, info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        _, info = self.env.reset(seed=seed, options=options)
        rng = self.env.unwrapped.np_random
        noops = int(rng.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0
        for _ in range(noops):
            _, _, terminated, truncated, step_info = self.env.step(0)
            info.update(step_info)
            if terminated or truncated:
                _, info = self.env.reset(seed=seed, options=options)
        self._lives = self.ale.lives()
        self._grab(0)
        self._buffer[1].fill(0)
        return self._observation(), info

    def _observation(self) -> np.ndarray:
        if self.frame_skip > 1:
            np.maximum(self._buffer[0], self._buffer[1], out=self._buffer[0])
        return area_resize(self._buffer[0], self.height, self.width)
