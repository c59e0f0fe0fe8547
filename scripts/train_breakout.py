"""R-STDP on Breakout (ALE/Breakout-v5, sticky actions, from pixels, full games).

Trains with the ``Breakout`` preset (its default encoder is the generic pixel grid,
:class:`spikerl.encoders.PixelGrid`; ``--set rstdp.features.kind=breakout_objects`` trains the
game-specific ball/paddle baseline that the earlier results in the README used), keeps the
best weights by periodic greedy evaluation, then evaluates them and the final weights on
``--eval-episodes`` full games each (actions by the spike vote, ties by a seeded draw; the
tie fraction is reported) beside constant-action controls in the same wrapper setup (FIRE
on reset and life loss, stall guard). Prints JSON lines and writes a learning-curve PNG.

Usage: ``python scripts/train_breakout.py [--timesteps 200000] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
import time
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import EvalCallback

from spikerl.agents import RSTDP
from spikerl.agents.envs import make_agent_vec_env
from spikerl.agents.presets import parse_set, resolve
from spikerl.runs.evaluate import evaluate


class _Const:
    """A constant-action policy with the ``predict`` signature (and the env's spaces)."""

    def __init__(self, action: int, observation_space: Any, action_space: Any) -> None:
        self.action = action
        self.observation_space = observation_space
        self.action_space = action_space

    def predict(self, obs: Any, state: Any, start: Any, deterministic: bool = True) -> Any:
        return np.full(len(obs), self.action), None


def plot_curve(eps: list[float], ev: Any, best_const: float, png: pathlib.Path) -> None:
    """Training scores (the last 100 episodes), greedy evaluations over env steps and the
    best constant action's score, saved to ``png``.

    Args:
        eps: Scores of the run's last training episodes.
        ev: ``evaluations.npz`` of SB3's EvalCallback (``timesteps``, ``results``) or None.
        best_const: Score of the best constant action in the same environment.
        png: Output file.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    if eps:
        ax.plot(np.arange(len(eps)), eps, label="training episodes (last 100)")
    ax.set_xlabel("training episode (the run's last 100; bottom axis)")
    handles, labels = [], []
    if ev is not None:
        ax2 = ax.twiny()
        ax2.plot(ev["timesteps"], ev["results"].mean(1), "o-", c="C1", label="greedy evaluation")
        ax2.set_xlabel("env steps (evaluations; top axis)")
        handles, labels = ax2.get_legend_handles_labels()
    ax.axhline(best_const, ls="--", c="grey", label="best constant action")
    ax.set_ylabel("game score")
    h, lab = ax.get_legend_handles_labels()
    ax.legend(h + handles, lab + labels, loc="upper left", fontsize="small")
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--timesteps", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-freq", type=int, default=25_000)
    ap.add_argument("--eval-episodes", type=int, default=30)
    ap.add_argument("--control-episodes", type=int, default=10)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--out", type=pathlib.Path, default=None)
    ap.add_argument("--png", type=pathlib.Path, default=pathlib.Path("breakout_rstdp.png"))
    ap.add_argument(
        "--eval-only",
        action="store_true",
        help="evaluate final.zip and best_model.zip already in --out (no training)",
    )
    args = ap.parse_args()
    out = args.out or pathlib.Path(tempfile.mkdtemp(prefix="breakout_rstdp_"))
    cfg = resolve("Breakout", overrides=parse_set(args.set) if args.set else None)
    env = make_agent_vec_env("Breakout", 1, args.seed, cfg.env_overrides)
    eps: list[float] = []
    train_s = float("nan")
    if args.eval_only:
        model = RSTDP.load(out / "final.zip")
    else:
        eval_env = make_agent_vec_env("Breakout", 1, args.seed + 1000, cfg.env_overrides)
        model = RSTDP("SpikingPolicy", env, cfg.rstdp, seed=args.seed)
        cb = EvalCallback(
            eval_env,
            n_eval_episodes=3,
            eval_freq=args.eval_freq,
            best_model_save_path=str(out),
            log_path=str(out),
            verbose=0,
        )
        t0 = time.time()
        model.learn(args.timesteps, callback=cb)
        train_s = time.time() - t0
        model.save(out / "final.zip")
        eps = [float(e["r"]) for e in model.ep_info_buffer]
        print(
            json.dumps(
                {
                    "phase": "train",
                    "timesteps": args.timesteps,
                    "seconds": round(train_s),
                    "env_steps_per_s": round(args.timesteps / train_s),
                    "train_ep_rew_last100": float(np.mean(eps)) if eps else None,
                }
            ),
            flush=True,
        )
    best_path = out / "best_model.zip"
    best = RSTDP.load(best_path) if best_path.is_file() else model
    seed = args.seed + 5000
    agent = evaluate(best, "Breakout", cfg.env_overrides, args.eval_episodes, seed)
    final = evaluate(model, "Breakout", cfg.env_overrides, args.eval_episodes, seed)
    controls = {}
    for name, a in (("NOOP", 0), ("FIRE", 1), ("RIGHT", 2), ("LEFT", 3)):
        const = _Const(a, env.observation_space, env.action_space)
        r = evaluate(const, "Breakout", cfg.env_overrides, args.control_episodes, seed)
        controls[name] = r["mean_reward"]
    best_const = max(controls.values())
    print(
        json.dumps(
            {
                "summary": "Breakout R-STDP",
                "timesteps": args.timesteps,
                "agent_best_mean": agent["mean_reward"],
                "agent_best_std": agent["std_reward"],
                "agent_episodes": args.eval_episodes,
                "agent_action_distribution(NOOP,FIRE,RIGHT,LEFT)": agent["action_distribution"],
                "agent_best_tie_fraction": agent["tie_fraction"],
                "final_weights_mean": final["mean_reward"],
                "final_weights_std": final["std_reward"],
                "final_weights_tie_fraction": final["tie_fraction"],
                "readout": agent["readout"],
                "seed": args.seed,
                "constant_action_controls": controls,
                "beats_best_constant": agent["mean_reward"] > best_const,
                "target_10_met": agent["mean_reward"] >= 10,
                "env_steps_per_s_training": None
                if args.eval_only
                else round(args.timesteps / train_s),
            }
        ),
        flush=True,
    )
    ev = np.load(out / "evaluations.npz") if (out / "evaluations.npz").is_file() else None
    plot_curve(eps, ev, best_const, args.png)


if __name__ == "__main__":
    main()
