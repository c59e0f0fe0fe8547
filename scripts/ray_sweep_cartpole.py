"""Sweep the CartPole R-STDP agent on Ray Tune, then compare the best config with the preset
on 5 seeds (full preset budget, final and best weights). Prints one JSON object.

Usage::

    python scripts/ray_sweep_cartpole.py --trials 24 --trial-timesteps 50000 \\
        --out results/ray_sweep_cartpole.json

Step 1 is ``spikerl sweep --env CartPole --space agents/spaces/rstdp.yaml`` with a reduced
per-trial budget (``--trial-timesteps``; evaluations every 5000 steps, 5 episodes; the final
weights judged on 20 episodes); step 2 trains the preset and the sweep's best preset file on
``--seeds`` with ``spikerl train --seeds`` (the preset's own budget: 150k steps, 100 final
episodes) and reads both summaries. ``--sweep-dir`` skips step 1 and reuses a finished sweep.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from spikerl.agents.presets import resolve, to_dict
from spikerl.core.io import atomic_write_bytes
from spikerl.runs.seeds import run_seeds
from spikerl.runs.space import read_space
from spikerl.runs.sweep import SweepSpec, run_sweep


def main() -> None:
    """Run the sweep and the comparison; print the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--trial-timesteps", type=int, default=50_000)
    ap.add_argument("--space", type=Path, default=Path("agents/spaces/rstdp.yaml"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--runs-dir", type=Path, default=Path("runs/ray_sweep_cartpole"))
    ap.add_argument("--sweep-dir", type=Path, help="reuse this finished sweep")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    t0 = time.time()
    if args.sweep_dir is None:
        base = resolve(
            "CartPole",
            overrides={
                "timesteps": args.trial_timesteps,
                "eval_freq": 5000,
                "eval_episodes": 5,
                "final_eval_episodes": 20,
                "checkpoint_freq": 10_000,
            },
        )
        spec = SweepSpec(
            base=to_dict(base),
            space=read_space(args.space),
            space_file=str(args.space),
            trials=args.trials,
        )
        sweep_dir = args.runs_dir.absolute() / time.strftime("sweep-%Y%m%d-%H%M%S")
        sweep = run_sweep(spec, sweep_dir)
    else:
        sweep_dir = args.sweep_dir.absolute()
        sweep = json.loads((sweep_dir / "summary.json").read_text())
    sweep_s = time.time() - t0
    best_file = sweep_dir / "best_config.yaml"
    compare: dict[str, object] = {}
    out = {
        "commit": commit,
        "sweep": {
            "dir": str(sweep_dir),
            "trials": args.trials,
            "trial_timesteps": args.trial_timesteps,
            "finished": sweep["finished"],
            "stopped_early": sweep["stopped_early"],
            "errored": sweep["errored"],
            "wall_seconds": round(sweep_s, 1),
            "best_trial": {k: sweep["best"][k] for k in ("trial_id", "params", "eval_return")}
            if sweep["best"]
            else None,
            "best_config": best_file.read_text() if best_file.is_file() else None,
        },
        "seeds": args.seeds,
        "compare": compare,
    }
    if args.out:  # the sweep's part first: the comparison takes a while
        atomic_write_bytes((json.dumps(out) + "\n").encode(), args.out)
    for name, config in (("preset", None), ("sweep_best", best_file)):
        cfg = resolve("CartPole", config_file=config)
        group, summary = run_seeds(cfg, args.seeds, args.runs_dir.absolute() / name)
        compare[name] = {
            "group_dir": str(group),
            "aggregate": summary["aggregate"],
            "final_per_seed": [s["final"]["mean_reward"] for s in summary["per_seed"]],
            "best_per_seed": [s["best"]["mean_reward"] for s in summary["per_seed"]],
            "wall_seconds": summary["wall_seconds"],
        }
        if args.out:
            atomic_write_bytes((json.dumps(out) + "\n").encode(), args.out)
    text = json.dumps(out)
    print(text)
    if args.out:
        atomic_write_bytes((text + "\n").encode(), args.out)


if __name__ == "__main__":
    main()
