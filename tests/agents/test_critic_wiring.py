"""The learner runs the one TD(lambda) critic of :mod:`spikerl.learning.critic`.

* Equivalence: a parts policy learns bit for bit the weights that the learner's own critic
  arithmetic gave before it moved into the module (kept here, verbatim, as
  ``_LegacyNetworkLearner``). The presets' actor against the former private network's
  critic: ``test_stack_equivalence.py``.
* ``learn.reward_scale`` is honoured on every path: an agent with ``reward_scale = s``
  learns exactly what an agent with ``reward_scale = 1`` learns on an env whose rewards are
  multiplied by ``s`` (``s = 0.25``: exact in the float32 reward buffers of SB3's VecEnv).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env

from spikerl.agents import RSTDP
from spikerl.agents.config import LearnConfig, Modulation, UpdateStats
from spikerl.agents.core_policy import NetworkLearner, _rates
from spikerl.agents.rstdp import RSTDPConfig
from spikerl.core import Network
from spikerl.pipeline import Pipeline

from .parts import small_parts, window_preset

SCALE = 0.25


def _scaled(env: gym.Env) -> gym.Env:  # type: ignore[type-arg]
    """``env`` with its rewards multiplied by ``SCALE``."""
    return gym.wrappers.TransformReward(env, lambda r: float(r) * SCALE)


class _LegacyNetworkLearner(NetworkLearner):
    """The parts policy's learner with its own critic arithmetic (it ignored
    ``reward_scale``)."""

    def reset(self, episode_start: np.ndarray) -> None:
        starts = np.asarray(episode_start, dtype=bool).reshape(-1)
        if not starts.any():
            return
        m = torch.as_tensor(starts)
        if self._started:
            self.plan.reset(m)
        for p in self.plasticities:
            p.reset(m)
        self.z_critic[starts] = 0.0

    def _window(self, x: torch.Tensor, learn: bool, p: Any = None, stochastic: bool = True) -> Any:
        plan = self.plan
        if not self._started:
            plan.load_state(None)
            self._started = True
        out = self.policy.run_plan(plan, x, self.generator, learn=learn)
        self._phi = _rates(x)
        if learn:
            lc = self.learn
            self.z_critic *= lc.gamma * lc.lam_critic
            self.z_critic += self._phi
        self.last = out
        return out

    def update(
        self,
        rewards: np.ndarray,
        bootstrap_obs: np.ndarray,
        terminated: np.ndarray,
        lr_fraction: float = 1.0,
        stale: np.ndarray | None = None,
        mask: np.ndarray | None = None,
    ) -> Any:
        assert self._phi is not None
        lc = self.learn
        x_next = self.policy.encode(bootstrap_obs, self.generator)
        phi_next = _rates(x_next)
        r = np.asarray(rewards, dtype=np.float64)
        if lc.reward_clip > 0:
            r = np.clip(r, -lc.reward_clip, lc.reward_clip)
        v = self._phi @ self.critic
        v_next = (phi_next @ self.critic) * (1.0 - np.asarray(terminated, dtype=np.float64))
        td = np.clip(r + lc.gamma * v_next - v, -lc.delta_clip, lc.delta_clip)
        mod = (
            td
            if lc.modulation is Modulation.TD_ERROR
            else np.clip(r, -lc.delta_clip, lc.delta_clip)
        )
        if mask is not None:
            td = td * mask
            mod = mod * mask
        b = len(r)
        norm = np.maximum(self._phi.sum(axis=1), 1e-8)
        self.critic += (lr_fraction * lc.lr_critic / b) * ((td / norm) @ self.z_critic)
        signal = torch.from_numpy(np.asarray(lr_fraction * lc.lr_actor * mod, dtype=np.float64))
        dw = 0.0
        for p in self.plasticities:
            p.deliver(signal.to(p.projection.weight.dtype))
            dw += p.last_mean_abs_change
        self._x_next = x_next
        self._stale = np.ones(b, dtype=bool) if stale is None else np.asarray(stale, dtype=bool)
        return UpdateStats(float(mod.mean()), dw / len(self.plasticities), float(v.mean()))


def _cartpole(n_envs: int, steps: int, scaled_env: bool = False, **learn: Any) -> tuple[Any, Any]:
    """CartPole preset agent after ``steps`` steps: (actor weights, critic weights)."""
    cfg = window_preset("CartPole")
    cfg = dataclasses.replace(cfg, learn=dataclasses.replace(cfg.learn, **learn))
    env = make_vec_env(
        "CartPole-v1", n_envs=n_envs, seed=0, wrapper_class=_scaled if scaled_env else None
    )
    model = RSTDP("SpikingPolicy", env, cfg, seed=0)
    model.learn(steps)
    return model.plastic_weights()["input->action"], np.asarray(model.learner.critic).copy()


def _weights(net: Network) -> list[np.ndarray]:
    return [
        net.projection(n).weight.detach().numpy().copy()
        for n in ("input->hidden", "hidden->action")
    ]


def _parts_agent(
    steps: int, legacy: bool, scaled_env: bool = False, **learn: Any
) -> tuple[list[np.ndarray], np.ndarray]:
    """Parts policy trained by RSTDP on CartPole: (projection weights, critic weights)."""
    cfg = RSTDPConfig()
    cfg = dataclasses.replace(cfg, learn=dataclasses.replace(cfg.learn, **learn))
    env = _scaled(gym.make("CartPole-v1")) if scaled_env else gym.make("CartPole-v1")
    parts = small_parts()
    model = RSTDP("SpikingPolicy", env, cfg, policy_kwargs=parts, seed=0)
    if legacy:
        legacy_learner = _LegacyNetworkLearner(model.policy, cfg.learn, 1, 0)  # type: ignore[arg-type]
        model.learner = legacy_learner  # type: ignore[assignment]
    model.learn(steps)
    learner: Any = model.learner
    assert isinstance(learner, _LegacyNetworkLearner) is legacy
    return _weights(parts["network"]), learner.critic.copy()


def test_parts_policy_learns_what_the_old_critic_learned() -> None:
    w_new, c_new = _parts_agent(200, legacy=False)
    w_old, c_old = _parts_agent(200, legacy=True)
    for a, b in zip(w_new, w_old, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c_new, c_old)
    assert np.abs(c_new).max() > 0.1


@pytest.mark.parametrize("n_envs", [1, 2])
def test_reward_scale_is_honoured_by_the_preset_agent(n_envs: int) -> None:
    w_s, c_s = _cartpole(n_envs, 300, reward_scale=SCALE)
    w_e, c_e = _cartpole(n_envs, 300, scaled_env=True)
    w_1, _ = _cartpole(n_envs, 300)
    np.testing.assert_array_equal(w_s, w_e)
    np.testing.assert_array_equal(c_s, c_e)
    assert not np.array_equal(w_s, w_1)  # the scale mattered


def test_reward_scale_is_honoured_by_the_parts_policy() -> None:
    """The parts policy ignored ``reward_scale`` before the critic moved to the module."""
    w_s, c_s = _parts_agent(200, legacy=False, reward_scale=SCALE)
    w_e, c_e = _parts_agent(200, legacy=False, scaled_env=True)
    _, c_1 = _parts_agent(200, legacy=False)
    for a, b in zip(w_s, w_e, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c_s, c_e)
    assert not np.array_equal(c_s, c_1)


def test_reward_scale_is_honoured_through_the_pipeline() -> None:
    """The Pipeline drives the same learner: scaled rewards in the config or in the env
    give the same weights."""

    def run(learn: LearnConfig, env: gym.Env) -> np.ndarray:  # type: ignore[type-arg]
        parts = small_parts()
        model = RSTDP(
            "SpikingPolicy", gym.make("CartPole-v1"), RSTDPConfig(learn=learn), policy_kwargs=parts
        )
        Pipeline(env, model, log_every=10_000).run(150, seed=0)
        learner: Any = model.learner
        return np.asarray(learner.critic).copy()

    c_s = run(LearnConfig(reward_scale=SCALE), gym.make("CartPole-v1"))
    c_e = run(LearnConfig(), _scaled(gym.make("CartPole-v1")))
    np.testing.assert_array_equal(c_s, c_e)
    assert np.abs(c_s).max() > 0
