"""Silent gaps between windows: ``Network.relax_state``, ``Neuron.relax``, ``Plasticity.relax``."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.core import LIF, DenseProjection, Input, Izhikevich, LIFParams, Network
from spikerl.learning import MSTDPET, Plasticity


def _net(refrac: float = 0.0) -> Network:
    net = Network(dt=1.0)
    net.add_population("input", Input(3))
    net.add_population("out", LIF(2, LIFParams(tau_mem=20.0, refrac=refrac)))
    net.connect("input", "out", DenseProjection(3, 2, 6.0))
    net.to(torch.float64)
    return net


def test_lif_relaxes_in_closed_form() -> None:
    net = _net(refrac=5.0)
    st = net.initial_state(1)
    v = torch.tensor([[-50.0, -70.0]], dtype=torch.float64)
    st.neurons["out"] = type(st.neurons["out"])(v, torch.tensor([[3.0, 0.0]], dtype=torch.float64))
    st.spikes["out"] = torch.ones(1, 2, dtype=torch.float64)
    out = net.relax_state(st, 100.0)
    a = math.exp(-100.0 / 20.0)
    want = torch.tensor([[-65.0 + 15.0 * a, -65.0 - 5.0 * a]], dtype=torch.float64)
    torch.testing.assert_close(out.neurons["out"].v, want, rtol=0, atol=1e-12)
    assert out.neurons["out"].refrac.tolist() == [[0.0, 0.0]]
    assert float(out.spikes["out"].sum()) == 0.0  # nothing is in flight after the gap
    with pytest.raises(ValueError, match="duration"):
        net.relax_state(st, -1.0)


def test_relax_equals_silent_steps_when_nothing_is_in_flight() -> None:
    """With no spikes of the last step in flight, relaxing D ms is running D silent steps."""
    net = _net()
    st = net.initial_state(2)
    st.neurons["out"] = type(st.neurons["out"])(
        torch.tensor([[-55.0, -60.0], [-64.0, -53.0]], dtype=torch.float64),
        torch.zeros(2, 2, dtype=torch.float64),
    )
    d = 37
    _, stepped = net.run({"input": torch.zeros(d, 2, 3, dtype=torch.float64)}, state=st)
    relaxed = net.relax_state(st, float(d))
    v_relaxed, v_stepped = relaxed.neurons["out"].v, stepped.neurons["out"].v
    torch.testing.assert_close(v_relaxed, v_stepped, atol=1e-12, rtol=0)


def test_spikes_in_flight_arrive_at_the_gaps_first_step() -> None:
    """The last step's spikes reach their targets at the gap's first step (no firing there):
    ``v <- v_rest + ((v - v_rest) a + I) a^(n-1)`` by hand, and the same as running the gap's
    steps when those spikes cross no threshold."""
    net = Network(dt=1.0)
    net.add_population("input", Input(3))
    net.add_population("out", LIF(2, LIFParams(tau_mem=20.0, refrac=0.0)))
    net.connect("input", "out", DenseProjection(3, 2, 2.0))
    net.to(torch.float64)
    st = net.initial_state(2)
    v0 = torch.tensor([[-64.0, -62.0], [-63.0, -60.5]], dtype=torch.float64)
    st.neurons["out"] = type(st.neurons["out"])(v0, torch.zeros(2, 2, dtype=torch.float64))
    st.spikes["input"] = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    d = 37
    relaxed = net.relax_state(st, float(d)).neurons["out"].v
    a = math.exp(-1.0 / 20.0)
    current = torch.tensor([[4.0, 4.0], [2.0, 2.0]], dtype=torch.float64)
    want = -65.0 + ((v0 + 65.0) * a + current) * a ** (d - 1)
    torch.testing.assert_close(relaxed, want, atol=1e-12, rtol=0)
    out, stepped = net.run({"input": torch.zeros(d, 2, 3, dtype=torch.float64)}, state=st)
    assert float(out["out"].sum()) == 0.0  # nothing fired: the two must agree
    torch.testing.assert_close(relaxed, stepped.neurons["out"].v, atol=1e-12, rtol=0)
    # a gap shorter than one step delivers nothing
    short = net.relax_state(st, 0.5).neurons["out"].v
    torch.testing.assert_close(short, -65.0 + (v0 + 65.0) * math.exp(-0.5 / 20.0))


def test_models_without_relaxation_are_refused() -> None:
    net = Network()
    net.add_population("input", Input(1))
    net.add_population("izh", Izhikevich(1))
    net.connect("input", "izh", DenseProjection(1, 1, 1.0))
    with pytest.raises(NotImplementedError, match="Izhikevich has no silent-gap"):
        net.relax_state(net.initial_state(1), 10.0)


def test_plasticity_traces_decay_over_a_gap_and_eligibility_stays() -> None:
    net = _net()
    rule = MSTDPET(tau_plus=5.0, tau_minus=8.0, tau_z=20.0)
    plast = Plasticity.bind(net, "input->out", rule)
    plast.set_modulation(0.0)
    spikes = torch.ones(4, 1, 3, dtype=torch.float64)
    net.run({"input": spikes}, hooks=[plast])
    assert plast.traces is not None and plast.rule_state is not None
    pre, post = plast.traces.pre.clone(), plast.traces.post.clone()
    z = plast.rule_state.clone()
    assert float(pre.abs().sum()) > 0 and float(post.abs().sum()) > 0
    plast.relax(50.0)
    torch.testing.assert_close(plast.traces.pre, pre * math.exp(-50.0 / 5.0), rtol=1e-12, atol=0)
    torch.testing.assert_close(plast.traces.post, post * math.exp(-50.0 / 8.0), rtol=1e-12, atol=0)
    assert torch.equal(plast.rule_state, z)


@pytest.mark.parametrize("backend", ["compiled", "eager"])
def test_plan_relaxes_in_place_as_the_network_does(backend: str) -> None:
    """``WindowPlan.relax`` (the compiled plan: on its own buffers) gives the state of
    ``Network.relax_state`` to the bit: spikes of the last step in flight through dense and
    lateral projections, refractory neurons, population traces."""
    from spikerl.core import LateralProjection, TraceParams, Uniform
    from spikerl.core.backends import compile_plan

    g = torch.Generator().manual_seed(3)
    net = Network(dt=1.0)
    net.add_population("input", Input(12), trace=TraceParams(tau=7.0))
    net.add_population("hidden", LIF(9, LIFParams(refrac=2.0)), trace=TraceParams(tau=11.0))
    net.add_population("out", LIF(4))
    net.connect("input", "hidden", DenseProjection(12, 9, Uniform(0.0, 9.0), generator=g))
    net.connect("hidden", "hidden", LateralProjection.inhibition(9, strength=1.5))
    net.connect("hidden", "out", DenseProjection(9, 4, Uniform(-1.0, 9.0), generator=g))
    net.to(torch.float64)
    plan = compile_plan(net, 3, backend=backend)
    x = (torch.rand(20, 3, 12, generator=g, dtype=torch.float64) < 0.5).double()
    for _ in range(3):
        plan.run_window({"input": x})
        before = plan.state
        assert float(before.spikes["input"].sum()) > 0  # something is in flight
        want = net.relax_state(before, 13.0)
        plan.relax(13.0)
        got = plan.state
        for name, st in want.neurons.items():
            for a, b in zip(st, got.neurons[name], strict=True):
                assert torch.equal(a, b), name
        for name, s in got.spikes.items():
            assert float(s.abs().sum()) == 0.0, name
        for name, tr in want.traces.items():
            assert torch.equal(tr, got.traces[name]), name
    with pytest.raises(ValueError, match="duration"):
        plan.relax(float("nan"))
