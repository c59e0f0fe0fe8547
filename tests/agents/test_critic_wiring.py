"""Both learners run the one TD(lambda) critic of :mod:`spikerl.learning.critic`.

* Equivalence: the CartPole preset agent (compiled and NumPy paths, 1 and 2 envs) and a
  parts policy learn bit for bit the weights that the learners' own critic arithmetic
  gave before it moved into the module. That arithmetic is kept here, verbatim, as
  ``_Legacy*`` learners (one change: the compiled update no longer clips rewards itself,
  so the legacy learner clips them right before the call, the same ``min(max(r, -c), c)``).
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
from spikerl.agents.kernels import update_kernel
from spikerl.agents.learner import RSTDPLearner
from spikerl.agents.network import StepOutput
from spikerl.agents.rstdp import RSTDPConfig
from spikerl.core import Network
from spikerl.pipeline import Pipeline

from .parts import private_preset, small_parts

SCALE = 0.25


def _scaled(env: gym.Env) -> gym.Env:  # type: ignore[type-arg]
    """``env`` with its rewards multiplied by ``SCALE``."""
    return gym.wrappers.TransformReward(env, lambda r: float(r) * SCALE)


class _LegacyLearner(RSTDPLearner):
    """The private agent's learner with its own critic arithmetic (before the module)."""

    def reset(self, episode_start: np.ndarray) -> None:
        if episode_start.any():
            from spikerl.agents.network import SpikingActorCritic

            self.actor_state = SpikingActorCritic.reset_state(self.actor_state, episode_start)
            keep = ~episode_start.astype(bool)
            self.learn_state.elig[~keep] = 0.0
            self.learn_state.z_critic[~keep] = 0.0

    def run_window(self, phi: np.ndarray, *, deterministic: bool, learn: bool) -> StepOutput:
        out, self.actor_state = self.net.step(
            phi, self.actor_state, deterministic=deterministic, learn=learn, rng=self.rng
        )
        if learn:
            elig, zc = self.learn_state
            elig *= self.learn.gamma * self.learn.lam_actor
            elig += out.z
            zc *= self.learn.gamma * self.learn.lam_critic
            zc += phi
        self._phi = phi
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
    ) -> UpdateStats:
        if stale is None:
            stale = np.ones(len(rewards), dtype=bool)
        assert self._phi is not None
        b = self._phi.shape[0]
        phi_next = self.features(bootstrap_obs)
        if self.learn.reward_scale != 1.0:
            rewards = np.asarray(rewards, dtype=np.float64) * self.learn.reward_scale
        kernel = update_kernel()
        if kernel is None:
            stats = self._update_numpy(phi_next, rewards, terminated, lr_fraction, mask)
        else:
            lc = self.learn
            net = self.net
            r = np.asarray(rewards, dtype=np.float64)
            if lc.reward_clip > 0:  # was inside the kernel: r = min(max(r, -c), c)
                r = np.minimum(np.maximum(r, -lc.reward_clip), lc.reward_clip)
            mod, dw, value = kernel(
                self._phi,
                phi_next,
                r,
                np.asarray(terminated, dtype=np.bool_),
                np.ones(b) if mask is None else np.asarray(mask, dtype=np.float64),
                net.critic_np,
                net.w_np,
                self.learn_state.elig,
                self.learn_state.z_critic,
                lc.gamma,
                lc.delta_clip,
                lc.modulation is Modulation.TD_ERROR,
                lr_fraction * lc.lr_critic / b,
                lr_fraction * lc.lr_actor / (net.n_features * b),
                net.snn.wmin,
                net.snn.wmax,
                self._col_mean(),
            )
            stats = UpdateStats(mod, dw, value)
        self._phi_next = phi_next
        self._stale = stale
        return stats

    def _update_numpy(
        self,
        phi_next: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        lr_fraction: float,
        mask: np.ndarray | None,
    ) -> UpdateStats:
        assert self._phi is not None
        lc = self.learn
        net = self.net
        phi = self._phi
        v = net.value(phi)
        v_next = net.value(phi_next) * (1.0 - terminated.astype(np.float64))
        r = rewards.astype(np.float64)
        if lc.reward_clip > 0:
            r = np.clip(r, -lc.reward_clip, lc.reward_clip)
        td = np.clip(r + lc.gamma * v_next - v, -lc.delta_clip, lc.delta_clip)
        if lc.modulation is Modulation.TD_ERROR:
            mod = td
        else:
            mod = np.clip(r, -lc.delta_clip, lc.delta_clip)
        if mask is not None:
            td = td * mask
            mod = mod * mask
        b = len(r)
        ls = self.learn_state
        f = net.n_features
        crit = net.critic_np
        crit += (lr_fraction * lc.lr_critic / b) * np.einsum(
            "b,bf->f", td / np.maximum(phi.sum(axis=1), 1e-8), ls.z_critic
        )
        dw = (lr_fraction * lc.lr_actor / (f * b)) * np.tensordot(mod, ls.elig, axes=1)
        w = net.w_np
        w += dw
        np.clip(w, net.snn.wmin, net.snn.wmax, out=w)
        target = self._col_mean()
        if target.size:
            w += target - w.mean(axis=0, keepdims=True)
            np.clip(w, net.snn.wmin, net.snn.wmax, out=w)
        return UpdateStats(float(mod.mean()), float(np.abs(dw).mean()), float(v.mean()))


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


