"""Plotting tests run on the headless Agg backend."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
