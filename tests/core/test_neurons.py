"""Neuron models: golden values by hand, purity, batch independence, dtypes, resets."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from spikerl.core.neurons import (
    IF,
    LIF,
    AdaptiveLIF,
    AdaptiveLIFParams,
    AdaptiveLIFState,
    CubaLIF,
    CubaLIFParams,
    DiehlCook,
    DiehlCookParams,
    IFParams,
    Input,
    Izhikevich,
    IzhikevichParams,
    LIFParams,
    Neuron,
    Reset,
    adaptive_lif_step,
    cuba_lif_step,
    diehl_cook_step,
    if_step,
    izhikevich_step,
    lif_step,
)


def run_const(neuron: Neuron[Any, Any], value: float, steps: int) -> tuple[list[float], list[int]]:
    """Drive one neuron with a constant input; return its potentials and spike steps."""
    state = neuron.initial_state(1)
    vs, spikes = [], []
    x = torch.full((1, *neuron.shape), value, dtype=neuron.dtype)
    for t in range(steps):
        s, state = neuron(x, state)
        vs.append(float(state.v[0, 0]))
        if s[0, 0] > 0:
            spikes.append(t)
    return vs, spikes


def test_lif_golden_values_hard_reset_and_refractory() -> None:
    a = math.exp(-1.0 / 100.0)  # leak factor per 1 ms step
    vs, spikes = run_const(LIF(1), 5.0, 10)
    v1 = -60.0  # -65 + 5
    v2 = -65.0 + (v1 + 65.0) * a + 5.0  # -55.04975...
    v3 = -65.0 + (v2 + 65.0) * a + 5.0  # -50.1488 >= -52: spike, reset to -65
    assert vs[0] == pytest.approx(v1, abs=1e-5)
    assert vs[1] == pytest.approx(v2, abs=1e-5)
    assert v3 >= -52.0
    assert vs[2] == pytest.approx(-65.0)
    # 5 ms refractory at dt=1: input blocked on steps 3..7, integration resumes at step 8.
    assert vs[3:8] == pytest.approx([-65.0] * 5)
    assert vs[8] == pytest.approx(-60.0)
    assert spikes == [2]


def test_lif_soft_reset_subtracts_threshold_gap() -> None:
    a = math.exp(-0.01)
    vs, spikes = run_const(LIF(1, LIFParams(reset=Reset.SOFT, refrac=0.0)), 5.0, 3)
    v2 = -65.0 + 5.0 * a + 5.0
    v3 = -65.0 + (v2 + 65.0) * a + 5.0
    assert spikes == [2]
    assert vs[2] == pytest.approx(v3 - 13.0, abs=1e-5)  # v - (v_thresh - v_reset)


def test_lif_refractory_in_steps_follows_dt() -> None:
    # dt = 2 ms, refrac = 5 ms: blocked while the count is > 0: 5, 3, 1 -> three steps.
    vs, spikes = run_const(LIF(1, LIFParams(tau_mem=1e9), dt=2.0), 7.0, 8)
    assert spikes[0] == 1  # -58, -51
    assert vs[2:5] == pytest.approx([-65.0] * 3, abs=1e-4)
    assert vs[5] == pytest.approx(-58.0, abs=1e-4)


def test_if_golden_values() -> None:
    vs, spikes = run_const(IF(1), 5.0, 9)
    assert vs[:3] == pytest.approx([-60.0, -55.0, -65.0])  # -50 >= -52: spike, reset
    assert spikes == [2]
    assert vs[3:8] == pytest.approx([-65.0] * 5)
    assert vs[8] == pytest.approx(-60.0)


def test_if_soft_reset() -> None:
    vs, spikes = run_const(IF(1, IFParams(reset=Reset.SOFT, refrac=0.0)), 5.0, 4)
    assert spikes == [2]
    assert vs[2] == pytest.approx(-50.0 - 13.0)
    assert vs[3] == pytest.approx(-58.0)


def test_cuba_lif_golden_values() -> None:
    am, asyn = math.exp(-1 / 100), math.exp(-1 / 5)
    n = CubaLIF(1, CubaLIFParams())
    state = n.initial_state(1)
    x = torch.full((1, 1), 2.0)
    _, state = n(x, state)
    assert float(state.i[0, 0]) == pytest.approx(2.0)
    assert float(state.v[0, 0]) == pytest.approx(-63.0)
    _, state = n(x, state)
    i2 = 2.0 * asyn + 2.0
    assert float(state.i[0, 0]) == pytest.approx(i2, abs=1e-5)
    assert float(state.v[0, 0]) == pytest.approx(-65.0 + 2.0 * am + i2, abs=1e-5)
    # current keeps flowing with no input: i decays by asyn, v integrates it
    _, state = n(torch.zeros(1, 1), state)
    i3 = i2 * asyn
    v3 = -65.0 + (2.0 * am + i2) * am + i3
    assert float(state.v[0, 0]) == pytest.approx(v3, abs=1e-5)


def test_adaptive_lif_theta_rises_on_spike_and_decays() -> None:
    p = AdaptiveLIFParams(tau_theta=10.0, theta_plus=0.5, refrac=0.0)
    n = AdaptiveLIF(1, p)
    st = n.initial_state(1)
    s, st = n(torch.full((1, 1), 20.0), st)  # -45 >= -52: spike
    assert float(s[0, 0]) == 1.0
    assert float(st.theta[0, 0]) == pytest.approx(0.5)
    s, st = n(torch.zeros(1, 1), st)
    assert float(s[0, 0]) == 0.0
    assert float(st.theta[0, 0]) == pytest.approx(0.5 * math.exp(-0.1), abs=1e-6)
    # the raised threshold: -52 + theta
    st = AdaptiveLIFState(torch.full((1, 1), -65.0), torch.zeros(1, 1), torch.full((1, 1), 3.0))
    s, _ = adaptive_lif_step(torch.full((1, 1), 14.0), st, p)  # -51 < -49
    assert float(s[0, 0]) == 0.0
    frozen = AdaptiveLIFParams(adapt=False, refrac=0.0)
    _, st2 = adaptive_lif_step(torch.full((1, 1), 20.0), n.initial_state(1), frozen)
    assert float(st2.theta[0, 0]) == 0.0


def test_diehl_cook_one_winner_per_step() -> None:
    n = DiehlCook(3)
    st = n.initial_state(2)
    x = torch.tensor([[14.0, 16.0, 15.0], [1.0, 2.0, 3.0]])  # batch 0: all cross -52
    s, st = n(x, st)
    assert s.tolist() == [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert float(st.v[0, 1]) == pytest.approx(-60.0)  # D&C reset
    assert float(st.v[0, 0]) == pytest.approx(-51.0)  # losers keep their potential
    assert float(st.theta[0, 1]) == pytest.approx(0.05)
    multi = DiehlCook(3, DiehlCookParams(one_spike=False))
    s2, _ = multi(x, multi.initial_state(2))
    assert s2[0].tolist() == [1.0, 1.0, 1.0]


def test_izhikevich_golden_values() -> None:
    n = Izhikevich(1, IzhikevichParams.regular_spiking())
    st = n.initial_state(1)
    assert float(st.u[0, 0]) == pytest.approx(-13.0)
    _, st = n(torch.full((1, 1), 10.0), st)
    # v = -65 + (0.04*4225 - 325 + 140 + 13 + 10) = -58; u = -13 + 0.02*(0.2*-65 + 13) = -13
    assert float(st.v[0, 0]) == pytest.approx(-58.0, abs=1e-4)
    assert float(st.u[0, 0]) == pytest.approx(-13.0, abs=1e-5)
    _, st = n(torch.full((1, 1), 10.0), st)
    assert float(st.v[0, 0]) == pytest.approx(-50.44, abs=1e-4)
    assert float(st.u[0, 0]) == pytest.approx(-12.972, abs=1e-5)


def test_izhikevich_spike_resets_to_c_and_bumps_u() -> None:
    from spikerl.core.neurons import IzhikevichState

    p = IzhikevichParams.fast_spiking()
    st = IzhikevichState(torch.full((1, 1), 29.0), torch.zeros(1, 1))
    s, st = izhikevich_step(torch.zeros(1, 1), st, p)
    assert float(s[0, 0]) == 1.0
    assert float(st.v[0, 0]) == pytest.approx(-65.0)
    assert float(st.u[0, 0]) == pytest.approx(0.1 * 0.2 * 29.0 + 2.0, abs=1e-5)


@pytest.mark.parametrize(
    "preset",
    [
        IzhikevichParams.regular_spiking,
        IzhikevichParams.fast_spiking,
        IzhikevichParams.bursting,
        IzhikevichParams.intrinsically_bursting,
    ],
)
def test_izhikevich_presets_fire_under_drive(preset: Any) -> None:
    n = Izhikevich(1, preset(), dt=0.5)
    _, spikes = run_const(n, 10.0, 2000)
    assert 5 < len(spikes) < 1000


STEPS = [
    (if_step, IF(4)),
    (lif_step, LIF(4)),
    (cuba_lif_step, CubaLIF(4)),
    (adaptive_lif_step, AdaptiveLIF(4)),
    (diehl_cook_step, DiehlCook(4)),
    (izhikevich_step, Izhikevich(4)),
]


@pytest.mark.parametrize(("fn", "module"), STEPS, ids=lambda v: getattr(v, "__name__", ""))
def test_step_functions_are_pure(fn: Any, module: Neuron[Any, Any]) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 4, generator=g) * 20
    state = module.initial_state(3)
    state = type(state)(*(f + torch.rand(f.shape, generator=g) for f in state))
    x0 = x.clone()
    state0 = [f.clone() for f in state]
    fn(x, state, module.params, 1.0)
    assert torch.equal(x, x0)
    for a, b in zip(state, state0, strict=True):
        assert torch.equal(a, b)


MODULES = [IF(5), LIF(5), CubaLIF(5), AdaptiveLIF(5), DiehlCook(5), Izhikevich(5)]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: type(m).__name__)
def test_batch_independence(module: Neuron[Any, Any]) -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(60, 4, 5, generator=g) * 12
    s_all, _, _ = module.run(x)
    for b in range(4):
        s_b, _, _ = module.run(x[:, b : b + 1])
        assert torch.equal(s_all[:, b : b + 1], s_b)
    assert s_all.sum() > 0


@pytest.mark.parametrize("module", MODULES, ids=lambda m: type(m).__name__)
def test_float64_and_float32_agree(module: Neuron[Any, Any]) -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.rand(40, 2, 5, generator=g, dtype=torch.float64) * 12
    m64 = type(module)(5).to(torch.float64)
    s64, st64, _ = m64.run(x)
    assert s64.dtype == torch.float64 and st64.v.dtype == torch.float64
    s32, _, _ = type(module)(5).run(x.float())
    assert (s64.float() != s32).float().mean() < 0.02


def test_reset_state_masks_batch_elements() -> None:
    n = AdaptiveLIF(3)
    st = n.initial_state(2)
    _, st = n(torch.full((2, 3), 20.0), st)
    _, st = n(torch.full((2, 3), 3.0), st)
    fresh = n.reset_state(st, torch.tensor([True, False]))
    assert torch.equal(fresh.v[0], torch.full((3,), -65.0))
    assert torch.equal(fresh.v[1], st.v[1])
    assert torch.equal(fresh.refrac[0], torch.zeros(3))
    assert torch.equal(fresh.theta, st.theta)  # learned threshold survives an episode reset


def test_input_passes_spikes_through() -> None:
    n = Input((2, 3))
    x = (torch.rand(4, 2, 3) > 0.5).float()
    s, _ = n(x)
    assert torch.equal(s, x)


def test_bad_inputs_raise_clear_errors() -> None:
    n = LIF(4)
    n.name = "exc"
    with pytest.raises(ValueError, match=r"population 'exc'.*\[B, 4\].*\[2, 5\]"):
        n(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="NaN or inf"):
        n(torch.tensor([[0.0, float("nan"), 0.0, 0.0]]))
    with pytest.raises(ValueError, match="inf"):
        n(torch.tensor([[0.0, float("inf"), 0.0, 0.0]]))
    with pytest.raises(TypeError, match="Tensor"):
        n([[0.0] * 4])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dt"):
        LIF(4, dt=0.0)
    with pytest.raises(ValueError, match="dt"):
        LIF(4, dt=-1.0)
    with pytest.raises(ValueError, match="tau_mem"):
        LIFParams(tau_mem=0.0)
    with pytest.raises(ValueError, match="v_reset"):
        LIFParams(v_reset=-40.0)
    with pytest.raises(ValueError, match="shape"):
        LIF(0)
    with pytest.raises(TypeError, match="shape"):
        LIF("ten")  # type: ignore[arg-type]
