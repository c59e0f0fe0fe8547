"""Probe one preset change on validation seeds: train, then play greedy episodes.

Usage::

    python scripts/preset_probe.py CartPole --steps 200000 --seeds 100 101 102 \
        [--set rstdp.learn.lam_actor=0.9 ...] [--episodes 10]

For each seed the preset (with the ``--set`` overrides, the same syntax as ``spikerl train
--set``) learns for ``--steps`` env steps (the learning-rate schedule spans those steps), and
the greedy mean return over ``--episodes`` episodes of an env seeded 99 is printed as one
JSON line with the tie fraction, before and after learning. Use it on validation seeds, never
on the reported seeds 0-4.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any


def probe(name: str, steps: int, seed: int, sets: Sequence[str], episodes: int) -> dict[str, Any]:
    """Train ``name``'s preset with ``sets`` for ``steps`` and return the greedy means."""
    from spikerl.agents import RSTDP
    from spikerl.agents.envs import make_agent_vec_env
    from spikerl.agents.evaluation import greedy_episodes
    from spikerl.agents.presets import resolve
    from spikerl.config import parse_set

    cfg = resolve(name, "rstdp", None, parse_set(list(sets)) if sets else {})
    model = RSTDP(
        "SpikingPolicy",
        make_agent_vec_env(cfg.env, cfg.n_envs, seed, cfg.env_overrides),
        cfg.rstdp,
        seed=seed,
    )

    def evaluate() -> tuple[float, float]:
        res = greedy_episodes(
            model, make_agent_vec_env(cfg.env, 1, 99, cfg.env_overrides), episodes
        )
        return res.mean, res.tie_fraction

    before, _ = evaluate()
    t0 = time.time()
    model.learn(steps)
    seconds = time.time() - t0
    after, ties = evaluate()
    return {
        "preset": name,
        "seed": seed,
        "steps": steps,
        "sets": list(sets),
        "before": round(before, 1),
        "after": round(after, 1),
        "tie_fraction": round(ties, 3),
        "train_seconds": round(seconds, 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("preset")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    ap.add_argument("--set", action="append", default=[], help="preset override k=v")
    ap.add_argument("--episodes", type=int, default=10)
    args = ap.parse_args(argv)
    if args.steps < 1 or args.episodes < 1:
        ap.error("--steps and --episodes must be >= 1")
    for seed in args.seeds:
        print(json.dumps(probe(args.preset, args.steps, seed, args.set, args.episodes)), flush=True)


if __name__ == "__main__":
    main()
