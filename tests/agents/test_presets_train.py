"""Every preset and a few raw Gymnasium ids train through the agent for a few hundred steps."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from spikerl.agents import RSTDP
from spikerl.agents.envs import canonical_env_name, env_names, make_agent_vec_env
from spikerl.agents.presets import resolve


@pytest.mark.parametrize(
    "name", [*env_names(), "Acrobot-v1", "FrozenLake-v1", "MountainCarContinuous-v0"]
)
def test_preset_or_gym_id_trains(name: str) -> None:
    cfg = resolve(canonical_env_name(name), "rstdp", None, {})
    env = make_agent_vec_env(cfg.env, 1, 0, cfg.env_overrides)
    model = RSTDP("SpikingPolicy", env, cfg.rstdp, seed=0)
    w0 = np.concatenate([v.ravel() for v in model.plastic_weights().values()])
    model.learn(300)
    assert model.num_timesteps >= 300
    w = np.concatenate([v.ravel() for v in model.plastic_weights().values()])
    assert np.isfinite(w).all()
    assert model.learner.last is not None and model.learner.last.tied.shape == (1,)
    obs = env.reset()
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(int(action[0]))
    if name not in ("FrozenLake-v1",):  # sparse reward: no TD error in 300 steps
        assert not np.array_equal(w, w0)
    env.close()


def test_gym_id_of_a_preset_resolves_to_the_preset() -> None:
    assert canonical_env_name("CartPole-v1") == "CartPole"
    assert canonical_env_name("ALE/Breakout-v5") == "Breakout"
    assert canonical_env_name("FrozenLake-v1") == "FrozenLake-v1"


@pytest.mark.parametrize("name", env_names())
def test_preset_default_encoder_is_generic(name: str) -> None:
    """Perception is generic: no preset's default encoder reads a game's pixel layout (the
    ball/paddle features are a labelled baseline only, ``kind: breakout_objects``)."""
    from spikerl.agents.rstdp import make_features

    cfg = resolve(name, "rstdp", None, {})
    env = make_agent_vec_env(cfg.env, 1, 0, cfg.env_overrides)
    features = make_features(cfg.rstdp.features, env.observation_space)
    env.close()
    assert not getattr(features, "game_specific", False), (name, type(features).__name__)


def test_atari_presets_share_the_generic_pixel_encoder() -> None:
    from spikerl.encoders import PixelGridConfig

    kinds = {
        n: type(resolve(n, "rstdp", None, {}).rstdp.features)
        for n in ("Breakout", "Pong", "SpaceInvaders")
    }
    assert set(kinds.values()) == {PixelGridConfig}, kinds


def test_gym_id_without_a_registered_limit_gets_the_generic_episode_limit() -> None:
    """CliffWalking registers no ``max_episode_steps``: a policy that never reaches the goal
    would evaluate forever; the generic recipe truncates its episodes (and says so)."""
    from spikerl.envs.make import GENERIC_EPISODE_LIMIT, gym_id_recipe

    recipe = gym_id_recipe("CliffWalking-v1")
    assert recipe is not None and recipe.max_episode_steps == GENERIC_EPISODE_LIMIT
    assert str(GENERIC_EPISODE_LIMIT) in recipe.description
    frozen = gym_id_recipe("FrozenLake-v1")  # registers its own limit (100): kept
    assert frozen is not None and frozen.max_episode_steps is None
    env = make_agent_vec_env("CliffWalking-v1", 1, 0)
    env.reset()
    steps, done = 0, np.zeros(1, dtype=bool)
    while not done[0]:  # UP from the start never reaches the goal
        _, _, done, infos = env.step(np.array([0]))
        steps += 1
    assert steps == GENERIC_EPISODE_LIMIT and infos[0]["TimeLimit.truncated"]


def test_cli_refuses_an_observation_space_without_an_encoder(
    capsys: pytest.CaptureFixture[str], tmp_path: pathlib.Path
) -> None:
    from spikerl.cli import main

    rc = main(["train", "--env", "Blackjack-v1", "--timesteps", "100", "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("spikerl: error: no encoder for observation space Tuple(")
    assert len(err.splitlines()) == 1 and "features.kind" in err
    assert not any(tmp_path.iterdir())  # the failed start left no run folder behind
