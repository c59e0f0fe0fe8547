"""Networks shared by the benchmark scripts (``bench_core``, ``bench_speed``, ``bench_crossover``).

The scripts run as ``python scripts/<name>.py``, which puts this folder on ``sys.path``.
"""

from __future__ import annotations

import torch

from spikerl.core import LIF, DenseProjection, Input, Network, Uniform


def poisson_lif_network(n: int, seed: int = 0) -> Network:
    """``Input(n) -> LIF(n)``, dense weights U(0, 0.3 * 1000 / n) mV (similar drive at every n).

    Args:
        n: Neurons per population.
        seed: Seed of the weights.
    """
    g = torch.Generator().manual_seed(seed)
    net = Network(dt=1.0)
    net.add_population("input", Input(n))
    net.add_population("lif", LIF(n))
    net.connect("input", "lif", DenseProjection(n, n, Uniform(0.0, 0.3 * 1000 / n), generator=g))
    return net
