"""Rules: hand-computed values, reward modulation, eligibility, purity and batching."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import Tensor

from spikerl.core.projections import DenseProjection
from spikerl.learning import (
    MSTDP,
    MSTDPET,
    DiehlCook2015,
    Hebbian,
    LearningRule,
    PostPre,
    Reduction,
    TraceState,
    WeightDependentPostPre,
    compute_activity,
)


def spikes(g: torch.Generator, shape: tuple[int, ...], p: float = 0.2) -> Tensor:
    return (torch.rand(shape, generator=g) < p).float()


def train(T: int, n: int, times: dict[int, list[int]], B: int = 1) -> Tensor:
    """Spike train [T, B, n] with spikes of unit i at the given steps (all batch elements)."""
    s = torch.zeros(T, B, n)
    for i, ts in times.items():
        for t in ts:
            s[t, :, i] = 1.0
    return s


def run_rule(
    rule: LearningRule,
    proj: DenseProjection,
    pre: Tensor,
    post: Tensor,
    modulation: float | Tensor | None = None,
    state: Tensor | None = None,
    reduction: Reduction = Reduction.MEAN,
) -> tuple[Tensor, Tensor | None]:
    act, _ = compute_activity(proj, pre, post, rule.pre_trace, rule.post_trace)
    out = rule.delta(proj, act, modulation, state, reduction)
    return out.dw, out.state


ALL_RULES: list[tuple[LearningRule, float | None]] = [
    (Hebbian(), None),
    (PostPre(), None),
    (WeightDependentPostPre(wmin=0.0, wmax=1.0), None),
    (DiehlCook2015(), None),
    (MSTDP(), 0.7),
    (MSTDPET(), 0.7),
]


def test_postpre_hand_computed() -> None:
    proj = DenseProjection(2, 1, weight=0.0)
    pre = train(3, 2, {0: [0], 1: [2]})
    post = train(3, 1, {0: [1]})
    dw, _ = run_rule(
        PostPre(a_plus=1.0, a_minus=0.5, tau_plus=10.0, tau_minus=10.0), proj, pre, post
    )
    a = math.exp(-0.1)
    torch.testing.assert_close(dw, torch.tensor([[a], [-0.5 * a]]))


@pytest.mark.parametrize("rule,mod", ALL_RULES, ids=lambda r: type(r).__name__)
def test_purity_determinism_and_batch_mean(rule: LearningRule, mod: float | None) -> None:
    g = torch.Generator().manual_seed(3)
    proj = DenseProjection(6, 4, weight=torch.rand(6, 4, generator=g), wmin=0.0, wmax=1.0)
    pre, post = spikes(g, (20, 4, 6)), spikes(g, (20, 4, 4))
    act, _ = compute_activity(proj, pre, post, rule.pre_trace, rule.post_trace)
    snapshot = {f.name: getattr(act, f.name) for f in dataclasses.fields(act)}
    snapshot = {k: v.clone() if isinstance(v, Tensor) else v for k, v in snapshot.items()}
    w0 = proj.weight.detach().clone()
    out1 = rule.delta(proj, act, mod)
    out2 = rule.delta(proj, act, mod)
    assert torch.equal(out1.dw, out2.dw)
    assert torch.equal(proj.weight, w0)
    for k, v in snapshot.items():
        got = getattr(act, k)
        assert torch.equal(got, v) if isinstance(v, Tensor) else got == v
    # mean over the batch = mean of the per-sample changes; SUM = their sum
    per = [run_rule(rule, proj, pre[:, b : b + 1], post[:, b : b + 1], mod)[0] for b in range(4)]
    torch.testing.assert_close(out1.dw, torch.stack(per).mean(0), rtol=1e-5, atol=1e-7)
    total, _ = run_rule(rule, proj, pre, post, mod, reduction=Reduction.SUM)
    torch.testing.assert_close(total, torch.stack(per).sum(0), rtol=1e-5, atol=1e-7)
    assert out1.dw.shape == proj.weight.shape


def test_mstdp_reward_sign() -> None:
    proj = DenseProjection(1, 1, weight=0.5)
    pre = train(10, 1, {0: [2]})
    post = train(10, 1, {0: [5]})  # causal: dt = +3
    rule = MSTDP(gamma=0.1, a_plus=1.0, a_minus=-1.0, tau_plus=20.0)
    up, _ = run_rule(rule, proj, pre, post, 1.0)
    down, _ = run_rule(rule, proj, pre, post, -1.0)
    zero, _ = run_rule(rule, proj, pre, post, 0.0)
    assert float(up) == pytest.approx(0.1 * math.exp(-3 / 20))
    assert float(down) == pytest.approx(-float(up))
    assert torch.equal(zero, torch.zeros_like(zero))


def test_modulation_forms_agree() -> None:
    g = torch.Generator().manual_seed(0)
    proj = DenseProjection(5, 3)
    pre, post = spikes(g, (12, 2, 5), 0.3), spikes(g, (12, 2, 3), 0.3)
    rule = MSTDP()
    a, _ = run_rule(rule, proj, pre, post, 0.5)
    b, _ = run_rule(rule, proj, pre, post, torch.tensor([0.5, 0.5]))
    c, _ = run_rule(rule, proj, pre, post, torch.full((12, 2), 0.5))
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


def test_mstdpet_eligibility_decays_with_tau_z() -> None:
    proj = DenseProjection(1, 1, weight=0.5)
    rule = MSTDPET(gamma=0.1, a_plus=1.0, a_minus=-1.0, tau_plus=20.0, tau_z=25.0)
    pre = train(3, 1, {0: [0]})
    post = train(3, 1, {0: [2]})  # causal pair: zeta = A+ exp(-2/20) at step 2
    act, traces = compute_activity(proj, pre, post, rule.pre_trace, rule.post_trace)
    out = rule.delta(proj, act, 0.0)
    assert torch.equal(out.dw, torch.zeros_like(out.dw))  # no reward, no change
    assert out.state is not None
    z2 = math.exp(-2 / 20) / 25.0
    assert float(out.state) == pytest.approx(z2, rel=1e-6)
    state = out.state
    for k in range(1, 41):  # silent steps, zero reward: pure decay
        act, traces = compute_activity(
            proj,
            torch.zeros(1, 1, 1),
            torch.zeros(1, 1, 1),
            rule.pre_trace,
            rule.post_trace,
            traces=traces,
        )
        new_state = rule.delta(proj, act, 0.0, state).state
        assert new_state is not None
        state = new_state
        assert float(state) == pytest.approx(z2 * math.exp(-k / 25.0), rel=1e-5)
    # a reward 40 ms after the pairing still credits it
    dw = rule.credit(proj, state, 2.0, dt=1.0)
    assert float(dw) == pytest.approx(0.1 * 2.0 * z2 * math.exp(-40 / 25.0), rel=1e-5)
    assert float(dw) > 0
    assert float(rule.credit(proj, state, -2.0)) == pytest.approx(-float(dw))


def test_mstdpet_per_window_sums_the_window_pairs_undiscounted() -> None:
    """``per_window``: ``z <- a_z^T z0 + sum_u zeta[u] / tau_z`` by hand, against the per-step
    rule's ``a_z^T z0 + sum_u a_z^(T-1-u) zeta[u] / tau_z``; modulation inside is refused."""
    proj = DenseProjection(1, 1, weight=0.5)
    kw = dict(gamma=0.1, a_plus=1.0, a_minus=-0.5, tau_plus=20.0, tau_minus=10.0, tau_z=25.0)
    window, step = MSTDPET(**kw, per_window=True), MSTDPET(**kw)  # type: ignore[arg-type]
    T = 6
    pre = train(T, 1, {0: [0, 4]})
    post = train(T, 1, {0: [2]})
    # causal pair at step 2 (pre at 0): A+ exp(-2/20); anti-causal at step 4 (post at 2):
    # A- exp(-2/10), the post trace before step 4's pre spike
    zeta = {2: 1.0 * math.exp(-2 / 20), 4: -0.5 * math.exp(-2 / 10)}
    z0 = torch.full((1, 1, 1), 0.3)
    a = math.exp(-1 / 25.0)
    act, _ = compute_activity(proj, pre, post, window.pre_trace, window.post_trace)
    got_w = window.delta(proj, act, 0.0, z0).state
    got_s = step.delta(proj, act, 0.0, z0).state
    assert got_w is not None and got_s is not None
    want_w = a**T * 0.3 + sum(zeta.values()) / 25.0
    want_s = a**T * 0.3 + sum(a ** (T - 1 - u) * v for u, v in zeta.items()) / 25.0
    assert float(got_w) == pytest.approx(want_w, rel=1e-6)
    assert float(got_s) == pytest.approx(want_s, rel=1e-6)
    assert abs(want_w - want_s) > 1e-4  # the two conventions differ here
    with pytest.raises(ValueError, match="no modulation inside a window"):
        window.delta(proj, act, 1.0, z0)


