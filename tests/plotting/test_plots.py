"""Each plot function renders non-blank PNGs, draws into a given Axes, and rejects bad shapes."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from spikerl import plotting as sp

GEN_SEED = 1234


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(GEN_SEED)


def _spikes(t: int = 50, b: int = 2, n: int = 20, p: float = 0.1) -> torch.Tensor:
    return torch.rand(t, b, n, generator=_gen()) < p


def _stdp() -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-50, 50, 41)
    return x, np.where(x > 0, np.exp(-x / 20), -np.exp(x / 20))


# name -> (function called on good data, function called on mis-shaped data)
CASES: dict[str, tuple[Callable[..., Figure], Callable[..., Figure]]] = {
    "spike_raster": (
        lambda **kw: sp.spike_raster(_spikes(), batch_index=1, **kw),
        lambda **kw: sp.spike_raster(torch.ones(5), **kw),
    ),
    "state_traces": (
        lambda **kw: sp.state_traces(
            -65 + 10 * torch.rand(60, 1, 2, 3, generator=_gen()), neurons=4, threshold=-52, **kw
        ),
        lambda **kw: sp.state_traces(np.zeros((10, 1, 4)), threshold=np.zeros((10, 1, 5)), **kw),
    ),
    "input_spikes": (
        lambda **kw: sp.input_spikes(torch.rand(40, 1, 1, 8, 8, generator=_gen()) < 0.3, **kw),
        lambda **kw: sp.input_spikes(torch.zeros(40, 1, 60), image_shape=(8, 8), **kw),
    ),
    "weight_matrix": (
        lambda **kw: sp.weight_matrix(torch.randn(12, 7, generator=_gen()), **kw),
        lambda **kw: sp.weight_matrix(torch.randn(3, 4, 5), **kw),
    ),
    "receptive_fields": (
        lambda **kw: sp.receptive_fields(np.random.default_rng(0).random((36, 5)), (6, 6), **kw),
        lambda **kw: sp.receptive_fields(np.zeros((35, 5)), (6, 6), **kw),
    ),
    "conv_kernels": (
        lambda **kw: sp.conv_kernels(torch.randn(4, 2, 5, 5, generator=_gen()), **kw),
        lambda **kw: sp.conv_kernels(torch.randn(4, 5, 5), **kw),
    ),
    "firing_rates": (
        lambda **kw: sp.firing_rates(_spikes(p=0.3), dt=1.0, window=5.0, **kw),
        lambda **kw: sp.firing_rates(_spikes(t=3), dt=1.0, window=10.0, **kw),
    ),
    "learning_curve": (
        lambda **kw: sp.learning_curve(
            np.cumsum(np.random.default_rng(0).normal(1, 3, 80)), window=10, label="run", **kw
        ),
        lambda **kw: sp.learning_curve(np.zeros((4, 2)), **kw),
    ),
    "stdp_window": (
        lambda **kw: sp.stdp_window(*_stdp(), **kw),
        lambda **kw: sp.stdp_window(np.arange(5.0), np.arange(4.0), **kw),
    ),
}


def _assert_nonblank_png(path: Path) -> None:
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    assert float(img[..., :3].var()) > 1e-3, "figure looks blank"


@pytest.mark.parametrize("name", sorted(CASES))
def test_renders_nonblank_png(name: str, tmp_path: Path) -> None:
    fig = CASES[name][0]()
    assert isinstance(fig, Figure)
    path = sp.save_figure(fig, tmp_path / "sub" / "dir" / f"{name}.png")
    assert path.exists()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    _assert_nonblank_png(path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_draws_into_given_axes(name: str) -> None:
    fig = Figure()
    ax0, ax1 = fig.subplots(1, 2)
    out = CASES[name][0](ax=ax1)
    assert out is fig
    assert ax1.has_data() or ax1.images
    assert not ax0.has_data()


@pytest.mark.parametrize("name", sorted(CASES))
def test_rejects_misshaped_input(name: str) -> None:
    with pytest.raises(ValueError, match=r"expected|longer than|must match|must be"):
        CASES[name][1]()


def test_shape_messages_quote_expected_and_given() -> None:
    with pytest.raises(ValueError, match=r"\[T, B, \*shape\].*got shape \[5\]"):
        sp.spike_raster(torch.ones(5))
    with pytest.raises(ValueError, match=r"n_in = 6\*6 = 36, got shape \[35, 5\]"):
        sp.receptive_fields(np.zeros((35, 5)), (6, 6))
    with pytest.raises(ValueError, match=r"\[C_out, C_in, kh, kw\], got shape \[4, 5, 5\]"):
        sp.conv_kernels(np.zeros((4, 5, 5)))
    with pytest.raises(ValueError, match=r"batch_index 3 is out of range"):
        sp.spike_raster(_spikes(b=2), batch_index=3)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 20\)"):
        sp.state_traces(torch.zeros(5, 1, 20), neurons=[3, 20])


def test_accepts_numpy_tensor_2d_and_adaptive_threshold() -> None:
    v = torch.randn(30, 1, 4, dtype=torch.float16, requires_grad=False)
    sp.state_traces(v, threshold=v + 1.0)  # adaptive threshold, half precision
    sp.spike_raster(np.random.default_rng(0).random((30, 7)) < 0.2)  # [T, n]
    sp.firing_rates({"a": _spikes(), "b": _spikes(p=0.2)}, dt=0.5, window=2.0, batch_index=None)
    sp.input_spikes(torch.rand(20, 1, 49) < 0.2, ax=Figure().add_subplot())
    fig = Figure()
    axes = fig.subplots(1, 2)
    assert sp.input_spikes(torch.rand(20, 1, 49) < 0.2, ax=(axes[0], axes[1])) is fig
    with pytest.raises(ValueError, match=r"\[T, n\].*batch_index must be 0"):
        sp.spike_raster(np.zeros((10, 3)), batch_index=1)


def test_moving_average_is_trailing_mean() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(sp.moving_average(y, 2), [1.0, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(sp.moving_average(y, 10), [1.0, 1.5, 2.0, 2.5])


def test_firing_rate_of_constant_train_in_hz() -> None:
    s = torch.zeros(100, 1, 10)
    s[::10] = 1  # every neuron fires every 10 steps of 0.5 ms = 200 Hz
    fig = sp.firing_rates(s, dt=0.5, window=5.0)
    (line,) = fig.axes[0].get_lines()
    assert np.allclose(np.asarray(line.get_ydata()), 200.0)


def test_figure_to_array_and_atomic_overwrite(tmp_path: Path) -> None:
    fig = sp.weight_matrix(np.eye(5))
    rgb = sp.figure_to_array(fig)
    w_px, h_px = (fig.get_size_inches() * fig.dpi).round().astype(int)
    assert rgb.dtype == np.uint8 and rgb.shape == (h_px, w_px, 3)
    assert rgb.std() > 1.0
    canvas = fig.canvas
    sp.figure_to_array(fig)
    assert fig.canvas is canvas  # the figure's own canvas is left in place
    path = tmp_path / "w.png"
    sp.save_figure(fig, path)
    sp.save_figure(sp.stdp_window(*_stdp()), path)  # overwrite in place
    assert [p.name for p in tmp_path.iterdir()] == ["w.png"]
    with pytest.raises(ValueError, match="suffix"):
        sp.save_figure(fig, tmp_path / "nosuffix")


def test_save_failure_leaves_no_temp_file(tmp_path: Path) -> None:
    fig = sp.stdp_window(*_stdp())
    with pytest.raises(ValueError):
        sp.save_figure(fig, tmp_path / "x.notaformat")
    assert list(tmp_path.iterdir()) == []


def test_no_pyplot_figures_left_open() -> None:
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    for good, _ in CASES.values():
        good()
    assert len(plt.get_fignums()) == before


def test_stdp_window_sorts_offsets() -> None:
    x, y = _stdp()
    perm = np.random.default_rng(0).permutation(x.size)
    fig = sp.stdp_window(torch.as_tensor(x[perm]), list(y[perm]))
    line = fig.axes[0].get_lines()[-1]
    assert np.all(np.diff(np.asarray(line.get_xdata())) > 0)
    assert math.isclose(float(np.asarray(line.get_ydata())[-1]), float(y[-1]))
