"""Test-session settings: one torch thread per worker (the suite runs under ``-n 2``).

Two xdist workers with two OpenMP threads each oversubscribe a 2-core machine, and spinning
idle OpenMP threads then make small tensor operations many times slower. Passive waiting and
one thread per worker keep the suite fast and its timings steady.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

torch.set_num_threads(1)