def test_mstdpet_window_equals_stepwise() -> None:
    g = torch.Generator().manual_seed(5)
    proj = DenseProjection(6, 3)
    rule = MSTDPET(gamma=0.2, tau_z=10.0)
    T, B = 45, 3
    pre, post = spikes(g, (T, B, 6), 0.3), spikes(g, (T, B, 3), 0.3)
    r = torch.randn(T, B, generator=g)
    z0 = torch.randn(B, 6, 3, generator=g) * 0.1
    x0 = TraceState(torch.rand(B, 6, generator=g), torch.rand(B, 3, generator=g))
    act, _ = compute_activity(proj, pre, post, rule.pre_trace, rule.post_trace, traces=x0)
    whole = rule.delta(proj, act, r, z0)
    total = torch.zeros(6, 3)
    state: Tensor | None = z0
    traces = x0
    for t in range(T):
        a, traces = compute_activity(
            proj, pre[t : t + 1], post[t : t + 1], rule.pre_trace, rule.post_trace, traces=traces
        )
        out = rule.delta(proj, a, r[t : t + 1], state)
        total, state = total + out.dw, out.state
    torch.testing.assert_close(whole.dw, total, rtol=1e-4, atol=1e-6)
    assert whole.state is not None and state is not None
    torch.testing.assert_close(whole.state, state, rtol=1e-4, atol=1e-6)


