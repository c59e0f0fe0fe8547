"""SB3 run settings: presets, hyperparameter parsing, pickle-free algorithms, class lookup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import stable_baselines3 as sb3
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env

from spikerl.agents.persistence import CheckpointError
from spikerl.agents.rstdp import RSTDP
from spikerl.agents.sb3 import SpikingActorCriticCnnPolicy, SpikingDQNPolicy
from spikerl.agents.sb3.algorithms import A2C, DQN, PPO
from spikerl.agents.sb3.factory import (
    SB3Config,
    load_sb3_preset,
    make_sb3_model,
    model_class_of,
    parse_hyperparams,
    sb3_vec_env,
)


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn"])
def test_presets_have_cartpole_and_breakout_entries(algo: str) -> None:
    cp = load_sb3_preset(algo, "CartPole")
    assert cp["sb3"]["policy"] == "SpikingMlpPolicy"
    assert cp["timesteps"] >= 100_000
    br = load_sb3_preset(algo, "Breakout")
    assert br["sb3"]["policy"] == "SpikingCnnPolicy"
    assert br["env_overrides"] == {"atari.frame_stack": 4}
    assert br["final_eval_episodes"] == 30


def test_rl_zoo_cartpole_hyperparameters() -> None:
    ppo = load_sb3_preset("ppo", "CartPole")
    assert ppo["n_envs"] == 8
    assert ppo["sb3"]["hyperparams"] == {
        "n_steps": 32,
        "batch_size": 256,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "n_epochs": 20,
        "ent_coef": 0.0,
        "learning_rate": "lin_0.001",
        "clip_range": "lin_0.2",
    }
    dqn = load_sb3_preset("dqn", "CartPole")["sb3"]["hyperparams"]
    assert dqn["train_freq"] == 256 and dqn["gradient_steps"] == 128
    assert dqn["target_update_interval"] == 10 and dqn["learning_rate"] == "lin_2.3e-3"


def test_unknown_preset_entries_are_named() -> None:
    with pytest.raises(ValueError, match="no entry for 'Nope'"):
        load_sb3_preset("ppo", "Nope")
    with pytest.raises(ValueError, match="unknown algorithm"):
        load_sb3_preset("sac", "CartPole")


def test_linear_schedules_and_bad_schedules() -> None:
    hp = parse_hyperparams({"learning_rate": "lin_0.001", "clip_range": 0.2, "n_steps": 8})
    assert hp["learning_rate"](1.0) == pytest.approx(1e-3)
    assert hp["learning_rate"](0.25) == pytest.approx(2.5e-4)
    assert hp["clip_range"] == 0.2 and hp["n_steps"] == 8
    with pytest.raises(ValueError, match="learning_rate"):
        parse_hyperparams({"learning_rate": "exp_0.1"})
    with pytest.raises(ValueError, match="clip_range"):
        parse_hyperparams({"clip_range": "lin_x"})


def test_make_model_refuses_unknown_names() -> None:
    env = make_vec_env("CartPole-v1", n_envs=1)
    with pytest.raises(ValueError, match="unknown algorithm"):
        make_sb3_model("sac", env, 0, "MlpPolicy")
    with pytest.raises(ValueError, match="unknown policy 'SpikyPolicy'"):
        make_sb3_model("ppo", env, 0, "SpikyPolicy")
    with pytest.raises(ValueError, match="policy must be"):
        SB3Config(policy="")


def test_factory_builds_safe_subclasses_of_sb3() -> None:
    env = make_vec_env("CartPole-v1", n_envs=1)
    model = make_sb3_model("dqn", env, 0, "SpikingMlpPolicy", {}, {"layers": [8]})
    assert isinstance(model, DQN) and isinstance(model, sb3.DQN)
    assert isinstance(model.policy, SpikingDQNPolicy)


def test_breakout_env_is_stacked_84x84_frames() -> None:
    env = sb3_vec_env("Breakout", 1, 0, {"atari.frame_stack": 4})
    assert env.observation_space.shape == (4, 84, 84)
    model = make_sb3_model("ppo", env, 0, "SpikingCnnPolicy", {"n_steps": 8, "batch_size": 8}, {})
    assert isinstance(model.policy, SpikingActorCriticCnnPolicy)
    env.close()


@pytest.mark.parametrize("cls", [PPO, A2C, DQN])
def test_callback_checkpoints_load_without_unpickling(cls: type, tmp_path: Path) -> None:
    """EvalCallback saves the best model with ``model.save``: the zip is pickle-free, names
    its algorithm, and loads to the same actions."""
    env = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    kwargs: dict[str, int] = {"learning_starts": 10} if cls is DQN else {"n_steps": 16}
    if cls is PPO:
        kwargs["batch_size"] = 16
    model = cls("SpikingMlpPolicy", env, seed=0, policy_kwargs={"layers": [8]}, **kwargs)
    cb = EvalCallback(
        make_vec_env("CartPole-v1", n_envs=1, seed=1),
        eval_freq=32,
        n_eval_episodes=1,
        best_model_save_path=str(tmp_path),
        verbose=0,
    )
    model.learn(64, callback=cb)
    best = tmp_path / "best_model.zip"
    assert best.is_file()
    assert model_class_of(best) is cls
    loaded = cls.load(best)
    obs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    a = loaded.predict(obs, deterministic=True)[0]
    assert a.shape == (32,)
    # a zip written by SB3's own (pickling) save is refused
    sb3_cls = cls.__mro__[2]
    sb3_cls.save(model, tmp_path / "sb3.zip")
    with pytest.raises(CheckpointError):
        cls.load(tmp_path / "sb3.zip")


def test_model_class_of_a_zip_without_algo_name_is_rstdp(tmp_path: Path) -> None:
    from spikerl.agents.persistence import save_model

    model = sb3.PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=1), n_steps=8, batch_size=8)
    save_model(model, tmp_path / "plain.zip")
    assert model_class_of(tmp_path / "plain.zip") is RSTDP
