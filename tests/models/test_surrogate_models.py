"""Tests of the surrogate-gradient MNIST models, their training helpers and script."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from spikerl.core.io import safe_torch_load
from spikerl.datasets import MNIST
from spikerl.models.surrogate import (
    LeakyReadout,
    SpikingConvNet,
    SpikingMLP,
    evaluate,
    images_to_float,
    train_epoch,
)

REPO = Path(__file__).resolve().parents[2]


def _find_mnist() -> tuple[MNIST, MNIST, str | None] | None:
    """MNIST from ``$SPIKERL_DATA`` (or the cache), else ``<repo>/../shared/data/mnist``."""
    for root in (None, str(REPO.parent / "shared" / "data" / "mnist")):
        try:
            return MNIST(root=root, train=True), MNIST(root=root, train=False), root
        except FileNotFoundError:
            continue
    return None


@pytest.fixture(scope="module")
def mnist() -> tuple[MNIST, MNIST, str | None]:
    found = _find_mnist()
    if found is None:
        pytest.skip("MNIST files not found (set SPIKERL_DATA)")
    return found


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread: deterministic timing on a shared CPU; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    "model",
    [
        lambda: SpikingMLP(time_steps=3, hidden=20),
        lambda: SpikingConvNet(time_steps=3, channels=(4, 8), hidden=16),
    ],
    ids=["fc", "conv"],
)
def test_direct_encoding_equals_window_path(model: object) -> None:
    torch.manual_seed(0)
    net = model()  # type: ignore[operator]
    x = torch.rand(5, 1, 28, 28)
    net.train()
    net(x)  # one batch so BatchNorm running statistics are not trivial
    net.eval()
    logits = net(x)
    assert logits.shape == (5, 10)
    window = net.forward_window(x.unsqueeze(0).expand(3, *x.shape))
    torch.testing.assert_close(logits, window)


@pytest.mark.parametrize(
    "model",
    [
        lambda: SpikingMLP(time_steps=4, hidden=64),
        lambda: SpikingConvNet(time_steps=3, channels=(8, 8), hidden=32),
    ],
    ids=["fc", "conv"],
)
def test_gradients_reach_every_parameter(model: object) -> None:
    torch.manual_seed(0)
    net = model()  # type: ignore[operator]
    x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    torch.nn.functional.cross_entropy(net(x), y).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_leaky_readout_golden() -> None:
    # a = exp(-dt / tau) = 0.5: u = 1, 1.5, 1.75 -> mean 4.25 / 3
    readout = LeakyReadout(tau_mem=1.0 / math.log(2.0), dt=1.0)
    out = readout(torch.ones(3, 1, 1))
    torch.testing.assert_close(out, torch.tensor([[4.25 / 3.0]]))
    torch.testing.assert_close(LeakyReadout(math.inf)(torch.ones(2, 1, 1)), torch.tensor([[1.5]]))


def test_bad_time_steps() -> None:
    with pytest.raises(ValueError, match="time_steps"):
        SpikingMLP(time_steps=0)
    with pytest.raises(ValueError, match="time_steps"):
        SpikingConvNet(time_steps=2.5)  # type: ignore[arg-type]


def test_train_epoch_reproducible_and_evaluate() -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (60, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.arange(60) % 3  # classes 0-2 only
    assert images_to_float(images).shape == (60, 1, 28, 28)

    def once() -> tuple[dict[str, float], list[torch.Tensor]]:
        torch.manual_seed(1)
        net = SpikingMLP(time_steps=2, hidden=16)
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        stats = train_epoch(net, images, labels, opt, 16, torch.Generator().manual_seed(2))
        return stats, [p.detach().clone() for p in net.parameters()]

    (s1, w1), (s2, w2) = once(), once()
    assert s1["loss"] == s2["loss"] and math.isfinite(s1["loss"])
    assert all(torch.equal(a, b) for a, b in zip(w1, w2, strict=True))

    net = SpikingMLP(time_steps=2, hidden=16)
    acc, per_class = evaluate(net, images, labels, batch_size=7)
    assert 0.0 <= acc <= 1.0 and len(per_class) == 10
    assert all(math.isnan(c) for c in per_class[3:])
    assert not net.training


@pytest.mark.slow
def test_mnist_subset_learns(mnist: tuple[MNIST, MNIST, str | None], one_thread: None) -> None:
    """One epoch on 12,000 training images exceeds 90% on 1,000 test images.

    (An MLP, spiking or not, stays near 85% after one epoch on only 2,000 images.)
    """
    train, test, _ = mnist
    torch.manual_seed(0)
    net = SpikingMLP(time_steps=4, hidden=400, dropout=0.0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    n = 12_000
    train_epoch(net, train.images[:n], train.labels[:n], opt, 20, torch.Generator().manual_seed(0))
    acc, per_class = evaluate(net, test.images[:1000], test.labels[:1000])
    assert acc > 0.90, (acc, per_class)


def _load_script() -> ModuleType:
    path = REPO / "scripts" / "mnist_surrogate.py"
    spec = importlib.util.spec_from_file_location("mnist_surrogate_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_script_smoke(
    mnist: tuple[MNIST, MNIST, str | None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The script does os.environ.setdefault("OMP_WAIT_POLICY", ...); keep it from leaking.
    monkeypatch.setenv("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    script = _load_script()
    _, _, root = mnist
    data = ["--data", root] if root is not None else []
    args = [
        "--arch", "fc", "--epochs", "1", "--batch", "50", "--time", "2", "--hidden", "32",
        "--limit", "200", "--test-limit", "100", "--seed", "3", "--out", str(tmp_path),
        "--threads", str(torch.get_num_threads()), *data,
    ]  # fmt: skip
    script.main(args)
    result = json.loads(capsys.readouterr().out)
    assert result["n_train"] == 200 and result["n_test"] == 100
    assert 0.0 <= result["test_accuracy"] <= 1.0
    assert len(result["per_class_accuracy"]) == 10
    assert result["settings"]["seed"] == 3 and result["settings"]["time"] == 2
    ckpt = safe_torch_load(tmp_path / "mnist_surrogate_fc.pt")
    assert ckpt["result"]["test_accuracy"] == result["test_accuracy"]
    net = SpikingMLP(time_steps=2, hidden=32)
    net.load_state_dict(ckpt["state_dict"])
    saved = json.loads((tmp_path / "mnist_surrogate_fc.json").read_text())
    assert saved["test_accuracy"] == result["test_accuracy"]
    assert not list(tmp_path.glob(".*.tmp"))
