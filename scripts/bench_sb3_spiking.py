"""Throughput of SB3's PPO learn loop: spiking vs non-spiking policy, side by side; JSON.

Env steps per second of the whole ``model.learn`` loop (rollouts, GAE, 20 epochs of
minibatch updates; CartPole-v1, rl-baselines3-zoo hyperparameters from
``agents/ppo.yaml``) for SB3's ``MlpPolicy`` and ``SpikingMlpPolicy`` (T = 4, same layer
sizes; fused CPU window, and the eager torch scan for comparison). Each model is warmed up
(numba compilation, first allocations) and then timed in interleaved repeats
(A, B, C, A, B, C, ...), so that load from other processes on a shared machine hits all
alike; the medians and their ratio are reported.

Example::

    python scripts/bench_sb3_spiking.py --steps 8192 --repeats 5 --out results/sb3_bench.json

With ``--breakout-steps N`` it also times PPO on Breakout-v5 (the ``agents/ppo.yaml``
Breakout preset: 8 envs, 4 stacked 84x84 frames) with SB3's ``CnnPolicy`` and
``SpikingCnnPolicy`` (T = 4), N env steps each (a multiple of the 1024-step rollout: the
updates are included): the speed that sets the budget of a Breakout comparison here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from spikerl.agents.sb3.factory import load_sb3_preset, make_sb3_model, sb3_vec_env
from spikerl.core.io import atomic_write

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "MlpPolicy": ("MlpPolicy", {"net_arch": [64, 64]}),
    "SpikingMlpPolicy (fused, T=4)": (
        "SpikingMlpPolicy",
        {"layers": [64, 64], "time_steps": 4, "backend": "auto"},
    ),
    "SpikingMlpPolicy (fused, T=4, shared actor-critic extractor)": (
        "SpikingMlpPolicy",
        {"layers": [64, 64], "time_steps": 4, "share_features_extractor": True},
    ),
    "SpikingMlpPolicy (eager, T=4)": (
        "SpikingMlpPolicy",
        {"layers": [64, 64], "time_steps": 4, "backend": "eager"},
    ),
}


def breakout_fps(steps: int) -> dict[str, Any]:
    """Env steps/s of PPO.learn on Breakout (preset settings) per CNN policy."""
    preset = load_sb3_preset("ppo", "Breakout")
    hp = preset["sb3"]["hyperparams"]
    n_envs = int(preset["n_envs"])
    overrides = dict(preset["env_overrides"])
    out: dict[str, Any] = {"n_envs": n_envs, "env_overrides": overrides, "steps": steps}
    for policy, pk in (("CnnPolicy", {}), ("SpikingCnnPolicy", {"time_steps": 4})):
        env = sb3_vec_env("Breakout", n_envs, 0, overrides)
        model = make_sb3_model("ppo", env, 0, policy, hp, pk)
        start = time.perf_counter()  # kernels already compiled by the CartPole part
        model.learn(steps)
        out[policy] = steps / (time.perf_counter() - start)
        env.close()
    out["ratio"] = out["SpikingCnnPolicy"] / out["CnnPolicy"]
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=8192, help="env steps per timed repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--breakout-steps", type=int, default=0, help="also time Breakout PPO")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    preset = load_sb3_preset("ppo", "CartPole")
    hp = preset["sb3"]["hyperparams"]
    models = {}
    for name, (policy, pk) in VARIANTS.items():
        env = sb3_vec_env("CartPole", int(preset["n_envs"]), 0)
        models[name] = make_sb3_model("ppo", env, 0, policy, hp, pk)
        models[name].learn(2048)  # warm-up: compilation, allocations
    fps: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model.learn(args.steps, reset_num_timesteps=False)
            fps[name].append(args.steps / (time.perf_counter() - start))
    median = {name: statistics.median(v) for name, v in fps.items()}
    base = median["MlpPolicy"]
    result = {
        "script": "scripts/bench_sb3_spiking.py",
        "what": "env steps/s of PPO.learn on CartPole-v1 (8 envs, rl-zoo hyperparameters)",
        "steps_per_repeat": args.steps,
        "repeats": args.repeats,
        "torch_threads": args.threads,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "fps": fps,
        "median_fps": median,
        "ratio_to_MlpPolicy": {name: m / base for name, m in median.items()},
    }
    if args.breakout_steps > 0:
        result["breakout"] = breakout_fps(args.breakout_steps)
    text = json.dumps(result, indent=2)
    if args.out is not None:

        def write(tmp: str) -> None:
            Path(tmp).write_text(text)

        atomic_write(write, args.out)
    print(text)
    return result


if __name__ == "__main__":
    main()
