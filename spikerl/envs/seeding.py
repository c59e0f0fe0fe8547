"""Torch generators seeded from gymnasium's ``reset(seed=...)``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def derive_seed(seed: int, stream: int) -> int:
    """A 63-bit seed for ``stream`` derived from ``seed`` (independent streams per wrapper)."""
    state = np.random.SeedSequence([int(seed) & (2**63 - 1), stream]).generate_state(2, np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def first_seed(seed: int | Sequence[int | None] | None) -> int | None:
    """The seed to derive from: ``seed`` itself, or the first entry of a vector env's list."""
    if seed is None or isinstance(seed, int):
        return seed
    seeds = list(seed)
    return seeds[0] if seeds else None


class SeededGenerator:
    """Owns a CPU ``torch.Generator`` reseeded on every ``reset(seed=...)``.

    ``reset(seed=None)`` keeps the stream going; before any seed the stream starts from a
    draw of torch's default generator (so ``torch.manual_seed`` makes it reproducible).

    Args:
        stream: Distinguishes the streams of different wrappers given the same seed.
    """

    def __init__(self, stream: int) -> None:
        self.stream = stream
        self.generator = torch.Generator()
        self._seeded = False

    def reset(self, seed: int | Sequence[int | None] | None) -> None:
        """Reseed from ``seed`` when given (or on first use)."""
        s = first_seed(seed)
        if s is not None:
            self.generator.manual_seed(derive_seed(s, self.stream))
            self._seeded = True
        elif not self._seeded:
            self.generator.manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
            self._seeded = True
