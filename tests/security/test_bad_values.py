"""Bad values never corrupt a run: NaN/inf data, out-of-range options, mismatched spaces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from agents.parts import window_preset
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from spikerl.agents import RSTDP
from spikerl.agents.callbacks import LAST, META, save_resumable
from spikerl.agents.finite import NonFiniteError, check_finite
from spikerl.agents.presets import ConfigError, load_agent_preset, parse_set, resolve
from spikerl.cli import main


class Poison(gym.Wrapper):  # type: ignore[type-arg]
    """Return a NaN observation (or reward) at the ``at``-th step after creation."""

    def __init__(self, env: gym.Env, at: int, what: str) -> None:  # type: ignore[type-arg]
        super().__init__(env)
        self.at = at
        self.what = what
        self.n = 0

    def step(self, action: Any) -> Any:
        obs, r, term, trunc, info = self.env.step(action)
        self.n += 1
        if self.n == self.at:
            if self.what == "observation":
                obs = np.array(obs, dtype=np.float32)
                obs[2] = np.nan
            else:
                r = float("inf")
        return obs, r, term, trunc, info


class StopAt(BaseCallback):
    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def _on_step(self) -> bool:
        return self.num_timesteps < self.at


def _model(poison_env: int | None, at: int = 40, what: str = "observation") -> RSTDP:
    def wrap(env: gym.Env, i: list[int] = [0]) -> gym.Env:  # type: ignore[type-arg]  # noqa: B006
        k = i[0]
        i[0] += 1
        return Poison(env, at, what) if k == poison_env else env

    venv = make_vec_env("CartPole-v1", n_envs=2, seed=3, wrapper_class=wrap)
    return RSTDP("SpikingPolicy", venv, window_preset("CartPole"), seed=3)


@pytest.mark.parametrize("what", ["observation", "reward"])
def test_nan_during_learn_is_refused_before_any_weight_change(what: str) -> None:
    """Env 1 returns a NaN observation (an inf reward) at its 40th step: learn stops with an
    error naming the step and env 1, and the weights equal those of a clean run stopped just
    before that step (the bad step changed nothing)."""
    bad = _model(poison_env=1, what=what)
    with pytest.raises(NonFiniteError, match=rf"non-finite (terminal )?{what} at step 80 in env 1"):
        bad.learn(1000)
    clean = _model(poison_env=None)
    clean.learn(1000, callback=StopAt(78))  # 2 envs: steps 2, 4, ..., 78
    assert clean.num_timesteps == 78 == bad.num_timesteps
    w_bad = bad.plastic_weights()["input->action"]
    np.testing.assert_array_equal(w_bad, clean.plastic_weights()["input->action"])
    np.testing.assert_array_equal(bad.learner.critic, clean.learner.critic)
    assert np.isfinite(w_bad).all()


def test_predict_refuses_nan_and_foreign_shapes() -> None:
    model = RSTDP("SpikingPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=0), seed=0)
    obs = np.zeros((2, 4), dtype=np.float32)
    obs[1, 3] = np.inf
    with pytest.raises(NonFiniteError, match="observation in env 1"):
        model.predict(obs)
    with pytest.raises(ValueError, match=r"shape \(1, 6\) does not fit"):
        model.predict(np.zeros((1, 6), dtype=np.float32))


def test_check_finite_names_the_env() -> None:
    check_finite("x", np.zeros((3, 2)))
    check_finite("x", np.array([1, 2], dtype=np.int64))
    with pytest.raises(NonFiniteError, match=r"non-finite x at step 7 in env 2 \(2 value"):
        check_finite("x", np.array([[0, 0], [1, 1], [np.nan, -np.inf]]), 7)


def test_checkpoint_refuses_non_finite_weights(tmp_path: Path) -> None:
    model = RSTDP("SpikingPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=0), seed=0)
    save_resumable(model, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with torch.no_grad():
        model.policy.network.projection("input->action").weight[0, 0] = np.nan
    with pytest.raises(NonFiniteError, match=r"parameter policy\.network\..*weight holds 1 non-f"):
        save_resumable(model, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        ("timesteps=0", "timesteps: 0 is outside the allowed range >= 1"),
        ("n_envs=0", "n_envs: 0 is outside the allowed range >= 1"),
        ("seed=-1", "seed: -1 is outside the allowed range >= 0"),
        ("checkpoint_freq=-1", "checkpoint_freq: -1 is outside the allowed range >= 0"),
        ("eval_freq=-5", "eval_freq: -5 is outside the allowed range >= 0"),
        ("eval_episodes=0", "eval_episodes: 0 is outside"),
        ("rstdp.snn.sim_steps=0", "rstdp.snn.sim_steps: 0 is outside the allowed range >= 1"),
        ("rstdp.snn.dt=0", "rstdp.snn.dt: 0.0 is outside the allowed range > 0"),
        ("rstdp.snn.dt=.inf", "rstdp.snn.dt: inf is not a finite number"),
        ("rstdp.snn.input_rate=.nan", "rstdp.snn.input_rate: nan is not a finite number"),
        ("rstdp.learn.lr_actor=.nan", "rstdp.learn.lr_actor: nan is not a finite number"),
        ("rstdp.learn.gamma=1.5", "rstdp.learn.gamma: 1.5 is outside the allowed range [0, 1]"),
        ("rstdp.learn.lam_actor=-0.1", "rstdp.learn.lam_actor: -0.1 is outside"),
        ("rstdp.learn.lam_critic=2", "rstdp.learn.lam_critic: 2.0 is outside"),
        ("env_overrides.max_episode_steps=-5", "env_overrides.max_episode_steps: -5 is outside"),
        ("env_overrides.atari.frame_skip=0", "env_overrides.atari.frame_skip: 0 is outside"),
        ("env_overrides.atari.frame_skip=2", "'CartPole' cannot be built with env_overrides"),
        ("timesteps=1.0e9", "write 1.0e+9"),
        ("rstdp.learn.lr_actor=1e-3", "write 1.0e-3"),
    ],
)
def test_cli_bad_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, needle: str
) -> None:
    runs = tmp_path / "runs"
    code = main(["train", "--env", "CartPole", "--runs-dir", str(runs), "--set", setting])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("spikerl: error: ") and needle in err, err
    assert not runs.exists() or not any(runs.iterdir())  # no run folder left behind


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        ("--timesteps", "0", "timesteps: 0 is outside"),
        ("--n-envs", "0", "n_envs: 0 is outside"),
        ("--seed", "-3", "seed: -3 is outside"),
    ],
)
def test_cli_bad_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, needle: str
) -> None:
    runs = tmp_path / "runs"
    assert main(["train", "--env", "CartPole", "--runs-dir", str(runs), flag, value]) == 2
    assert needle in capsys.readouterr().err
    assert not runs.exists() or not any(runs.iterdir())


def test_yaml11_number_in_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rstdp:\n  learn:\n    lr_critic: 5e-2\n")
    with pytest.raises(ConfigError, match=r"rstdp\.learn\.lr_critic.*YAML 1\.1.*5\.0e-2"):
        resolve("CartPole", "rstdp", cfg)
    assert resolve("CartPole", overrides=parse_set(["timesteps=1.0e+3"])).timesteps == 1000


@pytest.mark.parametrize(("episodes", "seed"), [("0", "1"), ("-1", "1"), ("2", "-4")])
def test_eval_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], episodes: str, seed: str
) -> None:
    model = RSTDP("SpikingPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=0), seed=0)
    model.save(tmp_path / "m.zip")
    argv = ["eval", str(tmp_path / "m.zip"), "--env", "CartPole", "--episodes", episodes]
    assert main([*argv, "--seed", seed]) == 2
    assert "outside the allowed range" in capsys.readouterr().err


def test_eval_on_another_space(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = RSTDP("SpikingPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=0), seed=0)
    model.save(tmp_path / "m.zip")
    assert main(["eval", str(tmp_path / "m.zip"), "--env", "Acrobot-v1", "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spikerl: error: ") and "observation space" in err, err
    assert "Traceback" not in err


def test_failed_start_leaves_no_run_folder(tmp_path: Path) -> None:
    """A run that fails at its first step (Breakout features on CartPole observations)."""
    runs = tmp_path / "runs"
    argv = ["train", "--env", "CartPole", "--runs-dir", str(runs), "--quiet"]
    with pytest.raises(ValueError, match="BreakoutFields"):
        main([*argv, "--set", "rstdp.features.kind=breakout_objects"])
    assert list(runs.iterdir()) == []


def test_meta_json_is_strict_json_without_evaluations(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    argv = ["train", "--env", "CartPole", "--timesteps", "100", "--runs-dir", str(runs)]
    assert main([*argv, "--set", "eval_freq=0", "--set", "final_eval_episodes=1", "--quiet"]) == 0
    (run,) = runs.iterdir()

    def refuse(name: str) -> None:
        raise AssertionError(f"meta.json holds {name}")

    meta = json.loads((run / "checkpoints" / META).read_text(), parse_constant=refuse)
    assert meta["best_mean_reward"] is None and meta["num_timesteps"] == 100
    assert (run / "checkpoints" / LAST).is_file()


def test_check_config_for_python_built_configs() -> None:
    import dataclasses

    from spikerl.agents.rstdp import RSTDPConfig
    from spikerl.agents.validation import check_config

    for env in ("CartPole", "Breakout"):
        check_config(load_agent_preset("rstdp", env))  # the shipped presets are in range
    check_config(RSTDPConfig())
    bad = dataclasses.replace(
        RSTDPConfig(), learn=dataclasses.replace(RSTDPConfig().learn, lr_actor=float("nan"))
    )
    with pytest.raises(ConfigError, match=r"config\.learn\.lr_actor: nan is not a finite"):
        check_config(bad, "config")


@pytest.mark.parametrize("command", ["resume", "eval"])
def test_foreign_run_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """A config.yaml of another tool (a mapping of unknown keys) in a run folder."""
    runs = tmp_path / "runs"
    argv = ["train", "--env", "CartPole", "--timesteps", "50", "--runs-dir", str(runs)]
    assert main([*argv, "--set", "eval_freq=0", "--set", "final_eval_episodes=1", "--quiet"]) == 0
    (run,) = runs.iterdir()
    (run / "config.yaml").write_text("model: resnet50\nlr: 0.1\n")
    capsys.readouterr()
    if command == "resume":
        assert main(["train", "--resume", str(run), "--quiet"]) == 2
        needle = "unknown config key 'model'"
    else:
        assert main(["eval", str(run), "--episodes", "1"]) == 2
        needle = "no 'env' name in the run config"
    err = capsys.readouterr().err
    assert err.startswith("spikerl: error: ") and needle in err, err
