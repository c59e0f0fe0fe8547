"""Fixtures for the dataset tests: tiny IDX datasets written on the fly, isolated env."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from spikerl.datasets.idx import encode_idx
from spikerl.datasets.layouts import MNIST_LAYOUT, IdxLayout, IdxResource


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read the real SPIKERL_DATA or user cache."""
    monkeypatch.delenv("SPIKERL_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def tiny_arrays(n: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """Images uint8 [n, 28, 28] and labels [n] for both splits, deterministic."""
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n // 2, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n // 2)[::-1] % 10).astype(np.uint8),
    }


def tiny_layout(arrays: dict[str, np.ndarray], gz_only: bool = False) -> IdxLayout:
    """An MNIST-like layout whose md5s are those of ``arrays`` (gzip with mtime=0)."""

    def res(r: IdxResource) -> IdxResource:
        raw = encode_idx(arrays[r.name])
        gz = gzip.compress(raw, mtime=0)
        md5 = None if gz_only else hashlib.md5(raw).hexdigest()
        return IdxResource(r.name, r.ndim, md5=md5, gz_md5=hashlib.md5(gz).hexdigest())

    return replace(
        MNIST_LAYOUT,
        name="tiny",
        title="Tiny",
        subdirs=("tiny",),
        train_images=res(MNIST_LAYOUT.train_images),
        train_labels=res(MNIST_LAYOUT.train_labels),
        test_images=res(MNIST_LAYOUT.test_images),
        test_labels=res(MNIST_LAYOUT.test_labels),
        mirrors=(),
    )


def write_files(folder: Path, arrays: dict[str, np.ndarray], compress: bool = True) -> Path:
    """Write the arrays as IDX files into ``folder`` (gzip with mtime=0 by default)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        raw = encode_idx(arr)
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw, mtime=0))
        else:
            (folder / name).write_bytes(raw)
    return folder


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    return tiny_arrays()


@pytest.fixture
def layout(arrays: dict[str, np.ndarray]) -> IdxLayout:
    return tiny_layout(arrays)


@pytest.fixture
def write() -> Callable[..., Path]:
    return write_files


@pytest.fixture
def make_arrays() -> Callable[..., dict[str, np.ndarray]]:
    return tiny_arrays


@pytest.fixture
def make_layout() -> Callable[..., IdxLayout]:
    return tiny_layout
