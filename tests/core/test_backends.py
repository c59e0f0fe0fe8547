"""The backend interface: the compiled numba plan against the eager torch reference."""

from __future__ import annotations

import pytest
import torch

from spikerl.core import (
    IF,
    LIF,
    AdaptiveLIF,
    CubaLIF,
    DenseProjection,
    Input,
    Izhikevich,
    LateralProjection,
    Network,
    Uniform,
)
from spikerl.core.backends import (
    BernoulliInput,
    CompiledPlan,
    EagerPlan,
    compile_plan,
    select_backend,
)
from spikerl.encoders.poisson import bernoulli_train
from spikerl.learning import MSTDPET, Plasticity
from spikerl.learning.activity import Reduction
from spikerl.learning.traces import TraceMode

NEURONS = (LIF, IF, CubaLIF, AdaptiveLIF)


def random_network(seed: int, n_in: int, hidden: list[int], n_out: int) -> Network:
    """``Input -> hidden layers -> output`` with random neuron models, weights of both
    signs, lateral inhibition in the output layer and in one hidden layer."""
    g = torch.Generator().manual_seed(seed)
    net = Network(dt=1.0)
    net.add_population("input", Input(n_in))
    prev, prev_n = "input", n_in
    for i, h in enumerate(hidden):
        kind = NEURONS[int(torch.randint(len(NEURONS), (1,), generator=g))]
        name = f"hidden{i}"
        net.add_population(name, kind(h))
        scale = 12.0 if kind is IF else 6.0
        net.connect(prev, name, DenseProjection(prev_n, h, Uniform(-1.0, scale), generator=g))
        if i == 0:
            net.connect(name, name, LateralProjection.inhibition(h, strength=1.5))
        prev, prev_n = name, h
    net.add_population("action", LIF(n_out))
    net.connect(prev, "action", DenseProjection(prev_n, n_out, Uniform(-1.0, 8.0), generator=g))
    net.connect("action", "action", LateralProjection.inhibition(n_out, strength=2.0))
    return net.to(torch.float64)


def bind(
    net: Network, names: list[str], mode: TraceMode, reduction: Reduction, per_window: bool
) -> list[Plasticity]:
    rule = MSTDPET(
        gamma=0.5, a_plus=1.0, a_minus=-0.8, tau_z=40.0, mode=mode, per_window=per_window
    )
    out = [Plasticity.bind(net, n, rule, reduction=reduction) for n in names]
    for p in out:
        p.set_modulation(0.0)
    return out


CASES = [
    # seed, n_in, hidden, n_out, batch, steps, trace mode, reduction, per-window eligibility
    (0, 24, [32], 8, 1, 16, TraceMode.ADD, Reduction.MEAN, False),
    (1, 40, [48, 20], 12, 3, 10, TraceMode.ADD, Reduction.MEAN, False),
    (2, 16, [24], 6, 4, 25, TraceMode.SET, Reduction.SUM, False),
    (3, 64, [64], 32, 2, 16, TraceMode.ADD, Reduction.MEAN, False),
    (4, 40, [48, 20], 12, 3, 10, TraceMode.ADD, Reduction.MEAN, True),
    (5, 16, [24], 6, 4, 25, TraceMode.SET, Reduction.SUM, True),
]


