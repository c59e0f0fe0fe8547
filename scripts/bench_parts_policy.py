"""Env steps per second of R-STDP agents on CartPole-v1 with learning on, one env.

Rows, measured in one process, one after another (ratios hold on a shared machine):

* ``builtin``: the CartPole preset's built-in actor (compiled window and update kernels);
* ``parts``: the issue's three-layer network made of core parts
  (``spikerl.models.rstdp_network``: population-coded CartPole -> 64 hidden LIF -> 2 x 16
  action LIF with lateral inhibition, both projections plastic through ``Plasticity`` +
  ``MSTDPET``), on the compiled network loop and on the eager torch path.

Usage: ``python scripts/bench_parts_policy.py [--steps 2000] [--repeats 3] [--threads 1]``.
Prints one JSON object (median over repeats).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import torch


def _builtin() -> object:
    from spikerl.agents import RSTDP
    from spikerl.agents.presets import load_agent_preset

    return RSTDP("SpikingPolicy", gym.make("CartPole-v1"), load_agent_preset("rstdp", "CartPole"))


def _parts() -> object:
    from spikerl.agents import RSTDP
    from spikerl.models.rstdp_network import HiddenLayerNetworkConfig, build_hidden_layer_policy

    env = gym.make("CartPole-v1")
    cfg = HiddenLayerNetworkConfig(low=[-2.4, -3.0, -0.21, -3.5], high=[2.4, 3.0, 0.21, 3.5])
    parts = build_hidden_layer_policy(cfg, env.observation_space, env.action_space, 0)
    return RSTDP("SpikingPolicy", env, policy_kwargs=parts, seed=0)


def rate(make: Callable[[], object], steps: int, repeats: int) -> float:
    """Median env steps/s of ``learn(steps)`` after a warm-up of 200 steps."""
    out = []
    for _ in range(repeats):
        model = make()
        model.learn(200)  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        model.learn(steps, reset_num_timesteps=False)  # type: ignore[attr-defined]
        out.append(steps / (time.perf_counter() - t0))
    return statistics.median(out)


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from spikerl.core import kernels

    res: dict[str, object] = {"threads": args.threads, "steps": args.steps}
    res["builtin_cartpole"] = round(rate(_builtin, args.steps * 5, args.repeats), 1)
    res["parts_three_layer_compiled_loop"] = round(rate(_parts, args.steps, args.repeats), 1)
    enabled = kernels.enabled
    kernels.enabled = lambda: False  # type: ignore[assignment]
    try:
        res["parts_three_layer_eager"] = round(rate(_parts, args.steps // 4, args.repeats), 1)
    finally:
        kernels.enabled = enabled  # type: ignore[assignment]
    res["target_parts_env_steps_per_s"] = 2000
    print(json.dumps(res))


if __name__ == "__main__":
    main()
