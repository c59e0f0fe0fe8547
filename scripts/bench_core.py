"""Benchmark of the core paths: Poisson(U(0, 15) Hz) inputs -> LIF, dense weights.

For each size n and batch B, times 1000 steps (dt = 1 ms) of an ``Input(n) -> LIF(n)``
network through the stepwise path (dense and event-driven propagation), the window path
(dense, event-driven and automatic), and, as a floor, one ``torch.matmul`` doing the same
multiply-adds as the window's product (``[T*B, n] @ [n, n]``). Prints JSON.

Usage:
    python scripts/bench_core.py [--sizes 1000 5000 10000] [--batches 1 32] [--repeats 5]

Cases whose first repeat would exceed ``--budget`` seconds are timed over fewer steps and
scaled linearly (marked ``"scaled_from_steps"``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch
from benchnets import poisson_lif_network as build

from spikerl.core import ExecutionMode, Propagation


def poisson_input(steps: int, batch: int, n: int, seed: int) -> torch.Tensor:
    """Spikes ``[T, B, n]`` with per-input rates drawn from U(0, 15) Hz, dt = 1 ms."""
    g = torch.Generator().manual_seed(seed)
    rates = torch.rand(n, generator=g) * 15.0
    p = rates * 1.0 / 1000.0
    return (torch.rand(steps, batch, n, generator=g) < p).float()


def timeit(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls after one warm-up call."""
    fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per case before scaling")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    paths = {
        "step_dense": (ExecutionMode.STEP, Propagation.DENSE),
        "step_event": (ExecutionMode.STEP, Propagation.SPARSE),
        "window_dense": (ExecutionMode.WINDOW, Propagation.DENSE),
        "window_event": (ExecutionMode.WINDOW, Propagation.SPARSE),
        "auto": (ExecutionMode.AUTO, Propagation.AUTO),
    }
    for n in args.sizes:
        net = build(n, 0)
        w = net.projection("input->lif").weight.detach()
        for batch in args.batches:
            x = poisson_input(args.steps, batch, n, 1)
            case: dict[str, object] = {"n": n, "batch": batch, "steps": args.steps}
            ref = None
            for key, (mode, prop) in paths.items():
                probe_steps = min(args.steps, 50)
                t0 = time.perf_counter()
                net.run({"input": x[:probe_steps]}, mode=mode, propagation=prop)
                est = (time.perf_counter() - t0) * args.steps / probe_steps
                steps = args.steps
                if est > args.budget:
                    steps = max(probe_steps, int(args.steps * args.budget / est))
                xs = x[:steps]
                ts = timeit(
                    lambda xs=xs, m=mode, p=prop, net=net: net.run(
                        {"input": xs}, mode=m, propagation=p
                    ),
                    args.repeats,
                )
                scale = args.steps / steps
                entry: dict[str, object] = {
                    "median_s": statistics.median(ts) * scale,
                    "min_s": min(ts) * scale,
                }
                if steps != args.steps:
                    entry["scaled_from_steps"] = steps
                check = x[: min(steps, 200)]
                res, _ = net.run({"input": check}, mode=mode, propagation=prop)
                if ref is None:
                    ref = res["lif"]
                    entry["lif_rate_hz"] = float(ref.mean()) * 1000.0
                else:
                    entry["same_spikes_as_step_dense_first_200"] = bool(
                        torch.equal(res["lif"], ref)
                    )
                case[key] = entry
            flat = x.reshape(-1, n)
            ts = timeit(lambda flat=flat, w=w: torch.matmul(flat, w), args.repeats)
            case["matmul_floor"] = {"median_s": statistics.median(ts), "min_s": min(ts)}
            case["input_density"] = float(x.mean())
            results.append(case)
            print(json.dumps(case), flush=True)
    summary = {
        "benchmark": "poisson_lif_core",
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "results": results,
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
