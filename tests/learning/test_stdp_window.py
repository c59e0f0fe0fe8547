"""The STDP window measured by simulating single pre/post pairs in a network.

Convention: ``dt = t_post - t_arrival`` where the pre spike arrives one network step after it
is emitted (``t_arrival = t_emit + 1``). A pre spike arriving in the step the post neuron
fires counts as causal (``dt = 0`` gives ``A+``).
"""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.learning import MSTDP, Hebbian, PostPre, TraceMode
from spikerl.learning.window import measure_stdp_window

OFFSETS = list(range(-50, 51))


def _expected(a_plus: float, a_minus: float, tp: float, tm: float) -> torch.Tensor:
    return torch.tensor(
        [a_plus * math.exp(-o / tp) if o >= 0 else -a_minus * math.exp(o / tm) for o in OFFSETS],
        dtype=torch.float64,
    )


@pytest.mark.parametrize("online", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pair_stdp_window(online: bool, dtype: torch.dtype) -> None:
    rule = PostPre(a_plus=0.01, a_minus=0.012, tau_plus=20.0, tau_minus=30.0)
    dw = measure_stdp_window(rule, OFFSETS, online=online, dtype=dtype).double()
    want = _expected(0.01, 0.012, 20.0, 30.0)
    rel = ((dw - want).abs() / want.abs()).max()
    assert float(rel) < 1e-5


@pytest.mark.parametrize("mode", list(TraceMode))
def test_nearest_and_all_to_all_agree_for_single_pairs(mode: TraceMode) -> None:
    rule = PostPre(a_plus=0.02, a_minus=0.01, tau_plus=10.0, tau_minus=15.0, mode=mode)
    dw = measure_stdp_window(rule, OFFSETS)
    torch.testing.assert_close(dw, _expected(0.02, 0.01, 10.0, 15.0), rtol=1e-9, atol=0)


def test_mstdp_window_scales_with_reward() -> None:
    rule = MSTDP(gamma=0.1, a_plus=1.0, a_minus=-0.5, tau_plus=20.0, tau_minus=20.0)
    for r in (2.0, -1.0):
        dw = measure_stdp_window(rule, OFFSETS, modulation=r)
        want = 0.1 * r * _expected(1.0, 0.5, 20.0, 20.0)
        torch.testing.assert_close(dw, want, rtol=1e-9, atol=1e-15)


def test_hebbian_window_is_positive_on_both_sides() -> None:
    dw = measure_stdp_window(Hebbian(eta_post=0.01, eta_pre=0.02), OFFSETS)
    assert bool((dw > 0).all())
    assert float(dw[OFFSETS.index(0)]) == pytest.approx(0.01)
    assert float(dw[OFFSETS.index(-1)]) == pytest.approx(0.02 * math.exp(-1 / 20))
