"""The user errors of run orchestration: ``spikerl`` prints them as one line, exit status 2."""

from __future__ import annotations


class RunInputError(ValueError):
    """Bad input to a seeds run or a sweep (seeds, search space, trials, address)."""
