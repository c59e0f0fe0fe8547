"""The compiled surrogate-LIF window equals the eager BPTT graph: spikes and gradients."""

from __future__ import annotations

import pytest
import torch

from spikerl.core.neurons.base import Reset
from spikerl.core.neurons.lif import LIFParams
from spikerl.learning.fused_lif import fused_lif_window
from spikerl.learning.surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, SurrogateLIF


def _eager_and_fused(
    params: LIFParams, surrogate: Surrogate, detach: bool, dtype: torch.dtype
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(40, 3, 25, generator=g, dtype=dtype) * 0.8).requires_grad_()
    v0 = (torch.rand(3, 25, generator=g, dtype=dtype) * 0.5).requires_grad_()
    w = torch.randn(40, 3, 25, generator=g, dtype=dtype)
    fused = fused_lif_window(x, v0, params, 1.0, surrogate, detach)
    assert fused is not None
    (fused[0] * w).sum().backward()
    got = (fused[0].detach(), x.grad.clone(), v0.grad.clone())  # type: ignore[union-attr]
    x.grad, v0.grad = None, None
    from spikerl.core.neurons.lif import LIFState
    from spikerl.learning.surrogate import surrogate_lif_step

    state = LIFState(v0, torch.zeros_like(v0))
    out = []
    for t in range(40):
        s, state = surrogate_lif_step(x[t], state, params, 1.0, surrogate, detach)
        out.append(s)
    ref_s = torch.stack(out)
    (ref_s * w).sum().backward()
    ref = (ref_s.detach(), x.grad.clone(), v0.grad.clone())  # type: ignore[union-attr]
    return got, ref


@pytest.mark.parametrize("reset", [Reset.SOFT, Reset.HARD])
@pytest.mark.parametrize("surrogate", [FastSigmoid(), ATan(), Sigmoid(4.0)])
@pytest.mark.parametrize("detach", [False, True])
def test_fused_window_matches_eager_graph(reset: Reset, surrogate: Surrogate, detach: bool) -> None:
    params = LIFParams(v_rest=0.0, v_reset=0.0, v_thresh=1.0, refrac=0.0, tau_mem=5.0, reset=reset)
    (s, gx, gv), (rs, rgx, rgv) = _eager_and_fused(params, surrogate, detach, torch.float32)
    assert s.sum() > 0
    assert torch.equal(s, rs)  # identical float operations: identical spikes
    torch.testing.assert_close(gx, rgx, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gv, rgv, rtol=1e-5, atol=1e-5)


def test_fused_window_float64_and_classic_constants() -> None:
    params = LIFParams(refrac=0.0)  # -65 / -52 mV, hard reset
    (s, gx, gv), (rs, rgx, rgv) = _eager_and_fused(params, ATan(0.5), False, torch.float64)
    assert torch.equal(s, rs)
    torch.testing.assert_close(gx, rgx)
    torch.testing.assert_close(gv, rgv)


def test_surrogate_lif_run_uses_fused_path_and_falls_back() -> None:
    x = torch.rand(20, 2, 8) * 0.9
    fast = SurrogateLIF(params=LIFParams(v_rest=0, v_reset=0, v_thresh=1, refrac=0.0))
    slow = SurrogateLIF(params=LIFParams(v_rest=0, v_reset=0, v_thresh=1, refrac=2.0))
    assert fused_lif_window(x, torch.zeros(2, 8), slow.params, 1.0, slow.surrogate, False) is None
    s = fast.run(x)
    assert s.shape == x.shape and s.sum() > 0
    assert slow.run(x).sum() <= s.sum()  # refractory periods can only remove spikes


def test_event_driven_outer_equals_einsum() -> None:
    from spikerl.learning.activity import outer

    g = torch.Generator().manual_seed(3)
    pre = (torch.rand(200, 2, 1, 40, generator=g) < 0.02).float()  # sparse spikes
    post = torch.rand(200, 2, 1, 30, generator=g)  # dense traces
    ref = torch.einsum("tblk,tbln->lkn", pre, post)
    torch.testing.assert_close(outer(pre, post), ref)
    torch.testing.assert_close(
        outer(post.transpose(-1, -1), pre), torch.einsum("tblk,tbln->lkn", post, pre)
    )
    dense = torch.rand(50, 1, 1, 8, generator=g)
    torch.testing.assert_close(outer(dense, dense), torch.einsum("tblk,tbln->lkn", dense, dense))


def test_fused_window_broadcast_gradient_and_threads_agree() -> None:
    """``y.sum().backward()`` hands the kernel a stride-0 gradient; the serial and the
    parallel kernels (one and two threads) must give the eager graph's gradients."""
    params = LIFParams(v_rest=0.0, v_reset=0.0, v_thresh=1.0, refrac=0.0, tau_mem=8.0)
    g = torch.Generator().manual_seed(5)
    x0 = torch.rand(30, 4, 700, generator=g) * 0.5  # 2800 units: several blocks of 512
    v0 = torch.zeros(4, 700)
    from spikerl.core.neurons.lif import LIFState
    from spikerl.learning.surrogate import surrogate_lif_step

    x = x0.clone().requires_grad_()
    state = LIFState(v0, torch.zeros_like(v0))
    out = []
    for t in range(30):
        s, state = surrogate_lif_step(x[t], state, params, 1.0, FastSigmoid(), False)
        out.append(s)
    torch.stack(out).sum().backward()
    ref = x.grad.clone()  # type: ignore[union-attr]
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            x = x0.clone().requires_grad_()
            fused = fused_lif_window(x, v0, params, 1.0, FastSigmoid(), False)
            assert fused is not None
            assert torch.equal(fused[0], torch.stack(out).detach())
            fused[0].sum().backward()
            torch.testing.assert_close(x.grad, ref, rtol=1e-5, atol=1e-5)
    finally:
        torch.set_num_threads(before)