@pytest.mark.parametrize("case", CASES, ids=[f"seed{c[0]}" for c in CASES])
def test_compiled_plan_matches_eager_spikes_and_weight_changes(case: tuple) -> None:  # type: ignore[type-arg]
    """Same random networks, same inputs, several windows with episode resets and
    deliveries: identical spikes, weight changes and eligibility to float64 rounding."""
    seed, n_in, hidden, n_out, B, T, mode, reduction, per_window = case
    nets = [random_network(seed, n_in, hidden, n_out) for _ in range(2)]
    names = [nets[0].projections[k].name for k in nets[0].projections]
    # every feed-forward projection learns, and the output's lateral one in one case
    plastic = [n for n in names if n.split("->")[0] != n.split("->")[1]]
    if seed in (2, 5):
        plastic.append("action->action")
    w0 = [nets[0].projection(n).weight.detach().clone() for n in plastic]
    binds = [bind(n, plastic, mode, reduction, per_window) for n in nets]
    eager = compile_plan(nets[0], B, binds[0], backend="eager")
    compiled = compile_plan(nets[1], B, binds[1], backend="compiled")
    assert isinstance(eager, EagerPlan) and isinstance(compiled, CompiledPlan)
    assert len(compiled.bindings) == len(plastic) and not compiled.eager_hooks
    g = torch.Generator().manual_seed(100 + seed)
    total_spikes = 0
    for window in range(8):
        rates = torch.rand(B, n_in, generator=g, dtype=torch.float64) * 0.4
        x = (torch.rand(T, B, n_in, generator=g, dtype=torch.float64) < rates).double()
        ra = eager.run_window({"input": x})
        rb = compiled.run_window({"input": x})
        for name in ra:
            assert torch.equal(ra[name], rb[name]), (window, name)
            total_spikes += int(ra[name].sum())
        signal = torch.randn(B, generator=g, dtype=torch.float64)
        for pa, pb in zip(*binds, strict=True):
            pa.flush()  # the eager stepwise path (recurrent network) buffers its window
            assert pa.rule_state is not None and pb.rule_state is not None
            torch.testing.assert_close(pb.rule_state, pa.rule_state, rtol=1e-12, atol=1e-14)
            torch.testing.assert_close(pb.traces.pre, pa.traces.pre, rtol=0, atol=1e-14)  # type: ignore[union-attr]
            torch.testing.assert_close(pb.traces.post, pa.traces.post, rtol=0, atol=1e-14)  # type: ignore[union-attr]
            da, db = pa.deliver(signal), pb.deliver(signal)
            torch.testing.assert_close(db, da, rtol=1e-12, atol=1e-14)
            torch.testing.assert_close(
                pb.projection.weight, pa.projection.weight, rtol=1e-12, atol=1e-12
            )
        if window == 3:  # an episode ends for batch element 0
            start = torch.zeros(B, dtype=torch.bool)
            start[0] = True
            eager.reset(start)
            compiled.reset(start)
            for pa, pb in zip(*binds, strict=True):
                pa.reset(start)
                pb.reset(start)
    assert total_spikes > 100  # the networks were active
    for name, before in zip(plastic, w0, strict=True):
        assert not torch.equal(nets[0].projection(name).weight, before), name  # it learned


