"""Learning curves over seeds from each run's ``evaluations.npz`` (SB3 EvalCallback)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def read_curve(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(timesteps [k], mean greedy return [k])`` of one run's evaluations during training.

    Returns empty arrays when the run made no evaluation (``eval_freq=0``).
    """
    path = Path(run_dir) / "evaluations.npz"
    if not path.is_file():
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    with np.load(path, allow_pickle=False) as data:
        steps = np.asarray(data["timesteps"], dtype=np.int64)
        returns = np.asarray(data["results"], dtype=np.float64).reshape(len(steps), -1)
    return steps, returns.mean(axis=1)


def plot_seed_curves(
    run_dirs: Sequence[Path], labels: Sequence[str], path: Path, title: str = ""
) -> bool:
    """Save a figure of greedy evaluation return against env steps: one thin line per seed,
    their mean, and the band between the lowest and highest seed at each evaluation.

    Args:
        run_dirs: Run folders (one per seed).
        labels: Legend label of each run (e.g. ``"seed 0"``).
        path: Image file to write (``.png``).
        title: Figure title.

    Returns:
        ``False`` (and no file) when no run made an evaluation.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = [read_curve(d) for d in run_dirs]
    if not any(len(s) for s, _ in curves):
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    for (steps, ret), label in zip(curves, labels):
        if len(steps):
            ax.plot(steps, ret, lw=0.8, alpha=0.6, label=label)
    k = min(len(s) for s, _ in curves if len(s))
    common = [(s[:k], r[:k]) for s, r in curves if len(s)]
    steps = common[0][0]
    stack = np.stack([r for _, r in common])
    ax.fill_between(steps, stack.min(0), stack.max(0), color="k", alpha=0.12, label="seed range")
    ax.plot(steps, stack.mean(0), color="k", lw=2.0, label=f"mean of {len(common)} seeds")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("greedy evaluation return")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    from spikerl.core.io import atomic_write

    atomic_write(lambda tmp: fig.savefig(tmp, format="png", dpi=120), path, suffix=".tmp.png")
    plt.close(fig)
    return True
