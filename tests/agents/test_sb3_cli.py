"""`spikerl train --algo ppo|a2c|dqn`: run folders, checkpoints, resume, eval, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from spikerl.agents.sb3.algorithms import DQN, PPO
from spikerl.agents.sb3.factory import model_class_of
from spikerl.cli import main

FAST = [
    "--set",
    "eval_freq=256",
    "--set",
    "eval_episodes=1",
    "--set",
    "final_eval_episodes=2",
    "--set",
    "checkpoint_freq=256",
    "--quiet",
]


def _train(tmp_path: Path, *extra: str) -> Path:
    assert main(["train", "--runs-dir", str(tmp_path / "runs"), *extra]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    return run


def test_train_ppo_writes_run_folder_resumes_and_evaluates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _train(
        tmp_path,
        "--algo",
        "ppo",
        "--env",
        "CartPole",
        "--timesteps",
        "512",
        "--seed",
        "2",
        "--n-envs",
        "2",
        *FAST,
        "--set",
        "sb3.policy_kwargs.time_steps=3",
        "--set",
        "sb3.hyperparams.batch_size=64",
    )
    assert run.name.startswith("CartPole__ppo__2__")
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["agent"] == "ppo" and cfg["sb3"]["policy"] == "SpikingMlpPolicy"
    assert cfg["sb3"]["policy_kwargs"]["time_steps"] == 3
    assert cfg["sb3"]["hyperparams"]["n_steps"] == 32  # from agents/ppo.yaml
    for name in (
        "best_model.zip",
        "final.zip",
        "eval.json",
        "evaluations.npz",
        "progress.csv",
        "checkpoints/last.zip",
        "checkpoints/meta.json",
    ):
        assert (run / name).is_file(), name
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["episodes"] == 2 and len(result["final"]["returns"]) == 2
    model = PPO.load(run / "final.zip")
    assert model_class_of(run / "best_model.zip") is PPO
    ex = model.policy.pi_features_extractor
    assert ex.config.time_steps == 3

    assert main(["eval", str(run), "--episodes", "2"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["episodes"] == 2
    assert main(["eval", str(run / "final.zip"), "--episodes", "1"]) == 0

    assert main(["train", "--resume", str(run), "--timesteps", "768", "--quiet"]) == 0
    meta = json.loads((run / "checkpoints/meta.json").read_text())
    assert meta["num_timesteps"] == 768


def test_train_dqn_and_a2c_with_non_spiking_policy(tmp_path: Path) -> None:
    run = _train(
        tmp_path,
        "--algo",
        "dqn",
        "--env",
        "CartPole",
        "--timesteps",
        "300",
        *FAST,
        "--set",
        "sb3.hyperparams.learning_starts=100",
        "--set",
        "sb3.hyperparams.train_freq=16",
    )
    model = DQN.load(run / "final.zip")
    obs = np.zeros((3, 4), dtype=np.float32)
    assert model.predict(obs, deterministic=True)[0].shape == (3,)
    run2 = tmp_path / "runs2"
    assert (
        main(
            [
                "train",
                "--runs-dir",
                str(run2),
                "--algo",
                "a2c",
                "--env",
                "CartPole",
                "--timesteps",
                "256",
                *FAST,
                "--set",
                "sb3.policy=MlpPolicy",
                "--set",
                "sb3.policy_kwargs={}",
            ]
        )
        == 0
    )


def test_bad_sb3_settings_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--runs-dir", str(tmp_path), "--algo", "ppo", "--env", "CartPole"]
    assert main([*args, "--set", "sb3.policy_kwargs.tme_steps=3", "--quiet"]) == 2
    assert "tme_steps" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # the failed start left no run folder
    assert main([*args, "--set", "sb3.polcy=MlpPolicy"]) == 2
    assert "sb3.polcy" in capsys.readouterr().err
    assert main(["train", "--runs-dir", str(tmp_path), "--algo", "sac", "--env", "CartPole"]) == 2
