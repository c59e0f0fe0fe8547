"""The real MNIST files in the shared folder (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from spikerl.datasets import MNIST, MNIST_LAYOUT, load_mnist
from spikerl.datasets.checksums import md5_hex
from spikerl.datasets.idx import read_idx_bytes
from spikerl.datasets.transforms import MNIST_MEAN, MNIST_STD

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def train(shared_mnist: Path) -> MNIST:
    return MNIST(shared_mnist, train=True)  # verify=True: checksums pass


def test_train_split(train: MNIST) -> None:
    assert len(train) == 60000
    assert train.images.shape == (60000, 28, 28) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.int64
    assert torch.bincount(train.labels, minlength=10).tolist() == TRAIN_COUNTS
    image, label = train[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    assert int(label) == 5  # the famous first training digit


def test_mean_std_constants(train: MNIST) -> None:
    x = train.images.to(torch.float32) / 255
    assert abs(float(x.mean()) - MNIST_MEAN) < 1e-4
    assert abs(float(x.std()) - MNIST_STD) < 1e-4


def test_test_split_via_env(shared_mnist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPIKERL_DATA", str(shared_mnist.parent))  # <root>/mnist layout
    split = load_mnist(train=False)
    assert split.images.shape == (10000, 28, 28)
    assert torch.bincount(split.labels, minlength=10).tolist() == TEST_COUNTS
    assert split.images_path.parent == shared_mnist


def test_checksums_match_canonical(shared_mnist: Path) -> None:
    for train in (True, False):
        for res in MNIST_LAYOUT.split(train):
            assert md5_hex(read_idx_bytes(shared_mnist / f"{res.name}.gz")) == res.md5
