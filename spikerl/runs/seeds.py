"""Several seeds of one configuration in parallel, as Ray tasks, then their aggregate.

``spikerl train --env X --seeds 0 1 2 3 4`` writes::

    <runs_dir>/<env>__<agent>__seeds-0-1-2-3-4__<time>/
        <env>__<agent>__<seed>__<time>/   one normal run folder per seed (spikerl eval works)
        summary.json                      per-seed returns (best and final weights), mean,
                                          IQM and 95 % bootstrap intervals (rliable)
        learning_curve.png                evaluation return against steps, seed band

Each seed is one Ray task (``cpus_per_run`` CPUs) that calls the same
:func:`spikerl.runs.train.train_run` as ``spikerl train --seed S``, so a seed trained here
gives the same weights and returns as that seed trained alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spikerl.core.io import atomic_write
from spikerl.runs.errors import RunInputError


class SeedsInterrupted(Exception):
    """Ctrl-C during a seeds run: each seed's run folder keeps its last checkpoint."""

    def __init__(self, group: Path) -> None:
        super().__init__(
            f"interrupted; the seed runs in {group} keep their last checkpoints "
            "(continue one with spikerl train --resume RUN_DIR)"
        )
        self.group = group


def group_dir_name(cfg: Any, seeds: Sequence[int], stamp: str) -> str:
    """``<env>__<agent>__seeds-<s1>-<s2>...__<stamp>``."""
    env = str(cfg.env).replace("/", "-")
    return f"{env}__{cfg.agent}__seeds-{'-'.join(str(s) for s in seeds)}__{stamp}"


def train_seed(cfg_data: dict[str, Any], runs_dir: str, stamp: str) -> dict[str, Any]:
    """One seed's run (the body of a Ray task): a run folder under ``runs_dir``, trained.

    Args:
        cfg_data: The run's TrainConfig as a mapping (``presets.to_dict``), seed included.
        runs_dir: Parent of the run folder.
        stamp: Time stamp of the run folder's name.

    Returns:
        The run's final evaluation (``eval.json``) with ``"seed"`` added.
    """
    from spikerl.agents.presets import TrainConfig, build
    from spikerl.runs.folders import create_run_dir
    from spikerl.runs.train import train_run

    cfg: TrainConfig = build(TrainConfig, cfg_data)
    run_dir = create_run_dir(Path(runs_dir), cfg, stamp)
    result = train_run(cfg, run_dir, resume=False, quiet=True)
    return {**result, "seed": cfg.seed}


def check_seeds(seeds: Sequence[int]) -> list[int]:
    """The seeds as a list.

    Raises:
        RunInputError: for no seed or a repeated one.
    """
    out = [int(s) for s in seeds]
    if not out:
        raise RunInputError("--seeds: give at least one seed, e.g. --seeds 0 1 2 3 4")
    dup = sorted({s for s in out if out.count(s) > 1})
    if dup:
        raise RunInputError(f"--seeds: seed(s) {dup} given more than once")
    return out


def run_seeds(
    cfg: Any,
    seeds: Sequence[int],
    runs_dir: Path,
    *,
    cpus_per_run: float = 1.0,
    address: str | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Train ``cfg`` once per seed in parallel on Ray and write the aggregate.

    Args:
        cfg: The resolved TrainConfig (its ``seed`` is replaced by each of ``seeds``).
        seeds: Seeds, one run each.
        runs_dir: Parent folder of the group folder.
        cpus_per_run: CPUs reserved per run (Ray ``num_cpus`` of each task).
        address: Ray cluster address (``None``: in-process on this machine's CPUs).

    Returns:
        The group folder and its ``summary.json`` content.

    Raises:
        RunInputError: for bad seeds or ``cpus_per_run``.
        SeedsInterrupted: on Ctrl-C.
        spikerl.runs.cluster.RayConnectError: when ``address`` cannot be reached.
    """
    from spikerl.agents.presets import replace, to_dict
    from spikerl.runs.aggregate import seeds_summary
    from spikerl.runs.cluster import check_reachable, ray_session
    from spikerl.runs.curves import plot_seed_curves

    seeds = check_seeds(seeds)
    if not cpus_per_run > 0:
        raise RunInputError(f"--cpus-per-run {cpus_per_run}: expected a positive number of CPUs")
    if address is not None:
        check_reachable(address)  # before any folder is made
    stamp = time.strftime("%Y%m%d-%H%M%S")
    group = Path(runs_dir).absolute() / group_dir_name(cfg, seeds, stamp)
    group.mkdir(parents=True)
    t0 = time.time()
    with ray_session(address):
        import ray

        task = ray.remote(train_seed).options(num_cpus=cpus_per_run, max_retries=0)
        refs = [task.remote(to_dict(replace(cfg, seed=s)), str(group), stamp) for s in seeds]
        try:
            results = ray.get(refs)
        except ray.exceptions.RayTaskError as exc:  # a seed's own error, not Ray's wrapper
            raise exc.as_instanceof_cause() from None
        except KeyboardInterrupt:
            raise SeedsInterrupted(group) from None
    wall_s = time.time() - t0
    summary = seeds_summary(results)
    summary["wall_seconds"] = round(wall_s, 1)
    summary["cpus_per_run"] = cpus_per_run
    summary["group_dir"] = str(group)
    text = json.dumps(summary, indent=1)

    def write(tmp: str) -> None:
        Path(tmp).write_text(text)

    atomic_write(write, group / "summary.json")
    plot_seed_curves(
        [Path(r["run_dir"]) for r in results],
        [f"seed {r['seed']}" for r in results],
        group / "learning_curve.png",
        title=f"{cfg.env} {cfg.agent}: {len(seeds)} seeds",
    )
    return group, summary
