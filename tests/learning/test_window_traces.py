"""Window traces against the per-step trace of the core."""

from __future__ import annotations

import math

import pytest
import torch

from spikerl.core.traces import trace_step
from spikerl.learning.traces import BLOCK, TraceMode, TraceParams, decay_matrix, trace_window


def spikes(
    g: torch.Generator, shape: tuple[int, ...], p: float, dtype: torch.dtype
) -> torch.Tensor:
    return (torch.rand(shape, generator=g) < p).to(dtype)


@pytest.mark.parametrize("mode", list(TraceMode))
@pytest.mark.parametrize("T", [1, 7, BLOCK, 3 * BLOCK + 5])
def test_trace_window_matches_scan(mode: TraceMode, T: int) -> None:
    g = torch.Generator().manual_seed(1)
    s = spikes(g, (T, 3, 4), 0.3, torch.float64)
    x0 = torch.rand(3, 4, generator=g, dtype=torch.float64)
    p = TraceParams(tau=7.0, scale=0.5, mode=mode)
    s_in, x0_in = s.clone(), x0.clone()
    x, before = trace_window(s, x0, p, dt=0.5)
    cur = x0
    for t in range(T):
        ref_before = cur * math.exp(-0.5 / 7.0)
        cur = trace_step(cur, s[t], p, 0.5)
        torch.testing.assert_close(x[t], cur, rtol=0, atol=1e-12)
        torch.testing.assert_close(before[t], ref_before, rtol=0, atol=1e-12)
    assert torch.equal(s, s_in) and torch.equal(x0, x0_in)  # pure


def test_all_to_all_adds_nearest_sets() -> None:
    s = torch.tensor([1.0, 1.0, 0.0]).view(3, 1, 1)
    x0 = torch.zeros(1, 1)
    a = math.exp(-1 / 10)
    add, _ = trace_window(s, x0, TraceParams(10.0, 1.0, TraceMode.ADD))
    near, _ = trace_window(s, x0, TraceParams(10.0, 1.0, TraceMode.SET))
    assert add.flatten().tolist() == pytest.approx([1.0, 1.0 + a, (1.0 + a) * a])
    assert near.flatten().tolist() == pytest.approx([1.0, 1.0, a])


def test_decay_matrix_values() -> None:
    d = decay_matrix(4, tau=2.0, dt=1.0, dtype=torch.float64)
    for t in range(4):
        for u in range(4):
            want = math.exp(-(t - u) / 2.0) if u <= t else 0.0
            assert float(d[t, u]) == pytest.approx(want, abs=1e-15)


def test_trace_window_shape_error() -> None:
    with pytest.raises(ValueError, match="trace_window"):
        trace_window(torch.zeros(5, 2, 3), torch.zeros(2, 4), TraceParams())
