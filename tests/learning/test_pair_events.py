"""Event-driven pair STDP over a window equals the generic trace-and-product path."""

from __future__ import annotations

import pytest
import torch

from spikerl.core.projections import DenseProjection
from spikerl.learning import PostPre
from spikerl.learning.activity import Reduction, TraceState, compute_activity
from spikerl.learning.pair_events import pair_stdp_window
from spikerl.learning.traces import TraceMode


def _generic(
    rule: PostPre,
    proj: DenseProjection,
    pre: torch.Tensor,
    post: torch.Tensor,
    traces: TraceState | None,
    reduction: Reduction,
) -> tuple[torch.Tensor, TraceState]:
    act, new = compute_activity(proj, pre, post, rule.pre_trace, rule.post_trace, 1.0, traces)
    return rule.delta(proj, act, reduction=reduction).dw, new


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("reduction", [Reduction.MEAN, Reduction.SUM])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pair_window_equals_generic_over_consecutive_windows(
    batch: int, reduction: Reduction, dtype: torch.dtype
) -> None:
    g = torch.Generator().manual_seed(batch)
    proj = DenseProjection(30, 20, weight=torch.rand(30, 20, generator=g)).to(dtype)
    rule = PostPre(a_plus=0.3, a_minus=0.2, tau_plus=7.0, tau_minus=13.0)
    fast_tr: TraceState | None = None
    ref_tr: TraceState | None = None
    for _ in range(3):  # traces carried from window to window
        pre = (torch.rand(50, batch, 30, generator=g) < 0.05).to(dtype)
        post = (torch.rand(50, batch, 20, generator=g) < 0.2).to(dtype)
        out = pair_stdp_window(
            proj, pre, post, rule.pre_trace, rule.post_trace, 0.3, 0.2, 1.0, fast_tr, reduction
        )
        assert out is not None
        dw, fast_tr = out
        ref, ref_tr = _generic(rule, proj, pre, post, ref_tr, reduction)
        assert float(ref.abs().max()) > 0.1
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        torch.testing.assert_close(dw, ref, rtol=tol, atol=tol)
        torch.testing.assert_close(fast_tr.pre, ref_tr.pre, rtol=tol, atol=tol)
        torch.testing.assert_close(fast_tr.post, ref_tr.post, rtol=tol, atol=tol)


def test_pair_window_hand_computed_pair() -> None:
    """One pre spike at t=2 and one post spike at t=5: dw = A+ a^3 (tau+ = 10 ms);
    one post spike at t=1 and one pre at t=4: dw = -A- a^3 (tau- = 10 ms)."""
    proj = DenseProjection(1, 1, weight=torch.zeros(1, 1)).double()
    pre = torch.zeros(40, 1, 1, dtype=torch.float64)  # one spike in 40 steps: sparse
    post = torch.zeros(40, 1, 1, dtype=torch.float64)
    pre[2], post[5] = 1.0, 1.0
    rule = PostPre(a_plus=0.5, a_minus=0.25, tau_plus=10.0, tau_minus=10.0)
    args = (rule.pre_trace, rule.post_trace, 0.5, 0.25, 1.0, None, Reduction.SUM)
    out = pair_stdp_window(proj, pre, post, *args)
    assert out is not None
    a3 = torch.exp(torch.tensor(-0.3, dtype=torch.float64))
    torch.testing.assert_close(out[0], (0.5 * a3).reshape(1, 1))
    pre.zero_(), post.zero_()
    post[1], pre[4] = 1.0, 1.0
    out = pair_stdp_window(proj, pre, post, *args)
    assert out is not None
    torch.testing.assert_close(out[0], (-0.25 * a3).reshape(1, 1))


def test_pair_window_declines_what_it_does_not_cover() -> None:
    proj = DenseProjection(10, 5)
    pre = torch.ones(20, 1, 10)  # dense input: above the event-driven density
    post = torch.zeros(20, 1, 5)
    rule = PostPre()
    args = (rule.pre_trace, rule.post_trace, 1.0, 1.0, 1.0, None, Reduction.SUM)
    assert pair_stdp_window(proj, pre, post, *args) is None
    nearest = PostPre(mode=TraceMode.SET)
    sparse_pre = torch.zeros(20, 1, 10)
    args = (nearest.pre_trace, nearest.post_trace, 1.0, 1.0, 1.0, None, Reduction.SUM)
    assert pair_stdp_window(proj, sparse_pre, post, *args) is None


def test_plasticity_window_mode_takes_the_event_path_with_the_same_weights() -> None:
    """A network run with window plasticity gives the weights of the generic rule."""
    from spikerl.core.network import Network
    from spikerl.core.neurons import LIF, Input
    from spikerl.learning import Plasticity

    g = torch.Generator().manual_seed(0)
    x = (torch.rand(300, 1, 200, generator=g) < 0.02).float()
    weights = []
    for fast in (True, False):
        net = Network()
        net.add_population("input", Input(200))
        net.add_population("lif", LIF(100))
        w0 = torch.rand(200, 100, generator=torch.Generator().manual_seed(1)) * 3.0
        proj = net.connect("input", "lif", DenseProjection(200, 100, weight=w0.clone()))
        rule = PostPre(a_plus=1e-2, a_minus=1e-2)
        plast = Plasticity.bind(net, proj, rule, online=False)
        if not fast:
            plast.rule = _NoFastPath(a_plus=1e-2, a_minus=1e-2)
        res, _ = net.run({"input": x}, hooks=[plast])
        assert res["lif"].sum() > 0
        weights.append(proj.weight.detach().clone())
    assert not torch.equal(weights[0], w0)
    torch.testing.assert_close(weights[0], weights[1], rtol=1e-5, atol=1e-6)


class _NoFastPath(PostPre):
    def window_delta(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        return None
