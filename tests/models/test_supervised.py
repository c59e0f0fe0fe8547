"""Supervised STDP by teacher forcing: the teacher's currents and a quick run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from spikerl.models.diehl_cook import DiehlCookConfig
from spikerl.models.supervised import SupervisedConfig, SupervisedSTDP


def test_teacher_current_and_assignment() -> None:
    cfg = SupervisedConfig(network=DiehlCookConfig(n_neurons=20, time=50.0), on_current=0.5)
    m = SupervisedSTDP(cfg, seed=0)
    assert m.assignments.tolist() == [c for c in range(10) for _ in range(2)]
    teach = m.teacher_current(torch.tensor([3, 0]))
    cur = teach(torch.tensor([1]), 50)
    assert cur.shape == (50, 1, 20)
    assert torch.all(cur[:, 0, :2] == 0.5) and torch.all(cur[:, 0, 2:] == -1e3)
    with pytest.raises(ValueError, match="multiple"):
        SupervisedSTDP(SupervisedConfig(network=DiehlCookConfig(n_neurons=15)))


def test_forced_training_only_moves_label_neurons() -> None:
    net = DiehlCookConfig(n_neurons=20, time=100.0, batch_size=2)
    cfg = SupervisedConfig(network=net, balance_thresholds=False)
    m = SupervisedSTDP(cfg, seed=0)
    before = m.weight.clone()
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[:, 8:20, 10:18] = 255
    m.fit_supervised(images, torch.tensor([4, 4]), torch.Generator().manual_seed(0))
    changed = (m.weight - before).abs().sum(0) > 1e-3
    assert changed[8:10].all() and not changed[:8].any() and not changed[10:].any()
    assert float(m.theta[8:10].sum()) > 0 and float(m.theta[:8].sum()) == 0.0
    balanced = SupervisedSTDP(SupervisedConfig(network=net), seed=0)
    balanced.fit_supervised(images, torch.tensor([4, 4]), torch.Generator().manual_seed(0))
    torch.testing.assert_close(balanced.weight, m.weight)  # learning itself is unchanged
    means = balanced.theta.reshape(10, 2).mean(1)
    torch.testing.assert_close(means, means.mean().expand(10))


@pytest.mark.slow
def test_quick_supervised_run(shared_mnist: Path) -> None:
    """150 images of 150 ms, 20 neurons (2 per class): > 40% on 200 held-out training
    images (measured: 61.5%; chance 10%, whose standard deviation here is ~2%)."""
    root = shared_mnist
    from spikerl.datasets import MNIST

    train = MNIST(root, train=True)
    cfg = SupervisedConfig(network=DiehlCookConfig(n_neurons=20, time=150.0))
    m = SupervisedSTDP(cfg, seed=0)
    g = torch.Generator().manual_seed(0)
    m.fit_supervised(train.images[:150], train.labels[:150], g)
    counts = m.responses(train.images[150:350], generator=g)
    acc = float((m.predict(counts) == train.labels[150:350]).float().mean())
    assert acc > 0.4, acc


def test_balance_thresholds_equalises_class_means_and_keeps_spread() -> None:
    cfg = SupervisedConfig(network=DiehlCookConfig(n_neurons=6), n_classes=3)
    m = SupervisedSTDP(cfg, seed=0)
    m.theta.copy_(torch.tensor([1.0, 3.0, 10.0, 12.0, 4.0, 4.0]))  # class means 2, 11, 4
    shift = m.balance_thresholds()
    torch.testing.assert_close(shift, torch.tensor([2.0 - 17 / 3, 11.0 - 17 / 3, 4.0 - 17 / 3]))
    means = m.theta.reshape(3, 2).mean(1)
    torch.testing.assert_close(means, torch.full((3,), 17 / 3))
    torch.testing.assert_close(m.theta[1] - m.theta[0], torch.tensor(2.0))  # spread kept
