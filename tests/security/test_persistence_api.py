"""The pickle-free zip format for any SB3 algorithm (PPO, A2C, DQN) and resumable checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.env_util import make_vec_env

from spikerl.agents.callbacks import load_resumable, save_resumable
from spikerl.agents.persistence import CheckpointError, load_model, save_model


def _env(seed: int = 0) -> Any:
    return make_vec_env("CartPole-v1", n_envs=1, seed=seed)


def _params_equal(a: Any, b: Any) -> None:
    for (ka, va), (kb, vb) in zip(
        a.policy.state_dict().items(), b.policy.state_dict().items(), strict=True
    ):
        assert ka == kb and torch.equal(va, vb), ka


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (PPO, {"n_steps": 64, "batch_size": 32, "n_epochs": 1}),
        (A2C, {"n_steps": 8}),
        (DQN, {"learning_starts": 10, "buffer_size": 500, "train_freq": 4}),
    ],
)
def test_sb3_algorithms_round_trip(tmp_path: Path, cls: Any, kwargs: dict[str, Any]) -> None:
    model = cls("MlpPolicy", _env(), seed=1, **kwargs)
    model.learn(128)
    save_model(model, tmp_path / "m")
    loaded = load_model(cls, tmp_path / "m.zip", env=_env())
    _params_equal(model, loaded)
    assert loaded.num_timesteps == model.num_timesteps
    assert loaded.observation_space == model.observation_space
    obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(
        loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0]
    )
    loaded.learn(64, reset_num_timesteps=False)  # it trains on
    if cls is DQN:
        assert loaded.exploration_schedule(0.5) == model.exploration_schedule(0.5)
        assert loaded.train_freq == model.train_freq


class Custom(torch.nn.Tanh):
    """An activation outside the trusted packages (defined in a test module)."""


def test_object_policy_kwargs_need_custom_objects(tmp_path: Path) -> None:
    kw = {"activation_fn": Custom, "net_arch": [8]}
    model = PPO("MlpPolicy", _env(), n_steps=64, batch_size=32, policy_kwargs=kw, seed=2)
    save_model(model, tmp_path / "m.zip")
    with pytest.raises(CheckpointError, match=r"policy_kwargs held objects.*activation_fn"):
        load_model(PPO, tmp_path / "m.zip")
    loaded = load_model(PPO, tmp_path / "m.zip", custom_objects={"policy_kwargs": kw})
    _params_equal(model, loaded)


def test_save_refuses_unsavable_attribute_by_name(tmp_path: Path) -> None:
    model = PPO("MlpPolicy", _env(), n_steps=64, batch_size=32)
    model.hook = lambda x: x  # type: ignore[attr-defined]
    with pytest.raises(CheckpointError, match=r"data\.hook: a builtins\.function cannot be saved"):
        save_model(model, tmp_path / "m.zip")
    assert not (tmp_path / "m.zip").exists()
    save_model(model, tmp_path / "m.zip", exclude=["hook"])


def test_resumable_checkpoint_of_ppo(tmp_path: Path) -> None:
    model = PPO("MlpPolicy", _env(3), n_steps=64, batch_size=32, n_epochs=1, seed=3)
    model.learn(128)
    save_resumable(model, tmp_path)
    resumed = load_resumable(tmp_path, _env(3), cls=PPO)
    _params_equal(model, resumed)
    np.testing.assert_array_equal(resumed._last_obs, model._last_obs)  # env state restored
    resumed.learn(64, reset_num_timesteps=False)
    assert resumed.num_timesteps == 192
