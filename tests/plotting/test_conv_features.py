"""``conv_features``: one panel per layer, each image scaled by its own peak."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

from spikerl import plotting as sp
from spikerl.models.conv_stdp import ConvSTDPFeatures


def test_conv_features_draws_each_layer(tmp_path: Path) -> None:
    model = ConvSTDPFeatures(generator=torch.Generator().manual_seed(0))
    layers = model.reconstructions()
    assert [tuple(x.shape) for x in layers] == [(30, 11, 11), (64, 16, 16)]
    fig = sp.conv_features(layers, title="features")
    assert len(fig.axes) == 3  # two panels and the colorbar
    assert fig.axes[0].get_title() == "layer 1: 30 maps, 11x11 px"
    shown = np.asarray(fig.axes[1].images[0].get_array())
    assert np.nanmax(np.abs(shown)) == pytest.approx(1.0)  # per-image peak scaling
    path = sp.save_figure(fig, tmp_path / "f.png")
    assert float(mpimg.imread(path)[..., :3].var()) > 1e-3


def test_conv_features_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one layer"):
        sp.conv_features([])
    with pytest.raises(ValueError, match=r"features\[1\] must be \[maps, h, w\]"):
        sp.conv_features([np.ones((2, 3, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError, match="1 titles for 2 layers"):
        sp.conv_features([np.ones((2, 3, 3))] * 2, titles=["a"])
