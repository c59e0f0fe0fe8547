"""Tests of surrogate-gradient spike functions and the differentiable LIF."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.core.neurons import LIF, LIFParams, Reset, lif_step
from spikerl.learning.surrogate import (
    ATan,
    FastSigmoid,
    Sigmoid,
    Surrogate,
    SurrogateLIF,
    heaviside,
    spike_fn,
    surrogate_lif_step,
)

SURROGATES: list[Surrogate] = [FastSigmoid(), ATan(), Sigmoid()]


@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
def test_forward_is_heaviside(surrogate: Surrogate) -> None:
    x = torch.tensor([-3.0, -1e-6, 0.0, 1e-6, 2.0, -0.0])
    s = spike_fn(x, surrogate)
    assert torch.equal(s, torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0, 1.0]))
    assert torch.equal(s, heaviside(x))
    assert s.dtype == x.dtype


# Golden values worked out by hand from the formulas.
GOLDEN = [
    # FastSigmoid k=25: 1 / (1 + 25|x|)^2
    (FastSigmoid(slope=25.0), [0.0, 0.04, -0.2], [1.0, 0.25, 1.0 / 36.0]),
    # ATan a=2: (a/2) / (1 + (pi a x / 2)^2) = 1 / (1 + (pi x)^2)
    (ATan(alpha=2.0), [0.0, 1.0 / math.pi, -1.0 / math.pi], [1.0, 0.5, 0.5]),
    # Sigmoid k=4: k s (1 - s), s = sigma(4x); x = ln(3)/4 -> s = 3/4 -> 4 * 3/16 = 0.75
    (Sigmoid(slope=4.0), [0.0, math.log(3.0) / 4.0, -math.log(3.0) / 4.0], [1.0, 0.75, 0.75]),
]


@pytest.mark.parametrize(("surrogate", "xs", "expected"), GOLDEN)
def test_backward_is_analytic_surrogate(
    surrogate: Surrogate, xs: list[float], expected: list[float]
) -> None:
    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    spike_fn(x, surrogate).sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(surrogate.derivative(x.detach()), x.grad)


def test_backward_scales_upstream_gradient() -> None:
    x = torch.tensor([0.04, 0.0], requires_grad=True)
    (spike_fn(x, FastSigmoid(25.0)) * torch.tensor([2.0, -3.0])).sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, torch.tensor([0.5, -3.0]))


def test_surrogate_choice_is_typed() -> None:
    with pytest.raises(TypeError, match="Surrogate"):
        spike_fn(torch.zeros(2), "atan")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FastSigmoid(slope=0.0)
    with pytest.raises(ValueError):
        ATan(alpha=-1.0)
    with pytest.raises(TypeError):
        SurrogateLIF(surrogate="fast_sigmoid")  # type: ignore[arg-type]


PARAMS = [
    LIFParams(),  # classic -65/-52 mV, 5 ms refractory, hard reset
    LIFParams(refrac=0.0, reset=Reset.SOFT),
    LIFParams(tau_mem=5.0, v_rest=0.0, v_reset=0.0, v_thresh=1.0, refrac=2.0),
]


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("detach_reset", [False, True])
def test_forward_matches_core_lif(params: LIFParams, detach_reset: bool) -> None:
    g = torch.Generator().manual_seed(0)
    T, B, N = 60, 3, 50
    scale = params.v_thresh - params.v_rest
    x = torch.rand(T, B, N, generator=g) * scale * 0.4
    core = LIF(N, params, dt=1.0)
    expected, core_state, recs = core.run(x, record=("v",))
    assert expected.sum() > 10  # the comparison is not vacuous

    sg = SurrogateLIF(N, params, dt=1.0, detach_reset=detach_reset)
    assert torch.equal(sg.run(x.clone().requires_grad_()), expected)

    state = None
    for t in range(T):
        s, state = sg(x[t], state)
        assert torch.equal(s, expected[t])
        assert torch.equal(state.v, recs["v"][t])
    assert state is not None
    assert torch.equal(state.refrac, core_state.refrac)


def test_step_matches_lif_step_and_keeps_inputs() -> None:
    p = LIFParams()
    g = torch.Generator().manual_seed(1)
    state = LIF(8, p).initial_state(4)
    state = type(state)(state.v + torch.rand(4, 8, generator=g) * 14.0, state.refrac)
    x = torch.rand(4, 8, generator=g) * 3.0
    v0 = state.v.clone()
    s1, st1 = lif_step(x, state, p, 0.5)
    s2, st2 = surrogate_lif_step(x, state, p, 0.5, ATan())
    assert torch.equal(s1, s2)
    assert torch.equal(st1.v, st2.v)
    assert torch.equal(st1.refrac, st2.refrac)
    assert torch.equal(state.v, v0)


@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("detach_reset", [False, True])
def test_gradients_flow_through_time(surrogate: Surrogate, detach_reset: bool) -> None:
    torch.manual_seed(0)
    p = LIFParams(tau_mem=10.0, v_rest=0.0, v_reset=0.0, v_thresh=1.0, refrac=0.0)
    lif = SurrogateLIF(params=p, surrogate=surrogate, detach_reset=detach_reset)
    w = torch.nn.Parameter(torch.randn(5, 7) * 0.5)
    x = torch.rand(20, 4, 5)
    spikes = lif.run(torch.einsum("tbi,ij->tbj", x, w))
    assert spikes.shape == (20, 4, 7)
    spikes.sum().backward()
    assert w.grad is not None
    assert torch.isfinite(w.grad).all()
    assert w.grad.abs().sum() > 0
    # Input at the first step influences spikes at later steps (BPTT through v).
    x0 = torch.rand(1, 4, 5, requires_grad=True)
    late = lif.run(torch.cat([x0, torch.zeros(5, 4, 5)]) @ w)[1:]
    late.sum().backward()
    assert x0.grad is not None and x0.grad.abs().sum() > 0


def test_module_api() -> None:
    lif = SurrogateLIF((2, 3), LIFParams(refrac=0.0))
    s, st = lif(torch.full((4, 2, 3), 20.0))
    assert s.shape == (4, 2, 3) and bool(s.all())
    assert torch.equal(st.v, torch.full((4, 2, 3), -65.0))
    with pytest.raises(ValueError, match="expected"):
        lif(torch.zeros(4, 6))
    with pytest.raises(ValueError, match="expected"):
        lif.run(torch.zeros(4, 2, 3))
    reset = lif.reset_state(st._replace(v=st.v + 5.0), torch.tensor([True, False, True, False]))
    assert torch.equal(reset.v[0], torch.full((2, 3), -65.0))
    assert torch.equal(reset.v[1], torch.full((2, 3), -60.0))
    # shape=None accepts any [B, ...].
    assert SurrogateLIF().run(torch.zeros(3, 2, 4, 5, 5)).shape == (3, 2, 4, 5, 5)


def test_tiny_snn_fits_toy_target() -> None:
    """A 2-layer SNN learns to emit a target spike count per output with Adam."""
    torch.manual_seed(0)
    T, B, n_in, n_hid, n_out = 10, 16, 10, 32, 2
    p = LIFParams(tau_mem=10.0, v_rest=0.0, v_reset=0.0, v_thresh=1.0, refrac=0.0)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(T, B, n_in, generator=g) < 0.3).float()
    # Target: output 0 fires 5 times and output 1 once in T = 10 steps, for every input.
    target = torch.tensor([5.0, 1.0]).expand(B, n_out).clone()
    fc1 = torch.nn.Linear(n_in, n_hid)
    fc2 = torch.nn.Linear(n_hid, n_out)
    lif1, lif2 = SurrogateLIF(params=p), SurrogateLIF(params=p)
    opt = torch.optim.Adam([*fc1.parameters(), *fc2.parameters()], lr=0.02)

    def loss_fn() -> torch.Tensor:
        counts = lif2.run(fc2(lif1.run(fc1(x)))).sum(0)
        return torch.nn.functional.mse_loss(counts, target)

    first = float(loss_fn().detach())
    for _ in range(100):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    final = float(loss_fn().detach())
    assert final < 0.25 and final < first / 20, (first, final)
