"""The Plasticity binding: online vs window, pieces, optimizer path, state and batching."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from spikerl.core.init import Uniform
from spikerl.core.network import ExecutionMode, Network
from spikerl.core.neurons import LIF, Input
from spikerl.core.projections import (
    Conv2dProjection,
    DenseProjection,
    LateralProjection,
    Projection,
    Propagation,
)
from spikerl.learning import (
    MSTDP,
    MSTDPET,
    HardBounds,
    LearningRule,
    Normalize,
    Plasticity,
    PostPre,
    Reduction,
    RewardPredictionError,
    SoftBounds,
    WeightDecay,
    WeightDependentPostPre,
)


def feedforward(seed: int = 0, dtype: torch.dtype = torch.float32) -> tuple[Network, Projection]:
    g = torch.Generator().manual_seed(seed)
    net = Network()
    net.add_population("inp", Input(30))
    net.add_population("hid", LIF(12))
    proj = net.connect("inp", "hid", DenseProjection(30, 12, weight=Uniform(0.0, 1.5), generator=g))
    net.to(dtype)
    return net, proj


def inputs(T: int = 200, B: int = 4, dtype: torch.dtype = torch.float32) -> Tensor:
    g = torch.Generator().manual_seed(42)
    return (torch.rand(T, B, 30, generator=g) < 0.1).to(dtype)


def learn(
    rule: LearningRule, online: bool, mod: float | None, dtype: torch.dtype, T: int = 200
) -> tuple[Tensor, Tensor]:
    net, proj = feedforward(dtype=dtype)
    w0 = proj.weight.detach().clone()
    plast = Plasticity.bind(net, proj, rule, online=online)
    if mod is not None:
        plast.set_modulation(mod)
    result, _ = net.run({"inp": inputs(T, dtype=dtype)}, hooks=[plast])
    return proj.weight.detach() - w0, result["hid"]


@pytest.mark.parametrize(
    "rule,mod", [(PostPre(1e-5, 1e-5), None), (MSTDP(gamma=1e-5), 1.0)], ids=["PostPre", "MSTDP"]
)
def test_window_equals_online_while_spikes_agree(rule: LearningRule, mod: float | None) -> None:
    """Window mode differs from online mode only through weight changes inside the window:
    with the same spikes the accumulated changes agree to float rounding (float64: 1e-9)."""
    d_on, s_on = learn(rule, True, mod, torch.float64)
    d_win, s_win = learn(rule, False, mod, torch.float64)
    assert torch.equal(s_on, s_win)
    assert float((d_on - d_win).norm() / d_on.norm()) < 1e-9


@pytest.mark.parametrize(
    "rule,mod",
    [
        (PostPre(1e-3, 1e-3), None),
        (WeightDependentPostPre(1e-3, 1e-3, wmin=0.0, wmax=2.0), None),
        (MSTDPET(gamma=1e-3), 1.0),
    ],
    ids=["PostPre", "WeightDependent", "MSTDPET"],
)
def test_window_close_to_online(rule: LearningRule, mod: float | None) -> None:
    """At realistic rates (~1e-3 per pairing, 200 ms window, ~800 spikes) online weights move
    mid-window and change later spikes; the accumulated change stays within 10 % (measured
    about 4 %)."""
    d_on, _ = learn(rule, True, mod, torch.float32)
    d_win, _ = learn(rule, False, mod, torch.float32)
    assert float((d_on - d_win).norm() / d_on.norm()) < 0.1


@pytest.mark.parametrize("propagation", [Propagation.DENSE, Propagation.AUTO])
def test_window_mode_on_recurrent_network(propagation: Propagation) -> None:
    """On a network with a cycle, a window-mode binding applies one change per window, equal
    to the rule on the recorded spikes: under the eager stepwise path (explicit DENSE) it
    buffers the steps until :meth:`Plasticity.flush`; fused paths call ``on_window``."""
    g = torch.Generator().manual_seed(1)
    net = Network()
    net.add_population("inp", Input(10))
    net.add_population("exc", LIF(4))
    proj = net.connect("inp", "exc", DenseProjection(10, 4, weight=Uniform(0.5, 2.0), generator=g))
    net.connect("exc", "exc", LateralProjection.inhibition(4, 5.0))  # a cycle
    assert not net.is_dag()
    rule = PostPre(1e-3, 1e-3)
    plast = Plasticity.bind(net, proj, rule)
    x = (torch.rand(50, 2, 10, generator=g) < 0.2).float()
    w0 = proj.weight.detach().clone()
    result, _ = net.run({"inp": x}, hooks=[plast], propagation=propagation)
    if propagation is Propagation.DENSE:
        assert torch.equal(proj.weight, w0)  # nothing applied until the window ends
        assert plast.flush() is not None
    plast.flush()
    assert plast.flush() is None
    ref = Plasticity(DenseProjection(10, 4, weight=w0), rule, source="inp", target="exc")
    pre = torch.cat([torch.zeros(1, 2, 10), x[:-1]])
    want = ref.compute(pre, result["exc"])
    torch.testing.assert_close(proj.weight.detach() - w0, want, rtol=1e-4, atol=1e-6)


def test_bounds_never_violated_after_10k_random_updates() -> None:
    g = torch.Generator().manual_seed(0)
    hard = DenseProjection(8, 5, weight=Uniform(0.0, 1.0), generator=g)
    soft = DenseProjection(8, 5, weight=Uniform(0.0, 1.0), generator=g, wmin=0.0, wmax=1.0)
    bind_h = Plasticity(hard, PostPre(), source="a", target="b", pieces=[HardBounds(0.0, 1.0)])
    bind_s = Plasticity(soft, PostPre(), source="a", target="b", pieces=[SoftBounds()])
    lo_h = lo_s = math.inf
    hi_h = hi_s = -math.inf
    for _ in range(10_000):
        bind_h.apply(torch.randn(8, 5, generator=g), duration=1.0)
        bind_s.apply(3.0 * torch.randn(8, 5, generator=g), duration=1.0)
        lo_h, hi_h = min(lo_h, float(hard.weight.min())), max(hi_h, float(hard.weight.max()))
        lo_s, hi_s = min(lo_s, float(soft.weight.min())), max(hi_s, float(soft.weight.max()))
    assert lo_h >= 0.0 and hi_h <= 1.0
    assert lo_s >= 0.0 and hi_s <= 1.0


def test_soft_bounds_factor() -> None:
    proj = DenseProjection(1, 2, weight=torch.tensor([[0.25, 0.75]]), wmin=0.0, wmax=1.0)
    dw = SoftBounds().transform(torch.tensor([[0.1, -0.1]]), proj, 1.0)
    torch.testing.assert_close(dw, torch.tensor([[0.1 * 0.75, -0.1 * 0.75]]))


def test_normalisation_holds_exactly() -> None:
    g = torch.Generator().manual_seed(2)
    proj = DenseProjection(20, 6, weight=Uniform(0.0, 1.0), generator=g)
    proj.double()
    plast = Plasticity(proj, PostPre(), source="a", target="b", pieces=[Normalize(7.5)])
    for _ in range(200):
        plast.apply(0.1 * torch.rand(20, 6, generator=g, dtype=torch.float64), duration=1.0)
        torch.testing.assert_close(proj.fan_in_sums(), torch.full((6,), 7.5, dtype=torch.float64))
    conv = Conv2dProjection((1, 6, 6), 3, 3, weight=Uniform(0.1, 1.0), generator=g)
    Plasticity(conv, PostPre(), source="a", target="b", pieces=[Normalize(2.0)]).apply(
        torch.rand(3, 1, 3, 3, generator=g), duration=1.0
    )
    torch.testing.assert_close(conv.fan_in_sums(), torch.full((3,), 2.0))


def test_weight_decay_relaxes_exponentially() -> None:
    proj = DenseProjection(2, 2, weight=1.0)
    plast = Plasticity(proj, PostPre(), source="a", target="b", pieces=[WeightDecay(tau=50.0)])
    plast.apply(torch.zeros(2, 2), duration=10.0)
    torch.testing.assert_close(proj.weight.detach(), torch.full((2, 2), math.exp(-10 / 50)))


def test_pieces_run_in_order() -> None:
    proj = DenseProjection(3, 1, weight=0.0)
    norm_last = Plasticity(
        proj, PostPre(), source="a", target="b", pieces=[HardBounds(0.0, 0.5), Normalize(3.0)]
    )
    norm_last.apply(torch.tensor([[1.0], [1.0], [1.0]]), duration=1.0)
    torch.testing.assert_close(proj.weight.detach(), torch.full((3, 1), 1.0))  # norm last: exact
    proj2 = DenseProjection(3, 1, weight=0.0)
    clamp_last = Plasticity(
        proj2, PostPre(), source="a", target="b", pieces=[Normalize(3.0), HardBounds(0.0, 0.5)]
    )
    clamp_last.apply(torch.tensor([[1.0], [1.0], [1.0]]), duration=1.0)
    torch.testing.assert_close(proj2.weight.detach(), torch.full((3, 1), 0.5))


def test_optimizer_path_sgd_equals_direct_and_schedulers_work() -> None:
    x = inputs(60)
    nets = [feedforward() for _ in range(3)]
    direct = Plasticity.bind(nets[0][0], nets[0][1], PostPre(), online=True)
    opt = torch.optim.SGD([nets[1][1].weight], lr=1.0)
    via_sgd = Plasticity.bind(nets[1][0], nets[1][1], PostPre(), online=True, optimizer=opt)
    opt0 = torch.optim.SGD([nets[2][1].weight], lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt0, lambda _: 0.0)
    frozen = Plasticity.bind(nets[2][0], nets[2][1], PostPre(), optimizer=opt0)
    w_frozen = nets[2][1].weight.detach().clone()
    for (net, _), plast in zip(nets, (direct, via_sgd, frozen), strict=True):
        net.run({"inp": x}, hooks=[plast])
    sched.step()
    torch.testing.assert_close(nets[0][1].weight, nets[1][1].weight)
    assert torch.equal(nets[2][1].weight.detach(), w_frozen)  # lr 0: the optimizer decides
    assert nets[1][1].weight.grad is None


def test_adam_moves_weights_along_the_change() -> None:
    net, proj = feedforward()
    opt = torch.optim.Adam([proj.weight], lr=1e-2)
    plast = Plasticity.bind(net, proj, PostPre(), optimizer=opt)
    w0 = proj.weight.detach().clone()
    net.run({"inp": inputs(100)}, hooks=[plast])
    assert plast.last_change is not None
    moved = proj.weight.detach() - w0
    nz = plast.last_change.abs() > 1e-6
    assert bool((torch.sign(moved[nz]) == torch.sign(plast.last_change[nz])).all())


def test_batch_of_identical_samples_equals_single_sample() -> None:
    x1 = inputs(80, B=1)
    out = []
    for x in (x1, x1.expand(80, 3, 30).contiguous()):
        net, proj = feedforward()
        w0 = proj.weight.detach().clone()
        net.run({"inp": x}, hooks=[Plasticity.bind(net, proj, PostPre(), online=True)])
        out.append(proj.weight.detach() - w0)
    torch.testing.assert_close(out[0], out[1], rtol=1e-5, atol=1e-7)
    sums = []
    for x, reduction in ((x1, Reduction.MEAN), (x1.expand(80, 3, 30), Reduction.SUM)):
        net, proj = feedforward()
        w0 = proj.weight.detach().clone()
        plast = Plasticity.bind(net, proj, PostPre(), reduction=reduction)  # window mode
        net.run({"inp": x.contiguous()}, hooks=[plast])
        sums.append(proj.weight.detach() - w0)
    torch.testing.assert_close(sums[1], 3 * sums[0], rtol=1e-4, atol=1e-6)


def test_reset_masks_state_per_episode() -> None:
    net, proj = feedforward()
    plast = Plasticity.bind(net, proj, MSTDPET())
    plast.set_modulation(0.0)
    net.run({"inp": inputs(30, B=2)}, hooks=[plast])
    assert plast.traces is not None and plast.rule_state is not None
    pre_before = plast.traces.pre.clone()
    plast.reset(torch.tensor([True, False]))
    assert plast.traces is not None and plast.rule_state is not None
    assert float(plast.traces.pre[0].abs().sum()) == 0.0
    assert float(plast.rule_state[0].abs().sum()) == 0.0
    assert torch.equal(plast.traces.pre[1], pre_before[1])
    plast.reset()
    assert plast.traces is None and plast.rule_state is None


def test_delivered_reward_uses_modulator_baseline() -> None:
    net, proj = feedforward()
    rpe = RewardPredictionError(tau=2.0)
    plast = Plasticity.bind(net, proj, MSTDPET(gamma=0.1), modulator=rpe)
    plast.set_modulation(0.0)  # baseline after this call: 0
    net.run({"inp": inputs(40, B=2)}, hooks=[plast])
    assert plast.rule_state is not None
    z = plast.rule_state.clone()
    w0 = proj.weight.detach().clone()
    plast.deliver(torch.tensor([1.0, 1.0]))  # m = 1 - 0
    torch.testing.assert_close(proj.weight.detach() - w0, 0.1 * z.mean(0))
    assert rpe.baseline is not None and float(rpe.baseline) == pytest.approx(0.5)
    m = rpe(torch.tensor([1.0, 1.0]))
    torch.testing.assert_close(m, torch.tensor([0.5, 0.5]))


def test_window_mode_runs_the_fast_path() -> None:
    net, proj = feedforward()
    plast = Plasticity.bind(net, proj, PostPre())
    calls: list[str] = []
    plast_on_window = plast.on_window

    def spy(prev: object, record: object) -> None:
        calls.append("window")
        plast_on_window(prev, record)  # type: ignore[arg-type]

    plast.on_window = spy  # type: ignore[method-assign]
    net.run({"inp": inputs(20)}, mode=ExecutionMode.WINDOW, hooks=[plast])
    assert calls == ["window"]
