"""Compiled kernels: bit-exact against the eager step functions and network paths."""

from __future__ import annotations

import pytest
import torch

from spikerl.core import (
    IF,
    LIF,
    AdaptiveLIF,
    CubaLIF,
    DenseProjection,
    DiehlCook,
    ExecutionMode,
    Input,
    LateralProjection,
    Monitor,
    Network,
    Propagation,
    TraceParams,
    kernels,
)
from spikerl.core.neurons.adaptive import AdaptiveLIFParams, DiehlCookParams
from spikerl.core.neurons.base import Reset
from spikerl.core.neurons.lif import IFParams, LIFParams
from spikerl.core.traces import TraceMode, trace_step

pytestmark = pytest.mark.skipif(not kernels.enabled(), reason="numba kernels unavailable")

NEURONS = [
    (LIF, LIFParams(), ("v", "refrac")),
    (LIF, LIFParams(reset=Reset.SOFT, tau_mem=13.3), ("v",)),
    (IF, IFParams(), ("v",)),
    (IF, IFParams(reset=Reset.SOFT), ()),
    (AdaptiveLIF, AdaptiveLIFParams(theta_plus=0.7, tau_theta=33.0), ("v", "theta")),
    (AdaptiveLIF, AdaptiveLIFParams(reset=Reset.SOFT, theta_plus=0.3), ("theta",)),
    (DiehlCook, DiehlCookParams(theta_plus=0.5, tau_theta=100.0), ("v", "theta")),
    (DiehlCook, DiehlCookParams(one_spike=False), ("v",)),
    (CubaLIF, None, ("v", "i")),
]


def eager_run(neuron, x, state, record):  # type: ignore[no-untyped-def]
    spikes = torch.empty_like(x)
    recs = {k: torch.empty_like(x) for k in record}
    for t in range(x.shape[0]):
        s, state = neuron.step(x[t], state)
        spikes[t] = s
        for k in record:
            recs[k][t] = getattr(state, k)
    return spikes, state, recs


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("case", range(len(NEURONS)))
def test_neuron_scan_is_bit_exact(case: int, dtype: torch.dtype) -> None:
    cls, params, record = NEURONS[case]
    neuron = (cls((5, 10), params) if params is not None else cls((5, 10))).to(dtype)
    g = torch.Generator().manual_seed(case)
    x = (torch.rand(300, 3, 5, 10, generator=g, dtype=dtype) * 7.3 - 1.0).to(dtype)
    state = neuron.initial_state(3)
    ref = eager_run(neuron, x, state, record)
    fast = kernels.neuron_scan(neuron, x, state, record)
    assert fast is not None
    assert ref[0].sum() > 0
    assert torch.equal(fast[0], ref[0])
    for a, b in zip(fast[1], ref[1], strict=True):
        assert torch.equal(a, b)
    for k in record:
        assert torch.equal(fast[2][k], ref[2][k])
    # Neuron.run dispatches to the kernel and agrees too.
    spikes, _, _ = neuron.run(x, state, record=record)
    assert torch.equal(spikes, ref[0])


def test_neuron_run_keeps_autograd_path() -> None:
    neuron = LIF(4)
    x = torch.rand(10, 2, 4, requires_grad=True)
    assert kernels.neuron_scan(neuron, x, neuron.initial_state(2)) is None
    _, _, recs = neuron.run(x * 20.0, record=("v",))
    assert recs["v"].requires_grad


@pytest.mark.parametrize("mode", [TraceMode.ADD, TraceMode.SET])
def test_trace_scan_is_bit_exact(mode: TraceMode) -> None:
    p = TraceParams(tau=7.0, scale=0.3, mode=mode)
    s = (torch.rand(100, 2, 6) < 0.2).float()
    x0 = torch.rand(2, 6)
    out = kernels.trace_scan(s, x0, p.tau, p.scale, mode is TraceMode.SET, 1.0)
    assert out is not None
    tr = x0
    for t in range(100):
        tr = trace_step(tr, s[t], p)
        assert torch.equal(out[0][t], tr)
    assert torch.equal(out[1], tr)


def test_event_rows_product_matches_dense_with_exact_weights() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randint(-8, 9, (40, 30), generator=g).float() / 8  # sums are exact
    x = (torch.rand(50, 40, generator=g) < 0.1).float()
    x[3, 5] = 2.5
    out = kernels.event_matmul_rows(x, w)
    assert out is not None
    assert torch.equal(out, x @ w)


def dyadic(shape: tuple[int, ...], lo: int, hi: int, g: torch.Generator) -> torch.Tensor:
    """Weights k/4: every summation order gives the same float sums (path equality)."""
    return torch.randint(lo, hi, shape, generator=g).float() / 4


