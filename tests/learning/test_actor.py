"""The R-STDP actor's three-factor update: hand-computed steps and the agent's fused kernel."""

from __future__ import annotations

import numpy as np
import pytest

from spikerl.learning import actor


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


def test_normalise_columns_caps_the_spread_by_hand() -> None:
    """Column 0: weights 0 and 4 (mean 2, std 2) held at mean 1 and capped at std 1 ->
    shift to -1 and 3, shrink by 1 / 2 about 1 -> 0 and 2. Column 1: 1 and 1.5 (std 0.25,
    under the cap) only shifts to 0.75 and 1.25. Then the bounds [0.1, 1.9] clip."""
    import torch

    want = [[0.1, 0.75], [1.9, 1.25]]
    w = np.array([[0.0, 1.0], [4.0, 1.5]])
    actor.normalise_columns(w, 1.0, 0.1, 1.9, max_std=1.0)
    np.testing.assert_allclose(w, want, rtol=0, atol=1e-15)
    t = torch.tensor([[0.0, 1.0], [4.0, 1.5]], dtype=torch.float64)
    actor.normalise_columns(t, 1.0, 0.1, 1.9, max_std=1.0)
    np.testing.assert_allclose(t.numpy(), want, rtol=0, atol=1e-15)
    u = np.array([[0.0, 1.0], [4.0, 1.5]])
    actor.normalise_columns(u, 1.0, None, None)  # no cap: the spread is kept
    np.testing.assert_allclose(u, [[-1.0, 0.75], [3.0, 1.25]], rtol=0, atol=1e-15)


def test_column_mean_refuses_a_spread_cap_that_is_not_positive() -> None:
    import pytest

    from spikerl.learning import ColumnMean

    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="max_std must be a positive number"):
            ColumnMean(0.5, max_std=bad)
