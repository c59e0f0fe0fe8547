"""Spike raster of the R-STDP agent's action populations during a Breakout episode.

Usage:
    python scripts/plot_breakout_raster.py MODEL_ZIP [--steps 100] [--out results/figures]

Plays ``--steps`` greedy env steps with the saved agent, records every simulation step of
the action neurons (populations stacked: NOOP, FIRE, RIGHT, LEFT) and writes
``breakout_raster.png``; prints JSON with the path and the action counts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np

from spikerl.agents import RSTDP
from spikerl.agents.envs import make_agent_vec_env
from spikerl.agents.presets import TrainConfig, build, preset_dict
from spikerl.plotting import save_figure, spike_raster


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model", type=Path)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("results/figures"))
    args = ap.parse_args()
    preset: TrainConfig = build(TrainConfig, preset_dict("rstdp", "Breakout"))
    env = make_agent_vec_env("Breakout", 1, seed=args.seed, overrides=preset.env_overrides)
    model = RSTDP.load(args.model, env=env)
    net = model.policy.net
    obs = env.reset()
    st = net.initial_state(1)
    rng = np.random.default_rng(args.seed)
    windows, actions = [], []
    for _ in range(args.steps):
        out, st = net.step(
            model.policy.features(np.asarray(obs)), st, deterministic=True, learn=False, rng=rng
        )
        windows.append(out.spikes)
        actions.append(int(out.actions[0]))
        obs, _, dones, _ = env.step(out.actions)
        st = net.reset_state(st, dones)
    spikes = np.concatenate(windows, axis=0)
    fig = spike_raster(
        spikes, dt=net.snn.dt, title="Breakout: action populations (NOOP, FIRE, RIGHT, LEFT)"
    )
    path = save_figure(fig, args.out / "breakout_raster.png")
    counts = np.bincount(np.asarray(actions), minlength=4).tolist()
    print(json.dumps({"png": str(path), "steps": args.steps, "action_counts": counts}))


if __name__ == "__main__":
    main()