def _cartpole(
    n_envs: int, steps: int, legacy: bool, scaled_env: bool = False, **learn: Any
) -> tuple[np.ndarray, np.ndarray]:
    """CartPole preset agent after ``steps`` steps: (actor weights, critic weights)."""
    cfg = private_preset("CartPole")
    cfg = dataclasses.replace(cfg, learn=dataclasses.replace(cfg.learn, **learn))
    env = make_vec_env(
        "CartPole-v1", n_envs=n_envs, seed=0, wrapper_class=_scaled if scaled_env else None
    )
    model = RSTDP("SpikingPolicy", env, cfg, seed=0)
    if legacy:
        model.learner = _LegacyLearner(
            model.policy.net,
            model.policy.features,
            cfg.learn,
            n_envs,
            np.random.default_rng(104729),
        )
    model.learn(steps)
    assert isinstance(model.learner, _LegacyLearner) is legacy
    net = model.policy.net
    return net.w_np.copy(), net.critic_np.copy()


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


def _no_kernels(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    if on:
        monkeypatch.setenv("SPIKERL_NO_KERNELS", "1")
        assert update_kernel() is None
    elif update_kernel() is None:
        pytest.skip("numba kernels unavailable")


@pytest.mark.parametrize("numpy_path", [False, True], ids=["compiled", "numpy"])
@pytest.mark.parametrize("n_envs", [1, 2])
def test_cartpole_preset_learns_what_the_old_critic_learned(
    monkeypatch: pytest.MonkeyPatch, numpy_path: bool, n_envs: int
) -> None:
    """400 steps of the CartPole preset: the same actor and critic weights, bit for bit.

    One exception, stated: the NumPy fallback with 2 envs sums the critic's batch as a
    matrix product (the parts policy's order) instead of ``einsum``: 1e-13 there.
    """
    _no_kernels(monkeypatch, numpy_path)
    w_new, c_new = _cartpole(n_envs, 400, legacy=False)
    w_old, c_old = _cartpole(n_envs, 400, legacy=True)
    assert np.abs(c_new).max() > 0.1
    tol = 1e-13 if numpy_path and n_envs > 1 else 0.0
    np.testing.assert_allclose(w_new, w_old, rtol=0, atol=tol)
    np.testing.assert_allclose(c_new, c_old, rtol=0, atol=tol)


def test_cartpole_scaled_and_clipped_rewards_learn_what_the_old_critic_learned() -> None:
    """Pendulum-style reward settings (scale and clip) on the compiled path: bit for bit."""
    if update_kernel() is None:
        pytest.skip("numba kernels unavailable")
    w_new, c_new = _cartpole(1, 400, legacy=False, reward_scale=0.1, reward_clip=0.05)
    w_old, c_old = _cartpole(1, 400, legacy=True, reward_scale=0.1, reward_clip=0.05)
    np.testing.assert_array_equal(w_new, w_old)
    np.testing.assert_array_equal(c_new, c_old)


def test_parts_policy_learns_what_the_old_critic_learned() -> None:
    w_new, c_new = _parts_agent(200, legacy=False)
    w_old, c_old = _parts_agent(200, legacy=True)
    for a, b in zip(w_new, w_old, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(c_new, c_old)
    assert np.abs(c_new).max() > 0.1


@pytest.mark.parametrize("numpy_path", [False, True], ids=["compiled", "numpy"])
def test_reward_scale_is_honoured_by_the_private_agent(
    monkeypatch: pytest.MonkeyPatch, numpy_path: bool
) -> None:
    _no_kernels(monkeypatch, numpy_path)
    w_s, c_s = _cartpole(1, 300, legacy=False, reward_scale=SCALE)
    w_e, c_e = _cartpole(1, 300, legacy=False, scaled_env=True)
    w_1, _ = _cartpole(1, 300, legacy=False)
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
