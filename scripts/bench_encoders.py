"""Encoder throughput on Breakout-sized frames (84x84): observations per second.

Prints JSON: for the Poisson and delta encoders at T in {16, 64} and batch in {1, 32},
the median over 5 repeats of observations encoded per second (one observation = one
84x84 frame of one env, encoded into T steps). CPU, one torch thread by default (steadier
on a shared machine).

Usage: python scripts/bench_encoders.py [--repeats 5] [--min-time 0.2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch

from spikerl.encoders import DeltaEncoder, PoissonEncoder

SHAPE = (84, 84)


def _rate(fn: Callable[[], object], batch: int, min_time: float) -> float:
    """Observations per second of ``fn`` (which encodes ``batch`` observations)."""
    fn()  # warm-up
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return n * batch / elapsed


def bench(repeats: int, min_time: float) -> dict[str, object]:
    """Run all cases; return the JSON-able results."""
    results: list[dict[str, object]] = []
    for steps in (16, 64):
        for batch in (1, 32):
            g = torch.Generator().manual_seed(0)
            frames = torch.randint(0, 256, (batch, *SHAPE), generator=g, dtype=torch.uint8)
            poisson = PoissonEncoder(SHAPE, steps, max_rate=100.0, input_range=(0, 255))
            delta = DeltaEncoder(SHAPE, steps, threshold=0.05, input_range=(0, 255))
            _, state = delta(frames)
            frames2 = torch.randint(0, 256, (batch, *SHAPE), generator=g, dtype=torch.uint8)
            cases: dict[str, Callable[[], object]] = {
                "poisson": lambda p=poisson, f=frames, g=g: p(f, g),
                "delta": lambda d=delta, f=frames2, s=state: d(f, s),
            }
            for name, fn in cases.items():
                rates = [_rate(fn, batch, min_time) for _ in range(repeats)]
                results.append(
                    {
                        "encoder": name,
                        "time_steps": steps,
                        "batch": batch,
                        "obs_per_s": round(statistics.median(rates), 1),
                        "min_obs_per_s": round(min(rates), 1),
                        "max_obs_per_s": round(max(rates), 1),
                    }
                )
    return {
        "benchmark": "encoder throughput, 84x84 uint8 frames",
        "repeats": repeats,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "results": results,
    }


def main() -> None:
    """Parse arguments, run, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds per repeat")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    print(json.dumps(bench(args.repeats, args.min_time), indent=2))


if __name__ == "__main__":
    main()
