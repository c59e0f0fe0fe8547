"""Projections: equivalences between types, constraints, masks, event-driven propagation."""

from __future__ import annotations

import pytest
import torch

from spikerl.core import (
    Conv2dProjection,
    DenseProjection,
    LateralProjection,
    LocalConnected2dProjection,
    Normal,
    Propagation,
    Sign,
    SparseProjection,
    Uniform,
)
from spikerl.core.projections import event_matmul


def test_event_matmul_equals_dense_product() -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(7, 50, generator=g) < 0.05).float() * torch.rand(7, 50, generator=g)
    w = torch.randn(50, 30, generator=g)
    torch.testing.assert_close(event_matmul(x, w), x @ w)
    assert torch.equal(event_matmul(torch.zeros(2, 50), w), torch.zeros(2, 30))


@pytest.mark.parametrize("cls", [Conv2dProjection, LocalConnected2dProjection])
def test_conv_and_local_equal_their_dense_form(cls: type) -> None:
    g = torch.Generator().manual_seed(1)
    p = cls((2, 7, 7), 3, 3, stride=2, padding=1, weight=Normal(0, 1), generator=g)
    x = torch.rand(4, 2, 7, 7, generator=g)
    w = p.dense_weight()
    assert w.shape == (2 * 7 * 7, 3 * 4 * 4)
    torch.testing.assert_close((x.flatten(1) @ w).reshape(4, 3, 4, 4), p(x))


def test_sparse_equals_dense_with_same_synapses() -> None:
    g = torch.Generator().manual_seed(2)
    p = SparseProjection(40, 15, 0.2, Uniform(-1, 1), generator=g)
    x = (torch.rand(5, 40, generator=g) < 0.3).float()
    torch.testing.assert_close(p(x), x @ p.dense_weight())
    assert p.weight.shape[0] == p.indices.shape[1]
    assert (p.dense_weight() != 0).sum() <= p.indices.shape[1]


def test_normalisation_is_exact_for_every_type() -> None:
    g = torch.Generator().manual_seed(3)
    dense = DenseProjection(30, 10, Uniform(0.1, 1), norm=7.0, generator=g)
    torch.testing.assert_close(dense.weight.sum(0), torch.full((10,), 7.0))
    conv = Conv2dProjection((2, 5, 5), 4, 3, weight=Uniform(0.1, 1), norm=2.0, generator=g)
    torch.testing.assert_close(conv.fan_in_sums(), torch.full((4,), 2.0))
    local = LocalConnected2dProjection((1, 5, 5), 2, 3, weight=Uniform(0.1, 1), norm=1.5)
    torch.testing.assert_close(local.fan_in_sums(), torch.full((9, 2), 1.5))
    sparse = SparseProjection(30, 10, 0.5, Uniform(0.1, 1), norm=3.0, generator=g)
    torch.testing.assert_close(sparse.dense_weight().sum(0), torch.full((10,), 3.0))


def test_bounds_sign_and_mask_hold_after_constraints() -> None:
    g = torch.Generator().manual_seed(4)
    mask = torch.rand(20, 10, generator=g) < 0.5
    p = DenseProjection(20, 10, Normal(0, 3), wmin=-1.0, wmax=0.5, mask=mask, generator=g)
    with torch.no_grad():
        p.weight.add_(torch.randn(20, 10, generator=g) * 5)
    p.apply_constraints_()
    assert p.weight.min() >= -1.0 and p.weight.max() <= 0.5
    assert torch.all(p.weight[~mask] == 0)
    exc = DenseProjection(20, 10, Normal(0, 1), sign=Sign.EXCITATORY, generator=g)
    assert exc.weight.min() >= 0
    inh = DenseProjection(20, 10, Normal(0, 1), sign=Sign.INHIBITORY, generator=g)
    assert inh.weight.max() <= 0
    with pytest.raises(ValueError, match="wmin"):
        DenseProjection(3, 3, wmin=1.0, wmax=0.0)


def test_lateral_projections() -> None:
    inh = LateralProjection.inhibition(4, 2.5)
    expected = -2.5 * (1 - torch.eye(4))
    assert torch.equal(inh.weight.detach(), expected)
    coop = LateralProjection.cooperation((3, 3), 1.0, radius=1.0)
    w = coop.weight.detach()
    assert torch.all(torch.diag(w) == 0)
    assert w[4].sum() == 4  # the centre of a 3x3 grid has four neighbours at distance 1
    assert w[0].sum() == 2


def test_dense_event_driven_propagation_matches() -> None:
    g = torch.Generator().manual_seed(5)
    p = DenseProjection(100, 20, Normal(0, 1), generator=g)
    x = (torch.rand(3, 100, generator=g) < 0.02).float()
    torch.testing.assert_close(p(x, Propagation.SPARSE), p(x, Propagation.DENSE))
    torch.testing.assert_close(p(x, Propagation.AUTO), p(x, Propagation.DENSE))


def test_projection_bad_input() -> None:
    p = DenseProjection(10, 5)
    with pytest.raises(ValueError, match=r"\[B, 10\].*\[2, 11\]"):
        p(torch.zeros(2, 11))
    with pytest.raises(ValueError, match="weight: expected shape"):
        DenseProjection(10, 5, torch.zeros(5, 10))
    with pytest.raises(ValueError, match="mask"):
        DenseProjection(10, 5, mask=torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="connectivity"):
        SparseProjection(10, 5, 1.5)
    with pytest.raises(ValueError, match="connectivity"):
        SparseProjection(10, 5, torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        Conv2dProjection((5, 5), 2, 3)
    with pytest.raises(ValueError, match="too large"):
        Conv2dProjection((1, 2, 2), 2, 3)


def test_learning_adapters_shapes_and_fold() -> None:
    conv = Conv2dProjection((2, 5, 5), 3, 3)
    pre = conv.unfold_pre(torch.rand(4, 2, 5, 5))
    post = conv.unfold_post(torch.rand(4, 3, 3, 3))
    assert pre.shape == (4, 9, 18) and post.shape == (4, 9, 3)
    dw = torch.einsum("blk,bln->lkn", pre, post)
    assert conv.fold(dw).shape == conv.weight.shape
    local = LocalConnected2dProjection((2, 5, 5), 3, 3)
    assert local.fold(dw).shape == local.weight.shape
    dense = DenseProjection(6, 4)
    d = torch.einsum(
        "blk,bln->lkn", dense.unfold_pre(torch.rand(2, 6)), dense.unfold_post(torch.rand(2, 4))
    )
    assert dense.fold(d).shape == (6, 4)


def test_weight_tensor_keeps_its_floating_dtype() -> None:
    """A float64 weight stays float64 (and computes in float64); integer weights become
    float32, like initialisers and constants."""
    w64 = torch.tensor([[0.1, 0.2], [0.3, 0.4]], dtype=torch.float64)
    proj = DenseProjection(2, 2, weight=w64)
    assert proj.weight.dtype == torch.float64
    y = proj(torch.tensor([[1.0, 1.0]]))
    assert y.dtype == torch.float64 and float(y[0, 1]) == 0.2 + 0.4
    assert proj.weight.data_ptr() != w64.data_ptr()  # a copy: the caller's tensor is untouched
    assert DenseProjection(2, 2, weight=torch.ones(2, 2, dtype=torch.int64)).weight.dtype == (
        torch.float32
    )
    assert DenseProjection(2, 2, weight=0.5).weight.dtype == torch.float32
