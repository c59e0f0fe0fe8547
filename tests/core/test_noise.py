"""Ornstein-Uhlenbeck membrane noise (spikerl.core.noise)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spikerl.core.noise import ou_decay, ou_filter


def test_ou_filter_golden_values() -> None:
    """By hand: a = 0.5, sqrt(1 - a^2) = 0.8660254; z = [1, 0, 2]:
    x0 = 1 (stationary start), x1 = 0.5, x2 = 0.25 + 0.8660254 * 2 = 1.9820508."""
    z = torch.tensor([[1.0], [0.0], [2.0]], dtype=torch.float64)
    x = ou_filter(z, None, 0.5)
    assert x is z
    np.testing.assert_allclose(x[:, 0].numpy(), [1.0, 0.5, 0.25 + math.sqrt(0.75) * 2], atol=1e-15)
    # continuing from previous = 2 with a_first = 0.6 (sqrt(1 - 0.36) = 0.8):
    # x0 = 0.6 * 2 + 0.8 * 1 = 2.0, x1 = 0.5 * 2.0 + 0.8660254 * 0 = 1.0
    z = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    x = ou_filter(z, torch.tensor([2.0], dtype=torch.float64), 0.5, a_first=0.6)
    np.testing.assert_allclose(x[:, 0].numpy(), [2.0, 1.0], atol=1e-15)


def test_ou_filter_limits() -> None:
    """a = 0 leaves white noise as it is; a = 1 holds the previous value."""
    z = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    np.testing.assert_array_equal(ou_filter(z.clone(), None, 0.0).numpy(), z.numpy())
    prev = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    held = ou_filter(z.clone(), prev, 1.0)
    np.testing.assert_array_equal(held.numpy(), np.tile(prev.numpy(), (5, 1)))


def test_ou_filter_is_stationary_with_geometric_correlation() -> None:
    """Over 200k steps (1000 chains of 200) the variance stays that of z (sigma^2 = 4) and
    the lag-k correlation is a^k; standard errors of these estimates are < 0.01."""
    a = ou_decay(1.0, 10.0)  # exp(-0.1) = 0.905
    g = torch.Generator().manual_seed(1)
    z = 2.0 * torch.randn(200, 1000, generator=g, dtype=torch.float64)
    x = ou_filter(z, None, a).numpy()
    assert abs(x.var() / 4.0 - 1.0) < 0.05
    for k in (1, 5, 20):
        r = float(np.mean(x[k:] * x[:-k]) / np.mean(x * x))
        assert abs(r - a**k) < 0.03, (k, r, a**k)


def test_ou_decay_and_errors() -> None:
    assert ou_decay(2.0, 4.0) == pytest.approx(math.exp(-0.5), abs=1e-15)
    assert ou_decay(0.0, 4.0) == 1.0
    for tau in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="tau must be a positive number of ms"):
            ou_decay(1.0, tau)
    with pytest.raises(ValueError, match="dt must be"):
        ou_decay(-1.0, 5.0)
    z = torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"a must be in \[0, 1\]"):
        ou_filter(z, None, 1.5)
    with pytest.raises(ValueError, match=r"a_first must be in \[0, 1\]"):
        ou_filter(z, None, 0.5, a_first=-0.1)
    with pytest.raises(ValueError, match=r"previous has shape \[3\], expected \[2\]"):
        ou_filter(z, torch.zeros(3), 0.5)
