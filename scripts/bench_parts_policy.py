"""Env steps per second of R-STDP agents on CartPole-v1 with learning on, one env.

Rows, measured in one run, interleaved repeat by repeat (ratios hold on a shared machine):

* ``builtin_cartpole``: the CartPole preset's built-in actor (compiled window and update
  kernels of ``spikerl.agents``);
* ``parts_three_layer_compiled``: the issue's three-layer network made of core parts
  (``spikerl.models.rstdp_network``: population-coded CartPole -> 64 hidden LIF -> 2 x 16
  action LIF with lateral inhibition, both projections plastic through ``Plasticity`` +
  ``MSTDPET``) on the compiled window plan of ``spikerl.core.backends`` (made once);
* ``parts_three_layer_eager``: the same on the eager torch backend (the reference);
* ``parts_three_layer_before``: the same network, same script, on the source tree of
  ``--before`` (default: the commit before the window plans, when every window went
  through ``Network.run`` with the per-call packing of ``kernels.run_network`` and torch
  plasticity), unpacked with ``git archive`` into a temporary folder and timed in a child
  process between the other rows' repeats.

Usage: ``python scripts/bench_parts_policy.py [--steps 2000] [--repeats 3] [--before REV]
[--out results/bench_parts_policy.json]``. Prints one JSON object (medians over repeats,
every repeat listed, the 1-minute load average before and after) and writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import torch

ROOT = Path(__file__).resolve().parents[1]

#: The last commit before the compiled window plans (Network.run + kernels.run_network).
BEFORE = "32378432e6efc4dcc89940a5023eb79af94d4a47"

#: Timed in a child process on another source tree (``--worker``).
_WORKER = """
import json, sys, time
import gymnasium as gym, torch
torch.set_num_threads(1)
from spikerl.agents import RSTDP
from spikerl.models.rstdp_network import HiddenLayerNetworkConfig, build_hidden_layer_policy
env = gym.make("CartPole-v1")
cfg = HiddenLayerNetworkConfig(low=[-2.4, -3.0, -0.21, -3.5], high=[2.4, 3.0, 0.21, 3.5])
parts = build_hidden_layer_policy(cfg, env.observation_space, env.action_space, 0)
model = RSTDP("SpikingPolicy", env, policy_kwargs=parts, seed=0)
model.learn(200)
steps = int(sys.argv[1])
t0 = time.perf_counter()
model.learn(steps, reset_num_timesteps=False)
print(json.dumps({"rate": steps / (time.perf_counter() - t0)}))
"""


def _builtin() -> object:
    from spikerl.agents import RSTDP
    from spikerl.agents.presets import load_agent_preset

    return RSTDP("SpikingPolicy", gym.make("CartPole-v1"), load_agent_preset("rstdp", "CartPole"))


def _parts(backend: str = "auto") -> object:
    from spikerl.agents import RSTDP
    from spikerl.models.rstdp_network import HiddenLayerNetworkConfig, build_hidden_layer_policy

    env = gym.make("CartPole-v1")
    cfg = HiddenLayerNetworkConfig(low=[-2.4, -3.0, -0.21, -3.5], high=[2.4, 3.0, 0.21, 3.5])
    parts = build_hidden_layer_policy(cfg, env.observation_space, env.action_space, 0)
    parts["backend"] = backend
    return RSTDP("SpikingPolicy", env, policy_kwargs=parts, seed=0)


def rate(make: Callable[[], object], steps: int) -> float:
    """Env steps/s of ``learn(steps)`` after a warm-up of 200 steps."""
    model = make()
    model.learn(200)  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)  # type: ignore[attr-defined]
    return steps / (time.perf_counter() - t0)


def unpack(rev: str, into: Path) -> Path:
    """The ``spikerl`` package of commit ``rev`` under ``into`` (``git archive``)."""
    archive = into / "src.tar"
    with archive.open("wb") as f:
        subprocess.run(["git", "archive", rev, "spikerl"], cwd=ROOT, stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def before_rate(tree: Path, steps: int) -> float:
    """Env steps/s of the parts policy on the source tree ``tree`` (a child process)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _WORKER, str(steps)],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["rate"])


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--before", default=BEFORE, help="git revision of the 'before' row")
    ap.add_argument("--no-before", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench_parts_policy.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows: dict[str, list[float]] = {
        "builtin_cartpole": [],
        "parts_three_layer_compiled": [],
        "parts_three_layer_eager": [],
    }
    if not args.no_before:
        rows["parts_three_layer_before"] = []
    load_before = os.getloadavg()[0]
    t_start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tree = None if args.no_before else unpack(args.before, Path(tmp))
        if tree is not None:
            before_rate(tree, 200)  # compiles (and caches) the old tree's kernels
        for _ in range(args.repeats):
            rows["builtin_cartpole"].append(rate(_builtin, args.steps * 5))
            rows["parts_three_layer_compiled"].append(rate(_parts, args.steps))
            if tree is not None:
                rows["parts_three_layer_before"].append(before_rate(tree, args.steps // 2))
            rows["parts_three_layer_eager"].append(
                rate(lambda: _parts("eager"), max(args.steps // 10, 100))
            )
    med = {k: round(statistics.median(v), 1) for k, v in rows.items()}
    res: dict[str, object] = {
        "benchmark": "parts_policy_cartpole_env_steps_per_s",
        "threads": args.threads,
        "steps": args.steps,
        "repeats": args.repeats,
        "before_rev": None if args.no_before else args.before,
        **med,
        "all_repeats": {k: [round(x, 1) for x in v] for k, v in rows.items()},
        "compiled_over_eager": round(
            med["parts_three_layer_compiled"] / med["parts_three_layer_eager"], 2
        ),
        "compiled_over_builtin": round(
            med["parts_three_layer_compiled"] / med["builtin_cartpole"], 3
        ),
        "target_parts_env_steps_per_s": 2000,
        "target_met": med["parts_three_layer_compiled"] >= 2000,
        "load_avg_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpu_count": os.cpu_count(),
        "wall_s": round(time.time() - t_start, 1),
    }
    if not args.no_before:
        res["compiled_over_before"] = round(
            med["parts_three_layer_compiled"] / med["parts_three_layer_before"], 2
        )
    text = json.dumps(res)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    part = args.out.with_suffix(".json.part")
    part.write_text(text + "\n")
    part.replace(args.out)
    print(text)


if __name__ == "__main__":
    main()
