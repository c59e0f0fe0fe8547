"""R-STDP on CartPole-v1: train several seeds, evaluate the best weights, print JSON.

Usage: ``python scripts/train_cartpole.py [--seeds 0 1 2 3 4] [--timesteps 150000]``.
Each seed trains with SB3's EvalCallback (10 greedy episodes every ``--eval-freq`` steps,
best weights kept), then the final weights and the best model are each evaluated on 100
greedy episodes (actions decided by the spike vote, ties by a seeded draw; the tie fraction
is reported). Prints one
JSON line per seed and a summary; writes a learning-curve PNG.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
import time

import numpy as np
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env

from spikerl.agents import RSTDP
from spikerl.agents.evaluation import greedy_episodes
from spikerl.agents.presets import parse_set, resolve


def run_seed(
    seed: int, timesteps: int, eval_freq: int, out: pathlib.Path, sets: list[str]
) -> dict[str, object]:
    """Train and evaluate one seed (``sets``: ``key=value`` preset overrides)."""
    cfg = resolve("CartPole", overrides=parse_set(sets) if sets else None).rstdp
    env = make_vec_env("CartPole-v1", n_envs=1, seed=seed)
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=seed + 1000)
    model = RSTDP("SpikingPolicy", env, cfg, seed=seed)
    folder = out / f"seed{seed}"
    cb = EvalCallback(
        eval_env,
        n_eval_episodes=10,
        eval_freq=eval_freq,
        best_model_save_path=str(folder),
        log_path=str(folder),
        deterministic=True,
        verbose=0,
    )
    t0 = time.time()
    model.learn(timesteps, callback=cb)
    train_s = time.time() - t0
    best = RSTDP.load(folder / "best_model", env=env)
    res_best = greedy_episodes(best, make_vec_env("CartPole-v1", n_envs=1, seed=seed + 5000), 100)
    res_final = greedy_episodes(model, make_vec_env("CartPole-v1", n_envs=1, seed=seed + 5000), 100)
    ev = np.load(folder / "evaluations.npz")
    return {
        "seed": seed,
        "timesteps": timesteps,
        "readout": str(cfg.snn.readout),
        "train_seconds": round(train_s, 1),
        "env_steps_per_s": round(timesteps / train_s),
        "final_eval100_mean": res_final.mean,
        "final_eval100_std": res_final.std,
        "final_tie_fraction": round(res_final.tie_fraction, 4),
        "eval100_mean": res_best.mean,
        "eval100_std": res_best.std,
        "best_tie_fraction": round(res_best.tie_fraction, 4),
        "best_eval10": float(ev["results"].mean(1).max()),
        "curve_steps": ev["timesteps"].tolist(),
        "curve_mean": ev["results"].mean(1).round(1).tolist(),
    }


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--timesteps", type=int, default=150_000)
    ap.add_argument("--eval-freq", type=int, default=10_000)
    ap.add_argument("--set", action="append", default=[], help="preset override key=value")
    ap.add_argument("--out", type=pathlib.Path, default=None)
    ap.add_argument("--png", type=pathlib.Path, default=pathlib.Path("cartpole_rstdp.png"))
    args = ap.parse_args()
    out = args.out or pathlib.Path(tempfile.mkdtemp(prefix="cartpole_rstdp_"))
    results = []
    for seed in args.seeds:
        r = run_seed(seed, args.timesteps, args.eval_freq, out, args.set)
        results.append(r)
        print(json.dumps({k: v for k, v in r.items() if not k.startswith("curve")}), flush=True)
    solved = sum(r["eval100_mean"] >= 475 for r in results)  # type: ignore[operator]
    print(
        json.dumps(
            {
                "summary": "CartPole-v1 R-STDP",
                "seeds": args.seeds,
                "final_eval100_means": [r["final_eval100_mean"] for r in results],
                "best_eval100_means": [r["eval100_mean"] for r in results],
                "final_seeds_at_475": sum(
                    r["final_eval100_mean"] >= 475  # type: ignore[operator]
                    for r in results
                ),
                "seeds_at_475": solved,
                "target_met": solved >= 3,
                "random_policy_mean": 22.0,
            }
        ),
        flush=True,
    )
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for r in results:
        ax.plot(r["curve_steps"], r["curve_mean"], label=f"seed {r['seed']}")
    ax.axhline(475, ls="--", c="grey")
    ax.set_xlabel("env steps")
    ax.set_ylabel("greedy return (10 episodes)")
    ax.set_title("R-STDP (TD-modulated MSTDPET) on CartPole-v1")
    ax.legend()
    fig.savefig(args.png, dpi=100)


if __name__ == "__main__":
    main()