def test_compiled_plan_state_round_trip_and_network_run() -> None:
    """The plan's kept state is the eager state; Network.run on the compiled plan gives the
    eager spikes and state, and leaves the caller's state alone."""
    net = random_network(5, 20, [30], 10)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(40, 2, 20, generator=g, dtype=torch.float64) < 0.2).double()
    from spikerl.core import Propagation

    ref, ref_state = net.run({"input": x}, propagation=Propagation.DENSE)  # eager
    out, state = net.run({"input": x})  # compiled plan (recurrent network, AUTO)
    assert net._plans and isinstance(net._plans[2], CompiledPlan)
    for name in ref.spikes:
        assert torch.equal(ref[name], out[name])
    for name, st in ref_state.neurons.items():
        for a, b in zip(st, state.neurons[name], strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    # continuing from a state: same as eager, and the plan is reused
    plan = net._plans[2]
    ref2, _ = net.run({"input": x}, ref_state, propagation=Propagation.DENSE)
    out2, _ = net.run({"input": x}, state)
    assert net._plans[2] is plan
    for name in ref2.spikes:
        assert torch.equal(ref2[name], out2[name])


def test_bernoulli_input_draws_like_the_encoders() -> None:
    """Input sampling inside the kernel: uniforms from the generator as bernoulli_train
    draws them, so the same seed gives the same input spikes and the same network output."""
    net = random_network(7, 30, [20], 6)
    p = torch.rand(3, 30, generator=torch.Generator().manual_seed(1)) * 0.5
    plan = compile_plan(net, 3, backend="compiled")
    rec = plan.run_window({"input": BernoulliInput(p, 20, torch.Generator().manual_seed(9))})
    spikes = bernoulli_train(p, 20, torch.Generator().manual_seed(9))
    assert torch.equal(rec["input"], spikes.double())
    eager = compile_plan(net, 3, backend="eager")
    ref = eager.run_window({"input": spikes.double()})
    for name in ref:
        assert torch.equal(ref[name], rec[name])


def test_unsupported_networks_go_to_the_eager_backend() -> None:
    net = Network()
    net.add_population("input", Input(4))
    net.add_population("izh", Izhikevich(3))
    net.connect("input", "izh", DenseProjection(4, 3))
    assert select_backend(net).name == "eager"
    assert isinstance(compile_plan(net, 2), EagerPlan)
    with pytest.raises(ValueError, match="'izh': Izhikevich has no compiled step"):
        compile_plan(net, 2, backend="compiled")
    online = Plasticity.bind(random_network(0, 4, [3], 2), "input->hidden0", MSTDPET(), online=True)
    with pytest.raises(ValueError, match="acts every step"):
        compile_plan(random_network(0, 4, [3], 2), 1, [online], backend="eager")


def test_plan_sees_weight_updates_without_copying_and_detects_new_storage() -> None:
    net = random_network(3, 10, [8], 4)
    plan = compile_plan(net, 1, backend="compiled")
    x = torch.ones(5, 1, 10, dtype=torch.float64)
    before = plan.run_window({"input": x})["hidden0"].clone()
    with torch.no_grad():
        net.projection("input->hidden0").weight.zero_()  # in place: the plan sees it
    plan.load_state(None)
    assert plan.valid() and plan.run_window({"input": x})["hidden0"].sum() == 0
    assert before.sum() > 0
    net.to(torch.float32)  # new storage
    assert not plan.valid()
    with pytest.raises(RuntimeError, match="compile a new plan"):
        plan.run_window({"input": x})


def test_compiled_deliver_equals_the_torch_credit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plasticity.deliver's compiled pass == MSTDPET.credit + apply (bounds, batch mean)."""
    from spikerl.core import kernels

    def make() -> Plasticity:
        net = random_network(4, 12, [9], 3)
        proj = net.projection("input->hidden0")
        proj.wmin, proj.wmax = -0.5, 2.0
        p = Plasticity.bind(net, proj, MSTDPET(gamma=3.0))
        p.rule_state = torch.randn(5, 12, 9, generator=torch.Generator().manual_seed(2)).double()
        return p

    fast, slow = make(), make()
    signal = torch.tensor([0.3, -1.0, 2.0, 0.0, 0.7], dtype=torch.float64)
    d_fast = fast.deliver(signal)
    assert fast._credit_cache is not None  # the compiled pass ran
    monkeypatch.setattr(kernels, "enabled", lambda: False)
    d_slow = slow.deliver(signal)
    assert slow._credit_cache is None
    torch.testing.assert_close(d_fast, d_slow, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(fast.projection.weight, slow.projection.weight, rtol=0, atol=1e-14)
    assert (
        float(fast.projection.weight.max()) <= 2.0 and float(fast.projection.weight.min()) >= -0.5
    )
    assert fast.last_mean_abs_change == pytest.approx(float(d_slow.abs().mean()), rel=1e-12)


@pytest.mark.parametrize("backend", ["compiled", "eager"])
def test_set_spikes_replaces_the_spikes_in_flight(backend: str) -> None:
    """``WindowPlan.set_spikes``: the next window's first step receives exactly the given
    spikes (as the same window run with them as the last step's), and the caller's tensor
    is copied, not kept."""
    from spikerl.core import Propagation

    net = random_network(2, 6, [5], 3)
    plan = compile_plan(net, 2, backend=backend)
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(6, 2, 6, generator=g, dtype=torch.float64) < 0.5).double()
    plan.run_window({"input": x})
    start = plan.state
    kept = {n: type(st)(*(t.clone() for t in st)) for n, st in start.neurons.items()}
    first = torch.ones(2, 6, dtype=torch.float64)
    plan.set_spikes("input", first)
    first.zero_()  # the plan holds its own copy
    assert torch.equal(plan.state.spikes["input"], torch.ones(2, 6, dtype=torch.float64))
    ref_state = type(start)(
        kept,
        {**{n: s.clone() for n, s in start.spikes.items()}, "input": torch.ones(2, 6).double()},
        {n: t.clone() for n, t in start.traces.items()},
    )
    out = plan.run_window({"input": x})
    ref, _ = net.run({"input": x}, ref_state, propagation=Propagation.DENSE)
    for name in ref.spikes:
        assert torch.equal(ref[name], out[name]), name
