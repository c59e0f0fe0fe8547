"""One rule, every connection type: the same change on a projection and its dense equivalent.

For a conv/local/sparse projection ``P`` and the dense projection ``D`` with
``D.weight = P.dense_weight()``, every weight of ``P`` maps to a set of dense entries
(``J[k, e] = 1``). The rule's change on ``P`` must equal ``J @ dw_dense`` (computed as
the gradient of ``<P.dense_weight(w), dw_dense>`` with respect to ``w``) (shared weights
collect the changes of all their entries; unshared ones take their single entry's).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from spikerl.core.projections import (
    Conv2dProjection,
    DenseProjection,
    LocalConnected2dProjection,
    Projection,
    SparseProjection,
)
from spikerl.learning import (
    MSTDP,
    MSTDPET,
    DiehlCook2015,
    Hebbian,
    LearningRule,
    PostPre,
    WeightDependentPostPre,
    compute_activity,
)


def _projections() -> list[tuple[str, Projection]]:
    g = torch.Generator().manual_seed(0)
    conv = Conv2dProjection((2, 5, 5), 3, 3, stride=1, padding=1, generator=g, wmin=0.0, wmax=1.0)
    local = LocalConnected2dProjection((2, 5, 5), 3, 3, stride=2, generator=g, wmin=0.0, wmax=1.0)
    sparse = SparseProjection((2, 5, 5), 7, connectivity=0.4, generator=g, wmin=0.0, wmax=1.0)
    return [("conv", conv), ("local", local), ("sparse", sparse)]


def _adjoint(proj: Projection, m: Tensor) -> Tensor:
    """``J @ m`` for ``m`` over dense entries: the gradient of ``<dense_weight(w), m>``."""
    n_src = m.shape[0]
    eye = torch.eye(n_src).reshape(n_src, *proj.source_shape)
    w = proj.weight.detach().clone().requires_grad_(True)
    out = torch.func.functional_call(proj, {"weight": w}, (eye,))
    (grad,) = torch.autograd.grad((out.reshape(n_src, -1) * m).sum(), w)
    return grad


RULES: list[tuple[LearningRule, float | None]] = [
    (Hebbian(eta_post=0.01, eta_pre=0.02), None),
    (PostPre(), None),
    (WeightDependentPostPre(a_plus=0.1, a_minus=0.05), None),
    (DiehlCook2015(eta_post=0.05, eta_pre=0.01, x_tar=0.3), None),
    (MSTDP(gamma=0.1), -0.8),
    (MSTDPET(gamma=0.1, tau_z=8.0), 1.3),
]


@pytest.mark.parametrize("name,proj", _projections(), ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("rule,mod", RULES, ids=lambda r: type(r).__name__)
def test_same_change_as_dense_equivalent(
    name: str, proj: Projection, rule: LearningRule, mod: float | None
) -> None:
    dense = DenseProjection(
        proj.source_shape, proj.target_shape, weight=proj.dense_weight(), wmin=0.0, wmax=1.0
    )
    g = torch.Generator().manual_seed(11)
    T, B = 15, 3
    pre = (torch.rand(T, B, *proj.source_shape, generator=g) < 0.3).float()
    post = (torch.rand(T, B, *proj.target_shape, generator=g) < 0.3).float()
    outs = []
    for p in (proj, dense):
        act, _ = compute_activity(p, pre, post, rule.pre_trace, rule.post_trace)
        outs.append(rule.delta(p, act, mod))
    got, ref = outs[0], outs[1]
    torch.testing.assert_close(got.dw, _adjoint(proj, ref.dw), rtol=1e-4, atol=1e-6)
    if got.state is not None:  # per-sample eligibility, folded the same way
        assert ref.state is not None
        mapped = torch.stack([_adjoint(proj, ref.state[b]) for b in range(B)])
        torch.testing.assert_close(got.state, mapped, rtol=1e-4, atol=1e-6)
