"""Spike wrappers on single and vector envs, check_env on every preset, bad inputs."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from spikerl.decoders import ArgmaxDecoder, PopulationActionDecoder
from spikerl.encoders import DeltaEncoder, PoissonEncoder
from spikerl.envs import (
    SpikeAction,
    SpikeObservation,
    VectorSpikeObservation,
    list_presets,
    make_env,
    make_vec_env,
)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list_presets())
def test_check_env_every_preset(name: str) -> None:
    env = make_env(name, seed=0)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    t = env.get_wrapper_attr("recipe").time_steps
    assert obs.shape[0] == t
    obs2, *_ = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs2)
    env.close()


def test_spike_observation_statistics_and_seeding() -> None:
    env = make_env("MountainCar")
    obs_a, _ = env.reset(seed=3)
    obs_b, _ = env.reset(seed=3)
    obs_c, _ = env.reset(seed=4)
    assert np.array_equal(obs_a, obs_b) and not np.array_equal(obs_a, obs_c)
    assert obs_a.shape == (16, 2, 16) and obs_a.dtype == np.float32
    assert set(np.unique(obs_a)) <= {0.0, 1.0}


def test_counts_or_raster_actions() -> None:
    env = make_env("CartPole", seed=0)
    n = env.action_space.shape[1]
    counts = np.zeros(n)
    counts[8:] = 5  # action 1's population fires
    assert env.action(counts) == 1
    raster = np.zeros((16, n), dtype=np.int8)
    raster[3, :8] = 1
    assert env.action(raster) == 0
    with pytest.raises(ValueError, match="expected a spike raster"):
        env.action(np.zeros((16, n + 1)))


def test_pendulum_continuous_action() -> None:
    env = make_env("Pendulum", seed=0)
    counts = np.zeros(16)
    counts[-1] = 3
    assert np.allclose(env.action(counts), [2.0])


def test_vector_env_shapes_and_actions() -> None:
    venv = make_vec_env("CartPole", 3, seed=0)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, 16, 4, 16)
    assert venv.action_space.shape == (3, 16, 16)
    for _ in range(5):
        obs, rew, _term, _trunc, _ = venv.step(venv.action_space.sample())
        assert obs.shape == (3, 16, 4, 16) and rew.shape == (3,)
    counts = np.zeros((3, 16))
    counts[:, 8:] = 1
    obs, *_ = venv.step(counts)
    assert venv.observation_space.contains(obs)
    with pytest.raises(ValueError, match="expected a spike raster"):
        venv.step(np.zeros((3, 15)))
    venv.close()


class _Frames(gym.Env[np.ndarray, int]):
    """Tiny env of 3x3 frames: a bright pixel moves one cell per step; ends after 3 steps."""

    observation_space = spaces.Box(0, 255, (3, 3), np.uint8)
    action_space = spaces.Discrete(2)

    def __init__(self, bad: Any = None) -> None:
        self.t = 0
        self.bad = bad

    def _obs(self) -> np.ndarray:
        f = np.zeros((3, 3), np.uint8)
        f.flat[self.t % 9] = 255
        return f

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: int) -> Any:
        self.t += 1
        return self._obs(), 0.0, self.t >= 3, False, {}


def test_delta_wrapper_single_and_vector_autoreset() -> None:
    enc = DeltaEncoder((3, 3), 2, threshold=0.5, input_range=(0, 255))
    env = SpikeObservation(_Frames(), enc)
    obs, _ = env.reset(seed=0)
    assert obs.sum() == 0 and obs.shape == (2, 2, 3, 3)
    obs, *_ = env.step(0)
    assert obs[0, 0].flat[1] == 1 and obs[0, 1].flat[0] == 1 and obs.sum() == 2

    venv = VectorSpikeObservation(gym.vector.SyncVectorEnv([_Frames, _Frames]), enc)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (2, 2, 2, 3, 3) and obs.sum() == 0
    for _ in range(2):
        obs, *_ = venv.step(np.zeros(2, dtype=np.int64))
        assert obs.sum() == 4  # one ON and one OFF per env
    obs, _, term, _, _ = venv.step(np.zeros(2, dtype=np.int64))
    assert term.all()
    obs, *_ = venv.step(np.zeros(2, dtype=np.int64))  # autoreset step: fresh state, silent
    assert obs.sum() == 0
    obs, *_ = venv.step(np.zeros(2, dtype=np.int64))
    assert obs.sum() == 4


class _Bad(gym.Env[np.ndarray, int]):
    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, value: float) -> None:
        self.value = value

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        return np.array([0.0, self.value], np.float32), {}

    def step(self, action: int) -> Any:
        return np.zeros(2, np.float32), 0.0, False, False, {}


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (float("nan"), "NaN or inf"),
        (float("inf"), "NaN or inf"),
        (1.5, "outside the declared bounds"),
    ],
)
def test_bad_observations_raise(value: float, match: str) -> None:
    env = SpikeObservation(_Bad(value), PoissonEncoder((2,), 4, input_range=(-1.0, 1.0)))
    with pytest.raises(ValueError, match=match):
        env.reset(seed=0)


def test_small_bound_excursion_tolerated() -> None:
    env = SpikeObservation(_Bad(1.0 + 1e-6), PoissonEncoder((2,), 4, input_range=(-1.0, 1.0)))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 2)


def test_unsupported_spaces_raise() -> None:
    class DictEnv(_Bad):
        observation_space = spaces.Dict({"a": spaces.Box(0, 1, (2,))})  # type: ignore[assignment]

    with pytest.raises(TypeError, match="Box observation spaces only"):
        SpikeObservation(DictEnv(0.0), PoissonEncoder((2,), 4))

    class MultiEnv(_Bad):
        action_space = spaces.MultiDiscrete([2, 2])  # type: ignore[assignment]

    with pytest.raises(TypeError, match="Discrete and Box action spaces"):
        SpikeAction(MultiEnv(0.0), ArgmaxDecoder(2), 4)
    with pytest.raises(ValueError, match="decoder has 3 actions, the env 2"):
        SpikeAction(_Bad(0.0), ArgmaxDecoder(3), 4)
    with pytest.raises(TypeError, match="DiscreteDecoder"):
        SpikeAction(_Bad(0.0), PopulationActionDecoder([0.0], [1.0], 3), 4)
    with pytest.raises(ValueError, match="does not match the observation space"):
        SpikeObservation(_Bad(0.0), PoissonEncoder((3,), 4))
    with pytest.raises(ValueError, match="finite observation bounds"):
        make_env("CartPole", encoder={"kind": "poisson"})


def test_observation_tensor_dtype_kept() -> None:
    env = make_env("Breakout", seed=0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (16, 84, 84) and obs.dtype == np.float32
    assert 0 < obs.mean() < 0.1  # ~100 Hz * 1 ms on mostly dark pixels
    assert torch.get_default_dtype() == torch.float32
