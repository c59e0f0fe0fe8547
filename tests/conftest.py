"""Test-session settings: one torch thread per worker (the suite runs under ``-n 2``).

Two xdist workers with two OpenMP threads each oversubscribe a 2-core machine, and spinning
idle OpenMP threads then make small tensor operations many times slower. Passive waiting and
one thread per worker keep the suite fast and its timings steady.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch

torch.set_num_threads(1)


def shared_mnist_dir() -> Path | None:
    """The shared MNIST folder: ``$SPIKERL_TEST_MNIST``, else ``<repo>/../shared/data/mnist``
    (each of the four files raw or gzipped), or ``None``."""
    from spikerl.datasets.layouts import MNIST_LAYOUT

    files = (
        MNIST_LAYOUT.train_images,
        MNIST_LAYOUT.train_labels,
        MNIST_LAYOUT.test_images,
        MNIST_LAYOUT.test_labels,
    )
    candidates = []
    env = os.environ.get("SPIKERL_TEST_MNIST")
    if env:
        candidates.append(Path(env))
    candidates.append(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist")
    for c in candidates:
        if all((c / f"{r.name}.gz").is_file() or (c / r.name).is_file() for r in files):
            return c.resolve()
    return None


@pytest.fixture(scope="session")
def shared_mnist() -> Path:
    """The shared MNIST folder, or skip."""
    found = shared_mnist_dir()
    if found is None:
        pytest.skip("shared MNIST files not found (set SPIKERL_TEST_MNIST)")
    return found


@pytest.fixture(scope="session", autouse=True)
def _session_tempdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Temporary files of the session (e.g. SB3's default logger folder, one per ``learn``
    call) go under pytest's own temporary root, which pytest prunes, not into ``/tmp``."""
    old = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("tmp"))
    yield
    tempfile.tempdir = old
