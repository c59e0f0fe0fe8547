"""The agent's compiled window and update kernels against the NumPy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env

from spikerl.agents import RSTDP
from spikerl.agents.config import LearnConfig, Modulation, SNNConfig
from spikerl.agents.features import FeatureMap
from spikerl.agents.kernels import update_kernel, window_kernel
from spikerl.agents.learner import RSTDPLearner
from spikerl.agents.network import SpikingActorCritic

from .parts import private_preset

pytestmark = pytest.mark.skipif(window_kernel() is None, reason="numba kernels unavailable")


def _sparse_features(rng: np.random.Generator, b: int, f: int) -> np.ndarray:
    return rng.random((b, f)) * (rng.random((b, f)) < 0.25)


@pytest.mark.parametrize("deterministic", [False, True])
@pytest.mark.parametrize(
    "snn",
    [
        SNNConfig(w_init=5.0, w_init_low=3.0),
        SNNConfig(w_init=5.0, w_init_low=3.0, gap=0.0, center=False),
        SNNConfig(n_per_action=3, sim_steps=7, w_init=6.0, w_init_low=2.0, a_minus=0.0),
        SNNConfig(w_init=2.0, noise_std=0.0, input_rate=0.6, tau_pre=9.0, gap=3.0),
    ],
)
def test_window_kernel_matches_numpy(snn: SNNConfig, deterministic: bool) -> None:
    """Same draws -> same spikes, actions and counts; traces, potentials and Z to 1e-10."""
    net = SpikingActorCritic(40, 3, snn, generator=torch.Generator().manual_seed(0))
    rng_k, rng_n, rng_phi = (np.random.default_rng(s) for s in (1, 1, 2))
    st_k, st_n = net.initial_state(3), net.initial_state(3)
    fired = 0.0
    for _ in range(150):
        phi = _sparse_features(rng_phi, 3, 40)
        out_k, st_k = net.step(phi, st_k, deterministic=deterministic, learn=True, rng=rng_k)
        out_n, st_n = net.step_numpy(phi, st_n, deterministic=deterministic, learn=True, rng=rng_n)
        np.testing.assert_array_equal(out_k.spikes, out_n.spikes)
        np.testing.assert_array_equal(out_k.actions, out_n.actions)
        np.testing.assert_array_equal(out_k.counts, out_n.counts)
        np.testing.assert_allclose(out_k.rate, out_n.rate, rtol=0, atol=1e-15)
        np.testing.assert_allclose(out_k.z, out_n.z, rtol=1e-10, atol=1e-10)
        for a, b in zip(st_k, st_n, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
        fired += float(out_k.spikes.sum())
    assert fired > 100  # the comparison covered spiking windows
    # the random stream advanced identically
    assert rng_k.random() == rng_n.random()


def test_window_pair_sum_by_hand() -> None:
    """One input, two single-neuron populations, input on at both steps of a T = 2 window.

    Neuron 0 gets 13 mV per step (threshold 13 mV above rest): it fires at t = 0 and, reset
    to rest, again at t = 1; neuron 1 gets nothing. With ``d = exp(-dt / tau_pre)``:
    LTP(0) = a+ (x_pre[0] + x_pre[1]) = a+ (1 + (1 + d)); LTD(0) = a- x_post[0] = a- (the
    post trace before t = 1); LTD(1) = 0, so Z = [a+ (2 + d) - a-, 0].
    """
    snn = SNNConfig(n_per_action=1, sim_steps=2, w_inh=0.0, gap=0.0, center=False)
    net = SpikingActorCritic(1, 2, snn)
    net.w_np[:] = [[13.0, 0.0]]
    d = math.exp(-snn.dt / snn.tau_pre)
    want = [snn.a_plus * (2.0 + d) - snn.a_minus, 0.0]
    for step in (net.step, net.step_numpy):
        out, st = step(
            np.ones((1, 1)),
            net.initial_state(1),
            deterministic=True,
            learn=True,
            rng=np.random.default_rng(0),
        )
        assert out.spikes[:, 0, :].tolist() == [[1.0, 0.0], [1.0, 0.0]]
        np.testing.assert_allclose(out.z[0, 0], want, rtol=1e-14)
        np.testing.assert_allclose(st.x_pre[0], [1.0 + d])
        np.testing.assert_allclose(st.x_post[0, 0], 1.0 + math.exp(-snn.dt / snn.tau_post))


class _Identity(FeatureMap):
    n_features = 12

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(obs, dtype=np.float64)


@pytest.mark.parametrize(
    "learn",
    [
        LearnConfig(),
        LearnConfig(modulation=Modulation.REWARD, reward_clip=0.5, delta_clip=0.3),
        LearnConfig(weight_norm=True),
    ],
)
@pytest.mark.parametrize("gain_spread", [0.0, 0.8], ids=["equal_gains", "gain_spread"])
def test_update_kernel_matches_numpy(learn: LearnConfig, gain_spread: float) -> None:
    """Critic, actor weights and statistics after many act/update steps agree."""
    snn = SNNConfig(
        n_per_action=4, w_init=4.0, w_init_low=2.0, wmin=-3.0, wmax=4.5, gain_spread=gain_spread
    )

    w0 = SpikingActorCritic(12, 2, snn, generator=torch.Generator().manual_seed(3)).w_np.copy()

    def run(compiled: bool) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float, float]]]:
        net = SpikingActorCritic(12, 2, snn, generator=torch.Generator().manual_seed(3))
        lr = RSTDPLearner(net, _Identity(), learn, 2, np.random.default_rng(4))
        rng = np.random.default_rng(5)
        stats = []
        obs = _sparse_features(rng, 2, 12)
        for k in range(200):
            lr.act(obs)
            nxt = _sparse_features(rng, 2, 12)
            rew = rng.normal(0.0, 1.0, 2)
            term = rng.random(2) < 0.05
            mask = (rng.random(2) < 0.9).astype(np.float64)
            if compiled:
                s = lr.update(rew, nxt, term, lr_fraction=1.0 - k / 400, stale=term, mask=mask)
            else:
                phi_next = lr.features(nxt)
                s = lr._update_numpy(phi_next, rew, term, 1.0 - k / 400, mask)
                lr._phi_next, lr._stale = phi_next, term
            stats.append((s.modulation, s.mean_abs_dw, s.value))
            obs = nxt
        return net.w_np.copy(), net.critic_np.copy(), stats

    assert update_kernel() is not None
    w_k, c_k, s_k = run(True)
    w_n, c_n, s_n = run(False)
    np.testing.assert_allclose(w_k, w_n, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(c_k, c_n, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.array(s_k), np.array(s_n), rtol=1e-9, atol=1e-12)
    assert np.abs(c_k).max() > 0 and np.abs(w_k - w0).max() > 0.1  # learning happened
    assert w_k.max() <= snn.wmax and w_k.min() >= snn.wmin


def test_agent_learns_the_same_with_and_without_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CartPole run of 1500 steps: compiled and NumPy agents end with the same weights."""

    def run() -> tuple[np.ndarray, np.ndarray, int]:
        env = make_vec_env("CartPole-v1", n_envs=1, seed=0)
        model = RSTDP("SpikingPolicy", env, private_preset("CartPole"), seed=0)
        model.learn(1500)
        net = model.policy.net
        return net.w_np.copy(), net.critic_np.copy(), len(model.ep_info_buffer)

    w_k, c_k, n_k = run()
    monkeypatch.setenv("SPIKERL_NO_KERNELS", "1")
    assert window_kernel() is None and update_kernel() is None
    w_n, c_n, n_n = run()
    assert n_k == n_n and n_k > 5
    np.testing.assert_allclose(w_k, w_n, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(c_k, c_n, rtol=1e-8, atol=1e-8)


def test_window_pair_sum_equals_core_postpre() -> None:
    """Without centring, the agent's Z over consecutive windows (traces carried, no gap) is
    the core's PostPre pair sum (``A+ sum x_pre s_post - A- sum s_pre x_post^-``) on the same
    input and output spikes, with ``A- exp(dt / tau_post)`` for ``A-``: the agent's LTD
    reads the post trace of the previous step, ``x_post[t-1]``, the core's the same trace
    decayed to step ``t``, ``x_post^-[t] = exp(-dt / tau_post) x_post[t-1]``."""
    from spikerl.core.projections import DenseProjection
    from spikerl.learning import PostPre
    from spikerl.learning.activity import Reduction, TraceState, compute_activity

    snn = SNNConfig(w_init=5.0, w_init_low=3.0, gap=0.0, center=False, sim_steps=6, tau_pre=7.0)
    net = SpikingActorCritic(30, 4, snn, generator=torch.Generator().manual_seed(1))
    a_minus = snn.a_minus * math.exp(snn.dt / snn.tau_post)
    rule = PostPre(a_plus=snn.a_plus, a_minus=a_minus, tau_plus=7.0, tau_minus=snn.tau_post)
    proj = DenseProjection(30, net.n_neurons, weight=torch.from_numpy(net.w_np.copy())).double()
    rng, rng_phi = np.random.default_rng(3), np.random.default_rng(4)
    st = net.initial_state(2)
    traces: TraceState | None = None
    for _ in range(5):
        phi = _sparse_features(rng_phi, 2, 30)
        draws = np.random.default_rng()
        draws.bit_generator.state = rng.bit_generator.state  # the input draws step() makes
        s_in = (draws.random((snn.sim_steps, 2, 30)) < np.clip(phi, 0, 1)).astype(np.float64)
        out, st = net.step(phi, st, deterministic=False, learn=True, rng=rng)
        act, traces = compute_activity(
            proj,
            torch.from_numpy(s_in),
            torch.from_numpy(out.spikes),
            rule.pre_trace,
            rule.post_trace,
            snn.dt,
            traces,
        )
        t = snn.sim_steps
        for b in range(2):  # per batch element, from the core's traces
            x_pre, s_post = act.pre_trace[:, b].reshape(t, -1), act.post[:, b].reshape(t, -1)
            s_pre, x_post = act.pre[:, b].reshape(t, -1), act.post_trace_before[:, b].reshape(t, -1)
            ref = rule.a_plus * x_pre.T @ s_post - rule.a_minus * s_pre.T @ x_post
            np.testing.assert_allclose(out.z[b], ref.numpy(), rtol=1e-12, atol=1e-12)
        total = rule.delta(proj, act, reduction=Reduction.SUM).dw
        np.testing.assert_allclose(out.z.sum(0), total.numpy(), rtol=1e-12, atol=1e-12)
        assert np.abs(out.z).max() > 0.5


def test_window_rejects_mismatched_features_and_state() -> None:
    """Wrong feature width or a state of another batch size: a clear error, not a bad read."""
    net = SpikingActorCritic(10, 2, SNNConfig())
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"features: expected shape \[B, 10\]"):
        net.step(np.zeros((1, 9)), net.initial_state(1), deterministic=False, learn=True, rng=rng)
    with pytest.raises(ValueError, match=r"state.v: expected shape \[3, 16\]"):
        net.step(np.zeros((3, 10)), net.initial_state(1), deterministic=False, learn=True, rng=rng)


