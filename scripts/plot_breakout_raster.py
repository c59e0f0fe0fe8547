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
    obs = env.reset()
    state = None
    starts = np.ones(1, dtype=bool)
    windows, actions = [], []
    for _ in range(args.steps):
        action, state = model.predict(np.asarray(obs), state, starts, deterministic=True)
        out = model.policy.last_output
        assert out is not None and out.spikes is not None
        windows.append(out.spikes)
        actions.append(int(np.asarray(action).reshape(-1)[0]))
        obs, _, starts, _ = env.step(np.asarray(action).reshape(1))
    spikes = np.concatenate(windows, axis=0)
    fig = spike_raster(
        spikes,
        dt=model.config.snn.dt,
        title="Breakout: action populations (NOOP, FIRE, RIGHT, LEFT)",
    )
    path = save_figure(fig, args.out / "breakout_raster.png")
    counts = np.bincount(np.asarray(actions), minlength=4).tolist()
    print(json.dumps({"png": str(path), "steps": args.steps, "action_counts": counts}))


if __name__ == "__main__":
    main()
