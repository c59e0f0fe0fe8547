"""``spikerl plot RUN [RUN ...]``: learning curves of run folders (rl-zoo's ``plot_train``).

Two panels, one line per run: the training return (``rollout/ep_rew_mean`` of SB3's
``progress.csv``: the mean over the last 100 training episodes, against env steps) and
the greedy evaluation return (``evaluations.npz`` of SB3's EvalCallback: mean over the
evaluation episodes, shaded +- one standard deviation). A folder with no run files of its
own but run folders inside (a ``--seeds`` group, a sweep) stands for those runs. An MNIST
output folder (``spikerl mnist --track``) gives its monitor accuracy against training
images instead.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spikerl.runs.errors import RunInputError

RUN_FILES = ("progress.csv", "evaluations.npz")


@dataclass
class RunCurves:
    """The learning curves of one run folder.

    Attributes:
        name: Label (the folder name).
        train_steps: Env steps of each ``progress.csv`` row with a training return.
        train_return: ``rollout/ep_rew_mean`` at those steps.
        eval_steps: Env steps of each evaluation.
        eval_mean: Mean greedy return of each evaluation.
        eval_std: Its standard deviation over the evaluation episodes.
        monitor_images: MNIST: training images seen at each monitor point.
        monitor_accuracy: MNIST: monitor accuracy at those points.
    """

    name: str
    train_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    train_return: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eval_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eval_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eval_std: np.ndarray = field(default_factory=lambda: np.zeros(0))
    monitor_images: np.ndarray = field(default_factory=lambda: np.zeros(0))
    monitor_accuracy: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def empty(self) -> bool:
        """No curve at all."""
        return not (len(self.train_steps) or len(self.eval_steps) or len(self.monitor_images))


def read_progress(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, rollout/ep_rew_mean)`` of the rows of ``progress.csv`` that have both."""
    path = Path(run_dir) / "progress.csv"
    if not path.is_file():
        return np.zeros(0), np.zeros(0)
    steps: list[float] = []
    values: list[float] = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            s, r = row.get("time/total_timesteps"), row.get("rollout/ep_rew_mean")
            try:
                sv, rv = float(s or "nan"), float(r or "nan")
            except ValueError:
                continue
            if math.isfinite(sv) and math.isfinite(rv):
                steps.append(sv)
                values.append(rv)
    return np.asarray(steps), np.asarray(values)


def read_evaluations(run_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(steps, mean, std)`` of each evaluation in ``evaluations.npz`` (empty if none)."""
    from spikerl.runs.curves import read_curve

    steps, mean = read_curve(run_dir)
    path = Path(run_dir) / "evaluations.npz"
    if not len(steps):
        return steps, mean, np.zeros(0)
    with np.load(path, allow_pickle=False) as data:
        res = np.asarray(data["results"], dtype=np.float64).reshape(len(steps), -1)
    return steps, mean, res.std(axis=1)


def read_monitor(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``monitor`` points (images, accuracy) of the folder's ``mnist_*.json``."""
    for path in sorted(Path(folder).glob("mnist_*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        points = data.get("monitor") if isinstance(data, dict) else None
        if isinstance(points, list) and points:
            x = [float(p["train/images"]) for p in points]
            y = [float(p["monitor/accuracy"]) for p in points]
            return np.asarray(x), np.asarray(y)
    return np.zeros(0), np.zeros(0)


def expand_runs(paths: Sequence[Path]) -> list[Path]:
    """Run folders of ``paths``: each folder with run files, else its subfolders that have.

    Raises:
        RunInputError: A path is not a folder, or holds no run.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise RunInputError(f"{p}: not a run folder")
        if any((p / f).is_file() for f in RUN_FILES) or list(p.glob("mnist_*.json")):
            out.append(p)
            continue
        inner = sorted(
            d for d in p.iterdir() if d.is_dir() and any((d / f).is_file() for f in RUN_FILES)
        )
        if not inner:
            raise RunInputError(
                f"{p}: no progress.csv or evaluations.npz here or in its subfolders "
                "(is it a run folder of spikerl train?)"
            )
        out.extend(inner)
    return out


def read_run(run_dir: Path) -> RunCurves:
    """All curves of one run folder."""
    c = RunCurves(Path(run_dir).name)
    c.train_steps, c.train_return = read_progress(run_dir)
    c.eval_steps, c.eval_mean, c.eval_std = read_evaluations(run_dir)
    c.monitor_images, c.monitor_accuracy = read_monitor(run_dir)
    return c


def plot_runs(runs: Sequence[RunCurves], path: Path, title: str = "") -> Path:
    """Draw the runs' curves into one PNG (see the module docstring); returns ``path``.

    Raises:
        RunInputError: No run has any curve (no training episode ended, no evaluation).
    """
    from matplotlib.figure import Figure

    from spikerl.plotting.export import save_figure

    if all(r.empty for r in runs):
        raise RunInputError(
            "nothing to plot: no run has finished a training episode or an evaluation yet"
        )
    mnist = any(len(r.monitor_images) for r in runs)
    fig = Figure(figsize=(11, 4) if not mnist else (6, 4))
    if mnist:
        ax = fig.subplots(1, 1)
        for r in runs:
            if len(r.monitor_images):
                ax.plot(r.monitor_images, r.monitor_accuracy, marker="o", ms=3, label=r.name)
        ax.set_xlabel("training images seen")
        ax.set_ylabel("monitor accuracy")
        ax.legend(fontsize="small")
        ax.grid(True, alpha=0.3)
    else:
        ax_t, ax_e = fig.subplots(1, 2)
        for r in runs:
            (line,) = ax_t.plot(r.train_steps, r.train_return, lw=1.2, label=r.name)
            color = line.get_color()
            if len(r.eval_steps):
                ax_e.plot(r.eval_steps, r.eval_mean, color=color, marker="o", ms=3, label=r.name)
                ax_e.fill_between(
                    r.eval_steps,
                    r.eval_mean - r.eval_std,
                    r.eval_mean + r.eval_std,
                    color=color,
                    alpha=0.15,
                )
        ax_t.set_title("training: mean return of the last 100 episodes")
        ax_e.set_title("greedy evaluation: mean +- std")
        for ax in (ax_t, ax_e):
            ax.set_xlabel("environment steps")
            ax.set_ylabel("return")
            ax.grid(True, alpha=0.3)
            if len(runs) <= 12:
                ax.legend(fontsize="x-small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def summary(runs: Sequence[RunCurves]) -> list[dict[str, object]]:
    """Last and best points of each run (what ``spikerl plot`` prints)."""

    def last(a: np.ndarray) -> float | None:
        return round(float(a[-1]), 3) if len(a) else None

    def best(a: np.ndarray) -> float | None:
        return round(float(a.max()), 3) if len(a) else None

    return [
        {
            "run": r.name,
            "train_return_last": last(r.train_return),
            "eval_mean_last": last(r.eval_mean),
            "eval_mean_best": best(r.eval_mean),
            "steps": int(max([*r.train_steps, *r.eval_steps, 0])),
            **(
                {"monitor_accuracy_last": last(r.monitor_accuracy)} if len(r.monitor_images) else {}
            ),
        }
        for r in runs
    ]