def test_update_rejects_mismatched_batch() -> None:
    net = SpikingActorCritic(12, 2, SNNConfig())
    lr = RSTDPLearner(net, _Identity(), LearnConfig(), 2, np.random.default_rng(0))
    obs = np.zeros((2, 12))
    lr.act(obs)
    with pytest.raises(ValueError, match=r"rewards must have shape \[2\]"):
        lr.update(np.zeros(3), obs, np.zeros(2, dtype=bool))
    with pytest.raises(ValueError, match="bootstrap observations give features"):
        lr.update(np.zeros(2), np.zeros((1, 12)), np.zeros(2, dtype=bool))


def test_weight_norm_keeps_each_neuron_mean() -> None:
    """With ``weight_norm`` every action neuron's mean weight returns to the mean of the
    initial range, (2 + 4) / 2 = 3 mV, after each update (bounds far away)."""
    snn = SNNConfig(n_per_action=4, w_init=4.0, w_init_low=2.0, wmin=-50.0, wmax=50.0)
    net = SpikingActorCritic(12, 2, snn, generator=torch.Generator().manual_seed(3))
    learner = RSTDPLearner(
        net, _Identity(), LearnConfig(weight_norm=True, lr_actor=5.0), 2, np.random.default_rng(0)
    )
    rng = np.random.default_rng(1)
    before = net.w_np.copy()
    for _ in range(20):
        obs = rng.random((2, 12))
        learner.act(obs)
        learner.update(rng.normal(size=2), rng.random((2, 12)), np.zeros(2, dtype=bool))
    assert np.abs(net.w_np - before).max() > 0.1  # the weights did move
    np.testing.assert_allclose(net.w_np.mean(axis=0), 3.0, atol=1e-9)


