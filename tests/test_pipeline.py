"""Pipeline: explicit loop, Gymnasium 1.x autoreset, dataset variant."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from stable_baselines3.common.env_util import make_vec_env

from spikerl.agents import RSTDP, LearnConfig, NetworkLearner, RSTDPConfig
from spikerl.agents.presets import load_agent_preset
from spikerl.pipeline import DatasetPipeline, Pipeline


def _learner(n: int, seed: int = 0) -> NetworkLearner:
    """The default actor on CartPole's Gaussian fields, for ``n`` environments."""
    cfg = RSTDPConfig(features=load_agent_preset("rstdp", "CartPole").features, learn=LearnConfig())
    env = make_vec_env("CartPole-v1", n_envs=n, seed=seed)
    return RSTDP("SpikingPolicy", env, cfg, seed=seed).learner


def test_single_env_learns_and_logs() -> None:
    logs: list[dict[str, float]] = []
    p = Pipeline(
        gym.make("CartPole-v1"),
        _learner(1),
        log_every=1000,
        log_fn=logs.append,
        lr_schedule=lambda prog: 1.0 - 0.95 * prog,
    )
    res = p.run(6000, seed=0)
    assert res.steps == 6000
    assert sum(res.episode_lengths) <= 6000
    assert len(logs) == 6 and "rstdp/mean_abs_dw" in logs[0]
    assert np.mean(res.episode_returns[-10:]) > np.mean(res.episode_returns[:10])


def _count_autoreset_steps(mode: gym.vector.AutoresetMode) -> tuple[int, list[int], int]:
    env = gym.make_vec(
        "CartPole-v1", num_envs=3, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}
    )
    p = Pipeline(env, _learner(3), log_every=10**9)
    seen: list[np.ndarray] = []
    orig = p.plasticity

    def spy(r, boot, term, valid, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(valid.copy())
        return orig(r, boot, term, valid, *args, **kwargs)

    p.plasticity = spy  # type: ignore[method-assign, assignment]
    res = p.run(1500, seed=1)
    masked = int(sum((~v).sum() for v in seen))
    return masked, res.episode_lengths, res.steps


def test_vector_next_step_autoreset_masks_the_reset_step() -> None:
    masked, lengths, steps = _count_autoreset_steps(gym.vector.AutoresetMode.NEXT_STEP)
    # one masked (no-transition) step per finished episode, except possibly the last ones
    assert len(lengths) - 3 <= masked <= len(lengths)
    assert sum(lengths) + masked <= steps
    assert all(1 <= n <= 500 for n in lengths)


def test_vector_same_step_autoreset_has_no_masked_steps() -> None:
    masked, lengths, steps = _count_autoreset_steps(gym.vector.AutoresetMode.SAME_STEP)
    assert masked == 0 and len(lengths) > 0 and sum(lengths) <= steps


def test_truncation_bootstraps_termination_does_not() -> None:
    learner = _learner(2)
    learner.critic[:] = 0.1
    obs = np.zeros((2, 4))
    learner.act(obs)
    p = learner.policy.encoder.probabilities(obs)  # type: ignore[operator]
    v = np.asarray(p).reshape(2, -1) @ learner.critic  # the critic reads the probabilities
    stats = learner.update(np.zeros(2), obs, np.array([True, False]), mask=np.array([True, True]))
    # terminated: delta = -V; truncated: delta = gamma V - V
    expect = np.mean([-v[0], 0.99 * v[1] - v[1]])
    assert np.isclose(stats.modulation, expect)


class _Toy:
    """Encode = identity, simulate = threshold, decode = first column."""

    def encode(self, x: np.ndarray) -> np.ndarray:
        return x

    def simulate(self, spikes: np.ndarray, labels: np.ndarray, learn: bool) -> np.ndarray:
        return spikes > 0.5

    def decode(self, output: np.ndarray) -> np.ndarray:
        return output[:, 0].astype(np.int64)


def test_dataset_pipeline_scores_batches() -> None:
    x = np.array([[0.9], [0.1], [0.7], [0.2]])
    y = np.array([1, 0, 0, 0])
    logs: list[dict[str, float]] = []
    res = DatasetPipeline(_Toy(), log_every=1, log_fn=logs.append).run(
        [(x[:2], y[:2]), (x[2:], y[2:])]
    )
    assert res.samples == 4 and res.correct == 3 and res.accuracy == 0.75
    assert len(logs) == 2
