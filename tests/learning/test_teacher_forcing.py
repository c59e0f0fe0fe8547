"""Teacher forcing: the extra current clamps chosen neurons on or off in a network."""

from __future__ import annotations

import pytest
import torch

from spikerl.core.network import Network
from spikerl.core.neurons import LIF, Input
from spikerl.core.projections import DenseProjection
from spikerl.learning import TeacherForcing, one_hot_mask


def test_forced_on_fires_whenever_not_refractory_and_off_stays_silent() -> None:
    net = Network()
    net.add_population("inp", Input(5))
    net.add_population("out", LIF(3))
    net.connect("inp", "out", DenseProjection(5, 3, weight=5.0))  # strong drive to all
    T = 30
    teacher = TeacherForcing(3)
    current = teacher.from_labels(torch.tensor([0, 2]), T)
    result, _ = net.run({"inp": torch.ones(T, 2, 5), "out": current})
    counts = result["out"].sum(0)
    # refractory 5 ms at dt 1 ms: one spike every 6 steps at most
    assert counts[0].tolist() == [5.0, 0.0, 0.0]
    assert counts[1].tolist() == [0.0, 0.0, 5.0]
    free, _ = net.run({"inp": torch.ones(T, 2, 5)})
    assert bool((free["out"].sum(0) > 0).all())  # without the teacher all of them fire


def test_current_layouts_and_masks() -> None:
    teacher = TeacherForcing((2, 2), on_current=50.0, off_current=-20.0)
    on = torch.zeros(1, 2, 2, dtype=torch.bool)
    on[0, 0, 1] = True
    off = torch.zeros(1, 2, 2, dtype=torch.bool)
    off[0, 1, 1] = True
    cur = teacher.current(4, on, off)
    assert cur.shape == (4, 1, 2, 2)
    assert cur[:, 0, 0, 1].tolist() == [50.0] * 4
    assert cur[:, 0, 1, 1].tolist() == [-20.0] * 4
    per_step = torch.zeros(4, 1, 2, 2, dtype=torch.bool)
    per_step[2, 0, 0, 0] = True
    assert teacher.current(4, per_step)[:, 0, 0, 0].tolist() == [0.0, 0.0, 50.0, 0.0]
    assert one_hot_mask(torch.tensor([1, 0]), 3).tolist() == [
        [False, True, False],
        [True, False, False],
    ]


def test_teacher_errors() -> None:
    teacher = TeacherForcing(3)
    with pytest.raises(ValueError, match="expected"):
        teacher.current(5, torch.zeros(2, 4, dtype=torch.bool))
    both = torch.ones(1, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="both on and off"):
        teacher.current(5, both, both)
    with pytest.raises(ValueError, match="labels must lie"):
        teacher.from_labels(torch.tensor([3]), 5)
    with pytest.raises(TypeError, match="integer"):
        teacher.from_labels(torch.tensor([0.5]), 5)
    with pytest.raises(ValueError, match="on_current"):
        TeacherForcing(3, on_current=-1.0)
    with pytest.raises(ValueError, match="flat population"):
        TeacherForcing((2, 2)).from_labels(torch.tensor([0]), 5)
