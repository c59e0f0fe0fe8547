"""Aggregate statistics over seeds: mean and interquartile mean with bootstrap intervals.

The statistics are rliable's (Agarwal et al. 2021, "Deep RL at the edge of the statistical
precipice"): one score per run (its mean greedy return), the interquartile mean

.. math:: \\mathrm{IQM} = \\frac{1}{|R_{25..75}|} \\sum_{r \\in R_{25..75}} s_r

(the mean of the middle 50 % of the run scores, scipy's ``trim_mean(s, 0.25)``), and 95 %
percentile-bootstrap confidence intervals resampling the runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Bootstrap resamples of the confidence intervals.
BOOTSTRAP_REPS = 5_000


def interval_estimates(
    scores: Sequence[float], seed: int = 0, reps: int = BOOTSTRAP_REPS
) -> dict[str, Any]:
    """Mean and IQM of per-run scores with 95 % bootstrap confidence intervals (rliable).

    Args:
        scores: One score per run (e.g. its mean greedy return).
        seed: Seed of the bootstrap (the same scores and seed give the same intervals).
        reps: Bootstrap resamples.

    Returns:
        ``{"n_runs", "mean", "mean_ci95": [lo, hi], "iqm", "iqm_ci95": [lo, hi]}``.

    Raises:
        ValueError: for no scores or a non-finite score.
    """
    from rliable import library as rly
    from rliable import metrics

    x = np.asarray(scores, dtype=np.float64).reshape(-1, 1)  # (runs, tasks=1)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"interval_estimates needs finite scores, got {list(scores)}")

    def both(s: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_mean(s), metrics.aggregate_iqm(s)])

    # rliable's StratifiedBootstrap draws its resampling indices from NumPy's global RNG
    # (np.random.choice), not from ``random_state``: seed the global RNG for the call and
    # put the caller's state back afterwards.
    saved = np.random.get_state()  # noqa: NPY002 (the global RNG is what rliable reads)
    np.random.seed(seed)  # noqa: NPY002
    try:
        with warnings.catch_warnings():  # arch (rliable's bootstrap) deprecates random_state
            warnings.simplefilter("ignore", FutureWarning)
            point, ci = rly.get_interval_estimates(
                {"runs": x}, both, reps=reps, random_state=np.random.RandomState(seed)
            )
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    p, c = point["runs"], ci["runs"]  # c: [2 (lo, hi), 2 (mean, iqm)]
    return {
        "n_runs": int(x.shape[0]),
        "mean": round(float(p[0]), 3),
        "mean_ci95": [round(float(c[0, 0]), 3), round(float(c[1, 0]), 3)],
        "iqm": round(float(p[1]), 3),
        "iqm_ci95": [round(float(c[0, 1]), 3), round(float(c[1, 1]), 3)],
    }


def seeds_summary(
    results: Sequence[dict[str, Any]], seed: int = 0, reps: int = BOOTSTRAP_REPS
) -> dict[str, Any]:
    """``summary.json`` of a multi-seed run from each run's final evaluation (``eval.json``).

    Args:
        results: One :func:`~spikerl.runs.train.train_run` result per seed, each with a
            ``"seed"`` key added.
        seed: Seed of the bootstrap.
        reps: Bootstrap resamples.

    Returns:
        ``per_seed`` (seed, run folder, greedy returns of the best and the final weights),
        and ``aggregate``: :func:`interval_estimates` of the best and the final weights'
        mean returns.
    """
    per_seed = [
        {
            "seed": r["seed"],
            "run_dir": r["run_dir"],
            "timesteps": r["timesteps"],
            "train_seconds": r["train_seconds"],
            "best": {k: r[k] for k in ("mean_reward", "std_reward", "returns")},
            "final": {k: r["final"][k] for k in ("mean_reward", "std_reward", "returns")},
        }
        for r in results
    ]
    return {
        "env": results[0]["env"] if results else None,
        "seeds": [r["seed"] for r in per_seed],
        "episodes_per_seed": results[0]["episodes"] if results else 0,
        "aggregate": {
            which: interval_estimates([s[which]["mean_reward"] for s in per_seed], seed, reps)
            for which in ("best", "final")
        },
        "per_seed": per_seed,
    }
