"""Supervised STDP on MNIST (teacher forcing); prints JSON results.

Trains :class:`spikerl.models.supervised.SupervisedSTDP` (class-specific neurons forced by a
teacher during training, free at test) for one epoch with a fixed seed and tests on the full
10,000-image test set. A thin wrapper of ``spikerl mnist --mode supervised``::

    python scripts/mnist_supervised.py --neurons 100

Any ``spikerl mnist`` option is accepted (``--limit``, ``--out``, ``--track``, ...).
"""

from __future__ import annotations

import sys
from pathlib import Path

from spikerl.tasks.mnist import script_main

if __name__ == "__main__":
    sys.exit(script_main("supervised", sys.argv[1:], Path(__file__).resolve().parents[1]))