def test_gain_spread_gains_initial_weights_and_held_means() -> None:
    """``gain_spread`` 0.6 over 4 neurons per population gives gains 1 + 0.6 (k/3 - 1/2) =
    0.7, 0.9, 1.1, 1.3 (hand-computed) in each population; the initial weights are those
    gains times the equal-gain draw, and ``weight_norm`` holds neuron n at g_n * 3 mV."""
    snn = SNNConfig(n_per_action=4, w_init=4.0, w_init_low=2.0, wmin=-50.0, wmax=50.0)
    spread = SNNConfig(**{**snn.__dict__, "gain_spread": 0.6})
    gains = [0.7, 0.9, 1.1, 1.3] * 2
    np.testing.assert_allclose(spread.gains(2), gains, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(snn.gains(2), np.ones(8))
    np.testing.assert_array_equal(SNNConfig(n_per_action=1, gain_spread=0.6).gains(3), np.ones(3))
    plain = SpikingActorCritic(12, 2, snn, generator=torch.Generator().manual_seed(3))
    net = SpikingActorCritic(12, 2, spread, generator=torch.Generator().manual_seed(3))
    np.testing.assert_allclose(net.w_np, plain.w_np * np.array(gains), rtol=1e-15)
    learner = RSTDPLearner(
        net, _Identity(), LearnConfig(weight_norm=True, lr_actor=5.0), 2, np.random.default_rng(0)
    )
    rng = np.random.default_rng(1)
    before = net.w_np.copy()
    for _ in range(20):
        learner.act(rng.random((2, 12)))
        learner.update(rng.normal(size=2), rng.random((2, 12)), np.zeros(2, dtype=bool))
    assert np.abs(net.w_np - before).max() > 0.1
    np.testing.assert_allclose(net.w_np.mean(axis=0), 3.0 * np.array(gains), atol=1e-9)
    for bad in (-0.1, 2.0):
        with pytest.raises(ValueError, match="gain_spread must be in"):
            SNNConfig(gain_spread=bad)