def test_weight_dependent_soft_bounds() -> None:
    proj = DenseProjection(1, 2, weight=torch.tensor([[1.0, 0.0]]), wmin=0.0, wmax=1.0)
    rule = WeightDependentPostPre(a_plus=0.5, a_minus=0.5)
    causal = run_rule(rule, proj, train(5, 1, {0: [1]}), train(5, 2, {0: [3], 1: [3]}))[0]
    anti = run_rule(rule, proj, train(5, 1, {0: [3]}), train(5, 2, {0: [1], 1: [1]}))[0]
    assert float(causal[0, 0]) == 0.0 and float(causal[0, 1]) > 0  # at wmax: no potentiation
    assert float(anti[0, 1]) == 0.0 and float(anti[0, 0]) < 0  # at wmin: no depression
    mid = DenseProjection(1, 1, weight=0.25, wmin=0.0, wmax=1.0)
    d = run_rule(rule, mid, train(5, 1, {0: [1]}), train(5, 1, {0: [1]}))[0]
    assert float(d) == pytest.approx(0.5 * 0.75)


def test_diehl_cook_offset_and_post_only() -> None:
    proj = DenseProjection(2, 1, weight=0.5)
    rule = DiehlCook2015(eta_post=0.1, eta_pre=0.0, x_tar=0.4)
    dw = run_rule(rule, proj, train(4, 2, {0: [3]}), train(4, 1, {0: [3]}))[0]
    # input 0 arrived with the post spike (x_pre = 1), input 1 never fired (x_pre = 0)
    torch.testing.assert_close(dw, torch.tensor([[0.1 * 0.6], [-0.1 * 0.4]]))
    quiet = run_rule(rule, proj, train(4, 2, {0: [1], 1: [2]}), torch.zeros(4, 1, 1))[0]
    assert torch.equal(quiet, torch.zeros_like(quiet))  # no post spike, no learning
    dep = DiehlCook2015(eta_post=0.1, eta_pre=0.01, x_tar=0.4)
    d = run_rule(dep, proj, train(4, 2, {1: [3]}), train(4, 1, {0: [1]}))[0]
    assert float(d[1, 0]) == pytest.approx(-0.1 * 0.4 - 0.01 * math.exp(-2 / 20))
