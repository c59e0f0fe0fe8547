"""Torch transforms: values, purity, composition."""

from __future__ import annotations

import pytest
import torch

from spikerl.datasets.transforms import (
    Compose,
    Flatten,
    Normalize,
    ScaleIntensity,
    ToFloat,
    flatten,
    normalize,
    scale_intensity,
    to_float,
)


def test_to_float() -> None:
    x = torch.tensor([0, 51, 255], dtype=torch.uint8)
    out = to_float(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([0.0, 0.2, 1.0]))
    y = torch.tensor([0.5], dtype=torch.float64)
    assert to_float(y).dtype == torch.float32 and to_float(y).item() == 0.5
    assert ToFloat()(x).tolist() == out.tolist()


def test_normalize() -> None:
    x = torch.tensor([0.5, 1.0])
    torch.testing.assert_close(normalize(x, 0.5, 0.25), torch.tensor([0.0, 2.0]))
    torch.testing.assert_close(Normalize(0.5, 0.25)(x), torch.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match="std"):
        Normalize(0.0, 0.0)


def test_flatten_and_scale() -> None:
    img = torch.rand(1, 28, 28)
    assert flatten(img).shape == (784,)
    assert Flatten()(torch.rand(5, 1, 28, 28)).shape == (5, 784)
    assert flatten(torch.rand(5, 28, 28), start_dim=-2).shape == (5, 784)
    torch.testing.assert_close(
        scale_intensity(torch.tensor([1.0, 0.5]), 63.75), torch.tensor([63.75, 31.875])
    )
    with pytest.raises(ValueError, match="scale"):
        ScaleIntensity(-1.0)


def test_compose_pure() -> None:
    x = torch.tensor([[[0, 255]]], dtype=torch.uint8)
    before = x.clone()
    t = Compose([ToFloat(), ScaleIntensity(2.0), Flatten()])
    assert t(x).tolist() == [0.0, 2.0]
    assert torch.equal(x, before)
    assert "ScaleIntensity" in repr(t)
