"""One loop: ``RSTDP.learn`` and ``Pipeline.run`` both step through ``Pipeline.step``.

* ``RSTDP.learn`` learns bit for bit what its own loop learned before it ran through the
  Pipeline (that loop is kept here, verbatim, without the logging).
* ``Pipeline.run`` on a Gymnasium env and ``RSTDP.learn`` on SB3's VecEnv of the same env
  learn the same weights from the same seed (constant learning rate: the two schedules
  are written differently), for the private agent and for a parts policy.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env

from spikerl.agents import RSTDP
from spikerl.agents.finite import check_transition
from spikerl.agents.rstdp import RSTDPConfig
from spikerl.pipeline import Pipeline

from .parts import small_parts, window_preset


def _legacy_learn(model: RSTDP, total_timesteps: int) -> None:
    """The act -> env step -> update loop ``RSTDP.learn`` ran before ``Pipeline.step``."""
    obs_before = model._last_obs
    total_timesteps, _ = model._setup_learn(total_timesteps, None, True, "RSTDP", False)
    env = model.env
    assert env is not None
    learner = model.learner
    if model._last_obs is not obs_before:
        learner.forget_observations()
    lc = model.config.learn
    while model.num_timesteps < total_timesteps:
        learner.reset(np.asarray(model._last_episode_starts))
        obs = np.asarray(model._last_obs)
        actions = learner.act(obs)
        new_obs, rewards, dones, infos = env.step(actions)
        check_transition(obs, new_obs, rewards, infos, model.num_timesteps + env.num_envs)
        model.num_timesteps += env.num_envs
        boot = np.asarray(new_obs).copy() if dones.any() else np.asarray(new_obs)
        terminated = np.zeros(env.num_envs, dtype=bool)
        if lc.life_loss_terminal:
            lives = np.array([info.get("lives", 0) for info in infos])
            if model._lives is not None:
                terminated |= (lives < model._lives) & ~dones
            model._lives = lives
        for i in np.flatnonzero(dones):
            info = infos[i]
            if "terminal_observation" in info:
                boot[i] = info["terminal_observation"]
            terminated[i] = not info.get("TimeLimit.truncated", False)
        model._update_current_progress_remaining(model.num_timesteps, total_timesteps)
        frac = lc.lr_final_fraction + (1.0 - lc.lr_final_fraction) * (
            model._current_progress_remaining
        )
        learner.update(np.asarray(rewards), boot, terminated, frac, stale=dones)
        model._last_obs = new_obs  # type: ignore[assignment]
        model._last_episode_starts = dones


def _weights(model: RSTDP) -> list[np.ndarray]:
    learner: Any = model.learner
    ws = [p.projection.weight.detach().numpy().copy() for p in learner.plasticities]
    return [*ws, np.asarray(learner.critic).copy()]


@pytest.mark.parametrize("n_envs", [1, 2])
def test_rstdp_learn_learns_what_its_own_loop_learned(n_envs: int) -> None:
    cfg = window_preset("CartPole")

    def model() -> RSTDP:
        env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=0)
        return RSTDP("SpikingPolicy", env, cfg, seed=0)

    new, old = model(), model()
    new.learn(600)
    _legacy_learn(old, 600)
    assert new.num_timesteps == old.num_timesteps
    for a, b in zip(_weights(new), _weights(old), strict=True):
        np.testing.assert_array_equal(a, b)


def test_rstdp_learn_of_a_parts_policy_learns_what_its_own_loop_learned() -> None:
    def model() -> RSTDP:
        return RSTDP("SpikingPolicy", gym.make("CartPole-v1"), policy_kwargs=small_parts(), seed=0)

    new, old = model(), model()
    new.learn(200)
    _legacy_learn(old, 200)
    for a, b in zip(_weights(new), _weights(old), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("parts", [False, True], ids=["preset", "parts"])
def test_pipeline_run_and_rstdp_learn_are_one_loop(parts: bool) -> None:
    """Same seed, same env: SB3's VecEnv through ``RSTDP.learn`` and the Gymnasium env
    through ``Pipeline.run`` give the same weights (episodes included)."""
    steps = 200 if parts else 800

    def model() -> RSTDP:
        if parts:
            cfg = RSTDPConfig()
            kwargs: dict[str, Any] = {"policy_kwargs": small_parts()}
        else:
            cfg = window_preset("CartPole")
            kwargs = {}
        cfg = dataclasses.replace(cfg, learn=dataclasses.replace(cfg.learn, lr_final_fraction=1.0))
        return RSTDP("SpikingPolicy", gym.make("CartPole-v1"), cfg, seed=0, **kwargs)

    a, b = model(), model()
    a.learn(steps)
    res = Pipeline(gym.make("CartPole-v1"), b, log_every=10**9).run(steps, seed=0)
    assert res.steps == steps and len(res.episode_returns) >= 2
    assert a.ep_info_buffer is not None
    assert [e["l"] for e in a.ep_info_buffer] == res.episode_lengths
    for x, y in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_array_equal(x, y)


def test_pipeline_runs_on_an_sb3_vec_env() -> None:
    """An SB3 VecEnv (same-step reset, ``terminal_observation``) runs through ``run`` too."""
    cfg = window_preset("CartPole")
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = RSTDP("SpikingPolicy", env, cfg, seed=0)
    w0 = model.plastic_weights()["input->action"]
    res = Pipeline(env, model, log_every=50).run(400, seed=1)
    assert res.steps == 400 and len(res.logs) == 4 and res.episode_lengths
    assert sum(res.episode_lengths) <= 400
    assert not np.array_equal(model.plastic_weights()["input->action"], w0)


def _legacy_greedy(model: Any, env: Any, episodes: int) -> tuple[list, list, list, list, list]:
    """The greedy-episode loop evaluation ran before it went through ``Pipeline.run``."""
    n_actions = int(getattr(env.action_space, "n", 0))
    counts = np.zeros(max(n_actions, 1), dtype=np.int64)
    returns: list[float] = []
    lengths: list[int] = []
    tied: list[bool] = []
    margins: list[float] = []
    obs = env.reset()
    state = None
    starts = np.ones(1, dtype=bool)
    ret, length = 0.0, 0
    while len(returns) < episodes:
        action, state = model.predict(obs, state, starts, deterministic=True)
        last = getattr(getattr(model, "policy", None), "last_output", None)
        if last is not None and hasattr(last, "tied"):
            tied.append(bool(np.asarray(last.tied).reshape(-1)[0]))
            margins.append(float(np.asarray(last.margin).reshape(-1)[0]))
        if n_actions:
            counts[int(np.asarray(action).reshape(-1)[0])] += 1
        obs, r, done, _ = env.step(action)
        ret += float(r[0])
        length += 1
        starts = done
        if done[0]:
            returns.append(ret)
            lengths.append(length)
            ret, length = 0.0, 0
    return returns, lengths, tied, margins, counts.tolist()


def _eval_models(kind: str) -> tuple[Any, Any]:
    """Two identical trained models (same seed, same budget) of one kind."""
    from stable_baselines3 import DQN, PPO

    import spikerl.agents  # noqa: F401  (registers the spiking SB3 policies)

    def make() -> Any:
        env = make_vec_env("CartPole-v1", n_envs=1, seed=0)
        if kind == "private":
            m: Any = RSTDP("SpikingPolicy", env, window_preset("CartPole"), seed=0)
            m.learn(1500)
        elif kind == "parts":
            m = RSTDP("SpikingPolicy", env, policy_kwargs=small_parts(), seed=0)
            m.learn(150)
        elif kind == "ppo_spiking":
            m = PPO("SpikingMlpPolicy", env, n_steps=64, batch_size=32, seed=0,
                    policy_kwargs=dict(layers=[16], time_steps=2))  # fmt: skip
            m.learn(128)
        else:
            m = DQN("MlpPolicy", env, learning_starts=50, seed=0)
            m.learn(200)
        return m

    return make(), make()


@pytest.mark.parametrize("kind", ["private", "parts", "ppo_spiking", "dqn"])
def test_greedy_episodes_through_the_pipeline_play_what_their_own_loop_played(kind: str) -> None:
    """``greedy_episodes`` (now ``Pipeline.run(episodes=...)`` over ``model.predict``) gives
    the returns, lengths, tie fraction, margin and action counts of its former loop, for the
    R-STDP agent (private and parts policies) and SB3's own algorithms."""
    from spikerl.agents.evaluation import greedy_episodes

    new, old = _eval_models(kind)
    got = greedy_episodes(new, make_vec_env("CartPole-v1", n_envs=1, seed=7), 3)
    returns, lengths, tied, margins, counts = _legacy_greedy(
        old, make_vec_env("CartPole-v1", n_envs=1, seed=7), 3
    )
    assert got.returns == returns and got.lengths == lengths
    assert got.action_counts == counts and sum(counts) == sum(lengths)
    if kind in ("private", "parts"):
        assert len(tied) == sum(lengths)
        assert got.tie_fraction == pytest.approx(float(np.mean(tied)), abs=0)
        assert got.margin == pytest.approx(float(np.mean(margins)), rel=1e-12)
    else:
        assert np.isnan(got.tie_fraction) and np.isnan(got.margin) and not tied


def test_pipeline_run_stops_after_episodes_and_refuses_no_budget() -> None:
    cfg = window_preset("CartPole")
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = RSTDP("SpikingPolicy", env, cfg, seed=0)
    pipe = Pipeline(env, model, learn=False, log_every=10**9)
    res = pipe.run(episodes=3)
    # two sub-envs: the last step may end one more episode than asked for
    assert 3 <= len(res.episode_returns) <= 4
    assert sum(res.action_counts) == res.steps and res.decisions == res.steps
    assert 0.0 <= res.tie_fraction <= 1.0
    short = pipe.run(10, episodes=1000)  # the step budget comes first
    assert short.steps == 10
    with pytest.raises(ValueError, match="n_steps or episodes"):
        pipe.run()
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        pipe.run(episodes=0)
