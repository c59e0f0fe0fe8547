"""Diehl & Cook (2015) unsupervised STDP on MNIST; prints JSON results.

Trains :class:`spikerl.models.diehl_cook.DiehlCook2015` for one epoch (fixed seed), labels the
neurons by their responses to training images, and reads out the full 10,000-image test set
by all-activity and proportion weighting. A thin wrapper of ``spikerl mnist``::

    python scripts/mnist_unsupervised.py --neurons 100       # paper: 82.9%
    python scripts/mnist_unsupervised.py --neurons 400       # paper: 87.0% (3 epochs)

Any ``spikerl mnist`` option is accepted (``--limit``, ``--out``, ``--track``, ...).
"""

from __future__ import annotations

import sys
from pathlib import Path

from spikerl.tasks.mnist import script_main

if __name__ == "__main__":
    sys.exit(script_main("unsupervised", sys.argv[1:], Path(__file__).resolve().parents[1]))
