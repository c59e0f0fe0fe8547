"""The R-STDP actor's three-factor update: hand-computed steps and the agent's fused kernel."""

from __future__ import annotations

import numpy as np
import pytest

from spikerl.learning import TDLambdaCritic, actor


def test_pair_sums_and_centring_by_hand() -> None:
    """One pre and two post neurons, T = 2, batch 1 (all numbers exact).

    Pre spikes at t = 0 (trace 1, then 1/2); post 0 spikes at t = 1, post 1 never;
    post traces before each step: [0, 0] then [0, 0].
    LTP: a_plus * x_pre[1] * s_post[1, 0] = 2 * 1/2 = 1 for post 0; LTD: a_minus *
    s_pre[0] * x_post_before[0] = 0. Z = [[1, 0]]; centred: [[1/2, -1/2]].
    """
    x_pre = np.array([[[1.0]], [[0.5]]])
    s_post = np.array([[[0.0, 0.0]], [[1.0, 0.0]]])
    s_pre = np.array([[[1.0]], [[0.0]]])
    before = np.zeros((2, 1, 2))
    z = actor.pair_sums(x_pre, s_post, s_pre, before, a_plus=2.0, a_minus=1.0)
    assert z.tolist() == [[[1.0, 0.0]]]
    # depression: a post trace of 1/4 before the pre spike at t = 0
    before[0, 0, 1] = 0.25
    z = actor.pair_sums(x_pre, s_post, s_pre, before, a_plus=2.0, a_minus=1.0)
    assert z.tolist() == [[[1.0, -0.25]]]
    actor.centre(z)
    assert z.tolist() == [[[0.625, -0.625]]]