def recurrent_net(seed: int) -> Network:
    g = torch.Generator().manual_seed(seed)
    net = Network()
    net.add_population("in", Input(30))
    net.add_population("exc", DiehlCook(20, DiehlCookParams(theta_plus=0.5)))
    net.add_population("inh", LIF(20, LIFParams(tau_mem=10.0, v_thresh=-60.0, refrac=2.0)))
    net.add_population("ada", AdaptiveLIF(15), trace=TraceParams(tau=5.0))
    net.add_population("cuba", CubaLIF(10))
    net.connect("in", "exc", DenseProjection(30, 20, dyadic((30, 20), 0, 40, g)))
    net.connect("exc", "inh", DenseProjection(20, 20, 22.5 * torch.eye(20)))
    net.connect("inh", "exc", LateralProjection(20, -8.0))
    net.connect("in", "ada", DenseProjection(30, 15, dyadic((30, 15), -4, 40, g)))
    net.connect("ada", "ada", LateralProjection(15, dyadic((15, 15), -8, 8, g)))
    net.connect("ada", "cuba", DenseProjection(15, 10, dyadic((15, 10), 0, 20, g)))
    net.connect("exc", "cuba", DenseProjection(20, 10, dyadic((20, 10), -4, 12, g)))
    return net


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_network_matches_eager_stepwise(seed: int, dtype: torch.dtype) -> None:
    net = recurrent_net(seed).to(dtype)
    g = torch.Generator().manual_seed(seed + 10)
    x = (torch.rand(120, 3, 30, generator=g) < 0.3).to(dtype)
    extra = torch.rand(120, 3, 10, generator=g, dtype=dtype) * 2
    inputs = {"in": x, "cuba": extra}
    st0 = net.initial_state(3)
    ref, ref_st = net.run(inputs, st0, mode=ExecutionMode.STEP, propagation=Propagation.DENSE)
    m = Monitor("ada", "trace")
    res, st = net.run(inputs, st0, propagation=Propagation.AUTO, monitors=[m])
    for name in net.populations:
        assert torch.equal(res[name], ref[name]), name
        for a, b in zip(st.neurons[name], ref_st.neurons[name], strict=True):
            assert torch.equal(a, b), name
        assert torch.equal(st.spikes[name], ref_st.spikes[name])
    assert torch.equal(st.traces["ada"], ref_st.traces["ada"])
    assert torch.equal(m.values[-1], ref_st.traces["ada"])
    assert sum(float(r.sum()) for r in ref.spikes.values()) > 0
    # Continuing from a state gives what one long run gives.
    a, sa = net.run({k: v[:50] for k, v in inputs.items()}, st0)
    b, _ = net.run({k: v[50:] for k, v in inputs.items()}, sa)
    assert torch.equal(torch.cat([a["cuba"], b["cuba"]]), ref["cuba"])


def test_compiled_feed_forward_window_matches_eager() -> None:
    g = torch.Generator().manual_seed(3)
    net = Network()
    net.add_population("in", Input(50))
    net.add_population("hid", LIF(40))
    net.add_population("out", IF(10))
    net.connect("in", "hid", DenseProjection(50, 40, dyadic((50, 40), 0, 60, g)))
    net.connect("hid", "out", DenseProjection(40, 10, dyadic((40, 10), 0, 30, g)))
    x = (torch.rand(200, 2, 50, generator=g) < 0.02).float()
    ref, _ = net.run({"in": x}, mode=ExecutionMode.STEP, propagation=Propagation.DENSE)
    assert ref["hid"].sum() > 0
    for mode, prop in [
        (ExecutionMode.AUTO, Propagation.AUTO),
        (ExecutionMode.WINDOW, Propagation.SPARSE),
        (ExecutionMode.WINDOW, Propagation.DENSE),
        (ExecutionMode.STEP, Propagation.AUTO),
    ]:
        res, _ = net.run({"in": x}, mode=mode, propagation=prop)
        for name in ("hid", "out"):
            assert torch.equal(res[name], ref[name]), (mode, prop, name)


def test_offline_hook_gets_the_window_in_the_compiled_path() -> None:
    class Recorder:
        online = False

        def __init__(self) -> None:
            self.windows: list[torch.Tensor] = []

        def on_step(self, t, prev, spikes):  # type: ignore[no-untyped-def]
            raise AssertionError("the compiled path hands whole windows")

        def on_window(self, prev, record):  # type: ignore[no-untyped-def]
            self.windows.append(record["exc"])

    net = recurrent_net(0)
    hook = Recorder()
    x = (torch.rand(40, 1, 30) < 0.3).float()
    res, _ = net.run({"in": x, "cuba": torch.zeros(40, 1, 10)}, hooks=[hook])
    assert len(hook.windows) == 1 and torch.equal(hook.windows[0], res["exc"])


def test_kernels_can_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPIKERL_NO_KERNELS", "1")
    assert not kernels.enabled()
    neuron = LIF(3)
    assert kernels.neuron_scan(neuron, torch.zeros(2, 1, 3), neuron.initial_state(1)) is None
