"""The Breakout preset's R-STDP agent from generic pixels, beside the ball/paddle baseline.

Usage::

    python scripts/breakout_generic.py [--seeds 100 101 102] [--timesteps 100000]
        [--encoders pixels breakout_objects] [--baseline-seeds 100] [--games 30]
        [--set rstdp.snn.w_inh=1.0 ...] [--out results/breakout_generic.json]

For every encoder and seed: train the ``Breakout`` preset (``spikerl train --env Breakout``'s
code path, :func:`spikerl.runs.train.train_run`; ``pixels`` is the preset's default, the
generic :class:`spikerl.encoders.PixelGrid`; ``breakout_objects`` is the game-specific
baseline with its own network settings, :data:`BASELINE`, run on ``--baseline-seeds`` only),
then evaluate BOTH the final weights and the
best checkpoint of the periodic evaluations on ``--games`` full greedy games of a fresh env
of the recipe (seed ``10000 + seed``). Actions are decided by the spike vote (ties by a
seeded draw); every score comes with its tie fraction and action counts. ``--set`` overrides
preset keys as ``spikerl train --set`` does (tuning on validation seeds). Prints one JSON
line per run and writes all rows to ``--out``. Compare with ``scripts/atari_controls.py``.
"""

from __future__ import annotations

import argparse
import copy
import json
import pathlib
import tempfile
import time
from typing import Any

import numpy as np

#: The ball/paddle baseline's own network settings (the Breakout preset's before it switched
#: to generic pixels): its ~134 features are sparse, so synapses are strong.
BASELINE: dict[str, Any] = {
    "features": {"kind": "breakout_objects"},
    "snn": {"sim_steps": 4, "w_init_low": 3.0, "w_init": 5.0, "w_inh": 4.0},
    "learn": {"lr_actor": 4.0, "weight_norm": False},
}


def _greedy(path: pathlib.Path, cfg: Any, seed: int, games: int) -> dict[str, Any]:
    from spikerl.agents.envs import make_agent_vec_env
    from spikerl.agents.evaluation import greedy_episodes
    from spikerl.agents.rstdp import RSTDP

    env = make_agent_vec_env(cfg.env, 1, 10_000 + seed, cfg.env_overrides)
    res = greedy_episodes(RSTDP.load(path), env, games)
    env.close()
    return {
        "mean": round(res.mean, 3),
        "std": round(res.std, 3),
        "returns": res.returns,
        "tie_fraction": None if np.isnan(res.tie_fraction) else round(res.tie_fraction, 4),
        "margin": None if np.isnan(res.margin) else round(res.margin, 3),
        "action_counts": res.action_counts,
    }


def run(
    encoder: str,
    seed: int,
    timesteps: int,
    games: int,
    runs_dir: pathlib.Path,
    sets: list[str] | None = None,
) -> dict[str, Any]:
    """Train one run of the Breakout preset with ``encoder`` (and ``--set`` overrides) and
    evaluate the final and the best weights."""
    from spikerl.agents.presets import parse_set, resolve
    from spikerl.config import merge
    from spikerl.runs.folders import create_run_dir
    from spikerl.runs.train import train_run

    over: dict[str, Any] = {"seed": seed, "timesteps": timesteps, "final_eval_episodes": 1}
    if encoder == "breakout_objects":
        over["rstdp"] = copy.deepcopy(BASELINE)
    elif encoder != "pixels":
        raise ValueError(f"unknown encoder {encoder!r}: pixels or breakout_objects")
    over = merge(over, parse_set(list(sets or [])))
    cfg = resolve("Breakout", agent="rstdp", overrides=over)
    run_dir = create_run_dir(runs_dir, cfg)
    t0 = time.time()
    out = train_run(cfg, run_dir, resume=False, quiet=True)
    train_s = time.time() - t0
    row: dict[str, Any] = {
        "encoder": encoder,
        "game_specific": encoder == "breakout_objects",
        "seed": seed,
        "timesteps": timesteps,
        "sets": list(sets or []),
        "train_seconds": round(train_s, 1),
        "env_steps_per_s": out.get("env_steps_per_s"),
        "final": _greedy(run_dir / "final.zip", cfg, seed, games),
        "best": None,
        "run_dir": str(run_dir),
    }
    if (run_dir / "best_model.zip").is_file():
        row["best"] = _greedy(run_dir / "best_model.zip", cfg, seed, games)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    ap.add_argument("--baseline-seeds", type=int, nargs="*", default=[100])
    ap.add_argument("--timesteps", type=int, default=100_000)
    ap.add_argument("--games", type=int, default=30)
    ap.add_argument("--encoders", nargs="+", default=["pixels", "breakout_objects"])
    ap.add_argument("--set", action="append", default=[], help="preset override key=value")
    ap.add_argument("--runs-dir", type=pathlib.Path, default=None)
    ap.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("results/breakout_generic.json")
    )
    args = ap.parse_args()
    runs_dir = args.runs_dir or pathlib.Path(tempfile.mkdtemp(prefix="breakout_generic_"))
    rows = []
    for encoder in args.encoders:
        seeds = args.seeds if encoder == "pixels" else args.baseline_seeds
        for seed in seeds:
            row = run(encoder, seed, args.timesteps, args.games, runs_dir, args.set)
            print(json.dumps(row), flush=True)
            rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"timesteps": args.timesteps, "games": args.games, "sets": args.set, "rows": rows}
    args.out.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