def test_update_by_hand() -> None:
    """F = 2 features, N = 2 neurons, B = 2 envs, rho = 1/2, lr = 8: step size 1.

    e after decay 1/2: e_0 = [[1, 0], [0, 0]] / 2 + [[1, 0], [0, 2]] = [[3/2, 0], [0, 2]],
    e_1 = [[0, 1], [1, 0]]. m = [2, -1] -> dW = [[3, -1], [-1, 4]].
    W = [[0, 0], [0, 0]] + dW clipped to [-1, 3] -> [[3, -1], [-1, 3]];
    normalised to mean 1: column means [1, 1] -> unchanged.
    """
    elig = np.array([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    z = np.array([[[1.0, 0.0], [0.0, 2.0]], [[0.0, 1.0], [1.0, 0.0]]])
    actor.accumulate_eligibility(elig, z, 0.5)
    assert elig.tolist() == [[[1.5, 0.0], [0.0, 2.0]], [[0.0, 1.0], [1.0, 0.0]]]
    assert actor.actor_step_size(0.5, 8.0, 2, 2) == 1.0
    dw = actor.weight_change(np.array([2.0, -1.0]), elig, 0.5, 8.0)
    assert dw.tolist() == [[3.0, -1.0], [-1.0, 4.0]]
    w = np.zeros((2, 2))
    actor.apply_change(w, dw, -1.0, 3.0, target=1.0)
    assert w.tolist() == [[3.0, -1.0], [-1.0, 3.0]]
    # normalisation alone: column 0 mean 1/2 -> shifted by 1/2, then clipped at 3
    w = np.array([[3.0, 0.0], [-2.0, 0.0]])
    actor.normalise_columns(w, 1.0, -1.0, 3.0)
    assert w.tolist() == [[3.0, 1.0], [-1.0, 1.0]]


def test_third_factor() -> None:
    delta = np.array([0.5, -2.0])
    reward = np.array([3.0, -0.5])
    mask = np.array([1.0, 0.0])
    assert actor.third_factor(delta, reward, mask, td_error=True, clip=1.0) is delta
    out = actor.third_factor(delta, reward, mask, td_error=False, clip=1.0)
    assert out.tolist() == [1.0, -0.0]
    assert actor.third_factor(delta, reward, None, td_error=False, clip=1.0).tolist() == [1, -0.5]


@pytest.mark.parametrize("weight_norm", [False, True], ids=["plain", "weight_norm"])
@pytest.mark.parametrize("td_modulation", [True, False], ids=["td", "reward"])
def test_agent_update_kernel_is_this_rule(weight_norm: bool, td_modulation: bool) -> None:
    """The R-STDP agent's fused update kernel computes this module's actor update: the
    actor weights, the mean third factor and the mean ``|dW|`` agree to 1e-12 over 400
    random batched steps (eligibility decay and centred pairs, masks, a decaying schedule,
    weights driven into both bounds)."""
    from spikerl.agents.kernels import update_kernel

    kernel = update_kernel()
    if kernel is None:
        pytest.skip("numba kernels unavailable")
    critic = TDLambdaCritic(gamma=0.97, lam=0.7, lr=0.2, reward_clip=1.5, delta_clip=2.0)
    rng = np.random.default_rng(1)
    b, f, n = 3, 12, 6
    wmin, wmax, lr, decay = -1.0, 1.5, 40.0, 0.97 * 0.8
    target = 0.25 if weight_norm else None
    w_crit, trace = critic.initial_state(f, b)
    w_crit_k = w_crit.copy()
    w_k = rng.uniform(0.0, 0.5, (f, n))
    w_m = w_k.copy()
    elig = np.zeros((b, f, n))
    low = high = 0
    for k in range(400):
        phi = rng.random((b, f)) * (rng.random((b, f)) < 0.5)
        phi_next = rng.random((b, f)) * (rng.random((b, f)) < 0.5)
        rewards = rng.normal(0.0, 2.0, b)
        terminated = rng.random(b) < 0.1
        mask = (rng.random(b) < 0.9).astype(np.float64)
        rho = 1.0 - k / 800
        z = rng.normal(0.0, 1.0, (b, f, n))
        actor.centre(z)
        actor.accumulate_eligibility(elig, z, decay)
        critic.accumulate(trace, phi)
        out = critic.td_error(w_crit, phi, phi_next, rewards, terminated, mask)
        mod_k, abs_dw_k, _ = kernel(
            phi, phi_next, critic.shape_rewards(rewards), terminated, mask, w_crit_k, w_k,
            elig, trace, critic.gamma, critic.delta_clip, td_modulation,
            critic.step_size(rho, b), actor.actor_step_size(rho, lr, f, b), wmin, wmax,
            np.empty(0) if target is None else np.full(n, target),
        )  # fmt: skip
        critic.update(w_crit, trace, phi, out.delta, rho)
        mod = actor.third_factor(
            out.delta, out.reward, mask, td_error=td_modulation, clip=critic.delta_clip
        )
        dw = actor.weight_change(mod, elig, rho, lr)
        actor.apply_change(w_m, dw, wmin, wmax, target)
        np.testing.assert_allclose(w_k, w_m, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(mod_k, mod.mean(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(abs_dw_k, np.abs(dw).mean(), rtol=1e-12, atol=1e-12)
        low += int((w_m == wmin).sum())
        high += int((w_m == wmax).sum())
    assert low > 100 and high > 100  # both bounds were hit, often
    if target is not None:  # columns away from the bounds hold their mean
        free = ((w_m > wmin) & (w_m < wmax)).all(axis=0)
        np.testing.assert_allclose(w_m.mean(axis=0)[free], target, atol=1e-12)


def test_agent_numpy_window_pairs_are_this_rule() -> None:
    """The agent's NumPy window (``step_numpy``) gives the compiled window's centred pair
    sums (the kernel's own loops) to 1e-12 on the CartPole preset's network."""
    from spikerl.agents.config import SNNConfig
    from spikerl.agents.kernels import window_kernel
    from spikerl.agents.network import SpikingActorCritic

    if window_kernel() is None:
        pytest.skip("numba kernels unavailable")
    import torch

    net = SpikingActorCritic(20, 2, SNNConfig(gap=0.0), torch.Generator().manual_seed(0))
    state_k = state_m = net.initial_state(2)
    for k in range(30):
        phi = np.random.default_rng(k).random((2, 20))
        out_k, state_k = net.step(
            phi, state_k, deterministic=False, learn=True, rng=np.random.default_rng(100 + k)
        )
        out_m, state_m = net.step_numpy(
            phi, state_m, deterministic=False, learn=True, rng=np.random.default_rng(100 + k)
        )
        np.testing.assert_array_equal(out_k.spikes, out_m.spikes)
        np.testing.assert_allclose(out_k.z, out_m.z, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out_m.z.sum(axis=2), 0.0, atol=1e-12)


def test_column_mean_piece_is_the_agents_normalisation() -> None:
    """A core dense projection learning through ``Plasticity`` with :class:`ColumnMean`
    takes the agent's step ``clip(W + dW)``, then the per-neuron shift and clip (the same
    function, in torch): equal to the NumPy path to 1e-12 over 50 random changes."""
    import torch

    from spikerl.core import LIF, DenseProjection, Input, Network
    from spikerl.learning import MSTDPET, ColumnMean, Plasticity

    rng = np.random.default_rng(4)
    w0 = rng.uniform(0.0, 1.0, (10, 6))
    net = Network(dt=1.0)
    net.add_population("a", Input(10))
    net.add_population("b", LIF(6))
    net.connect("a", "b", DenseProjection(10, 6, torch.as_tensor(w0), wmin=-1.0, wmax=1.2))
    plastic = Plasticity.bind(net, "a->b", MSTDPET(), pieces=[ColumnMean(0.4)])
    w_np = w0.copy()
    low = high = 0
    for _ in range(50):
        dw = rng.normal(0.0, 0.5, (10, 6))
        plastic.apply(torch.as_tensor(dw), 1.0)
        actor.apply_change(w_np, dw, -1.0, 1.2, target=0.4)
        np.testing.assert_allclose(
            plastic.projection.weight.detach().numpy(), w_np, rtol=1e-12, atol=1e-12
        )
        low, high = low + int((w_np == -1.0).sum()), high + int((w_np == 1.2).sum())
    assert low > 10 and high > 10
    with pytest.raises(ValueError, match="target must be finite"):
        ColumnMean(float("nan"))
