"""LivePlot on a headless backend: frames at the chosen interval, cheap between redraws."""

from __future__ import annotations

import functools
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

from spikerl.plotting import LivePlot, is_headless, weight_matrix


def _loop(live: LivePlot, steps: int, n: int = 6) -> None:
    gen = torch.Generator().manual_seed(0)
    rec_s: list[torch.Tensor] = []
    rec_v: list[torch.Tensor] = []
    v = torch.zeros(1, n)
    for t in range(1, steps + 1):
        v = 0.9 * v + torch.rand(1, n, generator=gen)
        s = v > 2.0
        v = torch.where(s, torch.zeros_like(v), v)
        rec_s.append(s)
        rec_v.append(v)
        if live.due(t):
            live.update(t, spikes=torch.stack(rec_s), v=torch.stack(rec_v))


def test_headless_is_detected_under_agg() -> None:
    assert is_headless()


def test_writes_one_frame_per_interval(tmp_path: Path) -> None:
    live = LivePlot(every_steps=10, frame_dir=tmp_path / "frames", dpi=50)
    assert live.headless
    _loop(live, 35)
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == ["frame_000001.png", "frame_000002.png", "frame_000003.png"]
    assert live.n_redraws == 3 and live.redraw_seconds > 0
    images = [mpimg.imread(p) for p in live.frames]
    assert len({im.shape for im in images}) == 1  # all frames the same size
    assert all(float(im[..., :3].var()) > 1e-3 for im in images)
    live.close()
    assert not live.update(100, force=True, v=torch.zeros(3, 1, 2))  # closed: no-op


def test_source_read_only_when_due_and_force(tmp_path: Path) -> None:
    calls = []

    def source() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"v": np.random.default_rng(len(calls)).normal(size=(20, 1, 3))}

    with LivePlot(every_steps=100, source=source, frame_dir=tmp_path, dpi=40) as live:
        drawn = [live.update(t) for t in range(1, 251)]
        assert sum(drawn) == 2 and len(calls) == 2  # steps 100 and 200
        assert live.update(250, force=True)
    assert len(calls) == 3 and len(list(tmp_path.glob("frame_*.png"))) == 3


def test_seconds_interval_and_custom_panels(tmp_path: Path) -> None:
    panels = {"w": functools.partial(weight_matrix, symmetric=True)}
    live = LivePlot(panels, every_seconds=1e6, frame_dir=tmp_path, dpi=40)
    assert not live.due(10_000)
    assert not live.update(5, w=torch.randn(4, 3))
    assert live.update(6, force=True, w=torch.randn(4, 3))
    fast = LivePlot(panels, every_seconds=1e-9, frame_dir=tmp_path / "fast", dpi=40)
    assert fast.update(1, w=torch.randn(4, 3)) and fast.update(2, w=torch.randn(4, 3))
    assert len(fast.frames) == 2


def test_headless_without_folder_warns_and_writes_to_temp() -> None:
    with pytest.warns(UserWarning, match="no display"):
        live = LivePlot(every_steps=1, dpi=40)
    assert live.frame_dir is not None
    live.update(1, s=torch.zeros(5, 1, 4, dtype=torch.bool))
    assert live.frames[0].exists()


def test_errors() -> None:
    with pytest.raises(ValueError, match="every_steps"):
        LivePlot(every_steps=0, frame_dir="unused")
    with pytest.raises(ValueError, match="every_seconds"):
        LivePlot(every_seconds=-1.0, frame_dir="unused")
    live = LivePlot(every_steps=1, frame_dir="unused")
    with pytest.raises(ValueError, match="nothing to draw"):
        live.update(1)
