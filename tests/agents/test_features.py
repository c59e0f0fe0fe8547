"""Generic encoders of the agent: bounds from the space, one-hot, the choice of encoder from
the space, binned actions (the pixel grid: tests/encoders/test_pixels.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from spikerl.agents.features import (
    AutoFeaturesConfig,
    GaussianFields,
    GaussianFieldsConfig,
    OneHot,
    OneHotConfig,
    resolve_bounds,
)
from spikerl.agents.rstdp import make_features
from spikerl.encoders import PixelGrid
from spikerl.envs import BinnedActions


def test_bounds_from_space_and_squash() -> None:
    box = spaces.Box(np.array([-1.0, -np.inf]), np.array([3.0, np.inf]), dtype=np.float64)
    lo, hi, sq = resolve_bounds(None, None, box)
    np.testing.assert_array_equal(lo, [-1.0, -1.0])
    np.testing.assert_array_equal(hi, [3.0, 1.0])
    np.testing.assert_array_equal(sq, [False, True])
    g = GaussianFields(GaussianFieldsConfig(n_centres=3, pair_centres=0, bias=False), box)
    # x = 1 -> u = 0.5 on dim 0 (centre 1 of 3 fires fully); x = 1 -> squash 0.5 -> u = 0.75
    phi = g(np.array([[1.0, 1.0]]))
    s = 0.6 / 2
    want1 = np.exp(-0.5 * ((0.75 - np.array([0.0, 0.5, 1.0])) / s) ** 2)
    np.testing.assert_allclose(phi[0, :3], np.exp(-0.5 * ((0.5 - np.array([0, 0.5, 1])) / s) ** 2))
    np.testing.assert_allclose(phi[0, 3:], want1)
    with pytest.raises(ValueError, match="expected observations of 2 values"):
        g(np.zeros((1, 3)))


def test_onehot_golden() -> None:
    f = OneHot(OneHotConfig(copies=1), space=spaces.Discrete(4, start=1))
    np.testing.assert_array_equal(f(np.array([1, 4])), [[1, 0, 0, 0, 1], [0, 0, 0, 1, 1]])
    with pytest.raises(ValueError, match="outside"):
        f(np.array([0]))
    two = OneHot(OneHotConfig(copies=2), space=spaces.Discrete(3))
    assert two.n_features == 8
    np.testing.assert_array_equal(two(np.array([1])), [[0, 0, 1, 1, 0, 0, 1, 1]])
    plain = OneHot(OneHotConfig(bias=False, copies=3), space=spaces.Discrete(2))
    np.testing.assert_array_equal(plain(np.array([0])), [[1, 1, 1, 0, 0, 0]])
    assert OneHot(space=spaces.Discrete(16)).n_features == 17 * 8  # the default: 8 copies
    with pytest.raises(ValueError, match="copies must be an int >= 1"):
        OneHotConfig(copies=0)


def test_auto_features_follow_the_space() -> None:
    auto = AutoFeaturesConfig()
    assert isinstance(make_features(auto, spaces.Discrete(16)), OneHot)
    assert isinstance(make_features(auto, gym.make("Acrobot-v1").observation_space), GaussianFields)
    assert isinstance(make_features(auto, spaces.Box(0, 255, (210, 160), np.uint8)), PixelGrid)
    with pytest.raises(ValueError, match="no encoder"):
        make_features(auto, spaces.MultiBinary(3))


def test_binned_actions_centres() -> None:
    env = BinnedActions(gym.make("Pendulum-v1"), n_bins=4)
    assert env.action_space == spaces.Discrete(4)
    np.testing.assert_allclose(env.action(0), [-1.5])
    np.testing.assert_allclose(env.action(3), [1.5])
    with pytest.raises(ValueError, match="n_bins"):
        BinnedActions(gym.make("Pendulum-v1"), n_bins=1)
