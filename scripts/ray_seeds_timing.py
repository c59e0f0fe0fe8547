"""Wall time of N seeds trained in parallel on Ray against the same seeds one after another.

Usage: ``python scripts/ray_seeds_timing.py [--seeds 0 1 2 3 4] [--timesteps 30000]``.
Both paths run the same :func:`spikerl.runs.train.train_run` on CartPole with the preset's
settings (budget overridden): "sequential" trains the seeds in this process one by one (what
``spikerl train --seed S`` does for each S), "parallel" is ``spikerl train --seeds ...`` (one
Ray task per seed, one CPU each, Ray started in-process; its start-up is included). It also
checks that both paths give the same final-weights returns per seed, and records each run's
training speed and the machine's 1-minute load average (other processes share the cores).
Prints one JSON object (and writes it with ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from spikerl.agents.presets import replace, resolve
from spikerl.core.io import atomic_write_bytes
from spikerl.runs.folders import create_run_dir
from spikerl.runs.seeds import run_seeds
from spikerl.runs.train import train_run


def main() -> None:
    """Time both paths and print the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--timesteps", type=int, default=30_000)
    ap.add_argument("--out", type=Path, help="write the JSON here too")
    args = ap.parse_args()
    overrides = {
        "timesteps": args.timesteps,
        "eval_freq": 5000,
        "eval_episodes": 5,
        "final_eval_episodes": 10,
        "checkpoint_freq": args.timesteps,
    }
    cfg = resolve("CartPole", overrides=overrides)
    load = [round(os.getloadavg()[0], 2)]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        sequential, seq_speed = {}, []
        for s in args.seeds:
            c = replace(cfg, seed=s)
            res = train_run(c, create_run_dir(Path(tmp) / "seq", c), resume=False, quiet=True)
            sequential[s] = res["final"]["mean_reward"]
            seq_speed.append(res["env_steps_per_s"])
        seq_s = time.time() - t0
        load.append(round(os.getloadavg()[0], 2))
        t0 = time.time()
        _, summary = run_seeds(cfg, args.seeds, Path(tmp) / "par")
        par_s = time.time() - t0
        load.append(round(os.getloadavg()[0], 2))
        par_speed = [
            json.loads((Path(r["run_dir"]) / "eval.json").read_text())["env_steps_per_s"]
            for r in summary["per_seed"]
        ]
    parallel = {r["seed"]: r["final"]["mean_reward"] for r in summary["per_seed"]}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    out = {
        "env": "CartPole",
        "seeds": args.seeds,
        "timesteps_per_seed": args.timesteps,
        "cpus": os.cpu_count(),
        "sequential_seconds": round(seq_s, 1),
        "parallel_ray_seconds": round(par_s, 1),
        "speedup": round(seq_s / par_s, 2),
        "train_env_steps_per_s_sequential": seq_speed,
        "train_env_steps_per_s_parallel": par_speed,
        "loadavg_1min_start_mid_end": load,
        "same_final_returns": sequential == parallel,
        "final_returns": parallel,
        "commit": commit,
    }
    text = json.dumps(out)
    print(text)
    if args.out:
        atomic_write_bytes((text + "\n").encode(), args.out)


if __name__ == "__main__":
    main()
