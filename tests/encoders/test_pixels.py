"""The generic pixel encoder: golden values on hand-made frames, one instance on all games."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from spikerl.encoders import PixelGrid, PixelGridConfig


def test_pixel_grid_golden_on_hand_made_frames() -> None:
    space = spaces.Box(0, 255, (2, 6, 8), dtype=np.uint8)
    f = PixelGrid(PixelGridConfig(rows=2, cols=2, threshold=0.04), space)
    prev = np.full((6, 8), 30, np.uint8)  # background 30 (the frame's mode)
    last = prev.copy()
    prev[0, 1] = 200  # object in cell (0, 0) ...
    last[4, 6] = 200  # ... moved to cell (1, 1)
    last[1, 5] = 40  # 10 above background: under the threshold (0.04 * 255 = 10.2)
    phi = f(np.stack([prev, last])[None])
    occ, on, off, bias = phi[0, :4], phi[0, 4:8], phi[0, 8:12], phi[0, 12]
    np.testing.assert_array_equal(occ, [0, 0, 0, 1])
    np.testing.assert_array_equal(on, [0, 0, 0, 1])
    np.testing.assert_array_equal(off, [1, 0, 0, 0])
    assert bias == 1.0 and f.n_features == 13


def test_pixel_grid_float_frames_single_frame_and_uneven_cells() -> None:
    """Float frames in [0, 1] (the threshold scales with the range), no stack (no motion
    channels), a 5-pixel width split into 2 columns (cells of 2 and 3 pixels)."""
    space = spaces.Box(0.0, 1.0, (3, 5), dtype=np.float32)
    f = PixelGrid(PixelGridConfig(rows=1, cols=2, threshold=0.1, bias=False), space)
    x = np.zeros((2, 3, 5), np.float32)
    x[0, 2, 4] = 0.5  # column 4: the second cell (columns 2-4)
    x[1, 0, 1] = 0.05  # under 0.1 of the range
    np.testing.assert_array_equal(f(x), [[0, 1], [0, 0]])
    assert f.n_features == 2
    with pytest.raises(ValueError, match="expected frames"):
        f(np.zeros((1, 2, 3, 5)))
    with pytest.raises(ValueError, match="does not fit"):
        PixelGrid(PixelGridConfig(rows=4), space)
    with pytest.raises(ValueError, match="grey frames"):
        PixelGrid(PixelGridConfig(), spaces.Box(0, 1, (4,)))


def test_one_instance_runs_on_frames_of_three_games() -> None:
    """Game-agnostic: one encoder, built from the space alone, encodes real frames of
    Breakout, Pong and SpaceInvaders (the recipe's env: 2 stacked 210x160 grey frames), and
    on each game something is foreground and something moves."""
    from spikerl.agents.envs import make_agent_vec_env

    space = spaces.Box(0, 255, (2, 210, 160), dtype=np.uint8)
    enc = PixelGrid(PixelGridConfig(), space)
    cells = 7 * 20
    for game in ("Breakout", "Pong", "SpaceInvaders"):
        env = make_agent_vec_env(game, 1, 0, {"atari.frame_stack": 2, "atari.frames": "native"})
        assert env.observation_space == space, game
        obs = env.reset()
        rng = np.random.default_rng(0)
        batch = []
        for _ in range(60):
            obs, _, _, _ = env.step(rng.integers(0, env.action_space.n, 1))
            batch.append(obs[0])
        env.close()
        phi = enc(np.stack(batch))
        assert phi.shape == (60, enc.n_features) and set(np.unique(phi)) <= {0.0, 1.0}
        assert phi[:, :cells].sum(1).min() > 0, game  # foreground in every frame
        assert phi[:, cells : 3 * cells].sum() > 0, game  # ON/OFF motion somewhere
        assert (phi[:, -1] == 1).all()


@pytest.mark.parametrize(
    ("shape", "config"),
    [
        ((2, 210, 160), PixelGridConfig()),
        ((2, 6, 8), PixelGridConfig(rows=2, cols=2)),
        ((3, 5), PixelGridConfig(rows=1, cols=2, bias=False)),
        ((3, 9, 7), PixelGridConfig(rows=4, cols=3, motion=False)),
        ((3, 9, 7), PixelGridConfig(rows=4, cols=3, threshold=0.3)),
    ],
)
def test_compiled_path_equals_numpy_reference(
    shape: tuple[int, ...], config: PixelGridConfig
) -> None:
    rng = np.random.default_rng(1)
    enc = PixelGrid(config, spaces.Box(0, 255, shape, dtype=np.uint8))
    x = (rng.random((6, *shape)) < 0.2) * rng.integers(0, 256, (6, *shape))
    x = x.astype(np.uint8)
    x[0] = 7  # a blank frame: no foreground
    np.testing.assert_array_equal(enc(x), enc.features_numpy(x))
