"""Benchmark of the core paths: Poisson(U(0, 15) Hz) inputs -> LIF, dense weights.

Two sections (``--sections``):

* ``paths``: for each size n and batch B, times 1000 steps (dt = 1 ms) of an
  ``Input(n) -> LIF(n)`` network through the stepwise path (dense and event-driven
  propagation), the window path (dense, event-driven and automatic), and, as a floor, one
  ``torch.matmul`` doing the same multiply-adds as the window's product
  (``[T*B, n] @ [n, n]``). Cases whose first repeat would exceed ``--budget`` seconds are
  timed over fewer steps and scaled linearly (marked ``"scaled_from_steps"``).
* ``bindsnet``: ``Input(1000) -> LIF(1000)``, batch 1, 1000 steps, side by side with
  BindsNET 0.3.4 on the same input spikes and the same weights ``U(0, s)`` for several
  scales ``s`` (``s = 1`` is BindsNET's default ``torch.rand`` weights, ~110 Hz output;
  the others move the output rate from ~20 to ~150 Hz). Rows: spikerl's ``Network.run``
  (automatic: the compiled window plan), spikerl's eager torch window path
  (``ExecutionMode.WINDOW``, ``Propagation.DENSE``) and BindsNET's ``Network.run``,
  interleaved repeat by repeat; ``same_spikes`` compares spikerl's output with BindsNET's
  monitor. BindsNET is optional (``requirements/bench.txt``: install it with ``--no-deps``
  into a separate venv or folder on ``PYTHONPATH``; ``scripts/bench_speed.py`` stubs the
  modules it only imports); without it the rows compare with the eager path only.

Usage:
    python scripts/bench_core.py [--sections paths bindsnet] [--sizes 1000 5000 10000]
        [--batches 1 32] [--repeats 5] [--out results/bench_core.json]

Prints JSON (and writes the summary to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from benchnets import poisson_lif_network as build

from spikerl.core import LIF, DenseProjection, ExecutionMode, Input, Network, Propagation

#: Weight scales of the BindsNET section: ``w ~ U(0, s)`` (s = 1: BindsNET's default).
WEIGHT_SCALES = (0.1, 0.3, 0.6, 1.0, 2.0)


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


def spikerl_input_lif(w: torch.Tensor) -> Network:
    """``Input(n) -> LIF(n)`` with the dense weights ``w [n, n]`` (float32)."""
    n = w.shape[0]
    net = Network(dt=1.0)
    net.add_population("input", Input(n))
    net.add_population("lif", LIF(n))
    net.connect("input", "lif", DenseProjection(n, n, w.clone()))
    return net


def bindsnet_input_lif(w: torch.Tensor, batch: int, monitor_steps: int = 0) -> Any:
    """BindsNET ``Input(n) -> LIFNodes(n)`` with the weights ``w`` (default node constants,
    which are spikerl's LIF defaults), optionally monitoring the output spikes."""
    from bindsnet.network import Network as BNNetwork
    from bindsnet.network.monitors import Monitor as BNMonitor
    from bindsnet.network.nodes import Input as BNInput
    from bindsnet.network.nodes import LIFNodes
    from bindsnet.network.topology import Connection

    n = w.shape[0]
    net = BNNetwork(dt=1.0, batch_size=batch)
    net.add_layer(BNInput(n=n), name="X")
    net.add_layer(LIFNodes(n=n), name="Y")
    net.add_connection(Connection(net.layers["X"], net.layers["Y"], w=w.clone()), "X", "Y")
    if monitor_steps:
        net.add_monitor(BNMonitor(net.layers["Y"], ["s"], time=monitor_steps), "Y")
    return net


def section_bindsnet(args: argparse.Namespace) -> dict[str, Any]:
    """spikerl (compiled plan, eager window) beside BindsNET across output rates."""
    from bench_speed import import_bindsnet

    bn = import_bindsnet()
    n, batch, steps = 1000, 1, args.steps
    x = poisson_input(steps, batch, n, 1)
    cases = []
    for scale in WEIGHT_SCALES:
        w = torch.rand(n, n, generator=torch.Generator().manual_seed(0)) * scale
        net = spikerl_input_lif(w)
        res, _ = net.run({"input": x})
        case: dict[str, Any] = {
            "weights": f"U(0, {scale})",
            "lif_rate_hz": round(float(res["lif"].mean()) * 1000.0, 1),
            "input_density": float(x.mean()),
        }
        runs: dict[str, Callable[[], object]] = {
            "spikerl": lambda net=net: net.run({"input": x}),
            "spikerl_eager_window": lambda net=net: net.run(
                {"input": x}, mode=ExecutionMode.WINDOW, propagation=Propagation.DENSE
            ),
        }
        if bn is not None:
            bnet = bindsnet_input_lif(w, batch)

            def bn_run(bnet: Any = bnet) -> object:
                bnet.reset_state_variables()
                bnet.run(inputs={"X": x}, time=steps)
                return bnet

            runs["bindsnet"] = bn_run
            check = bindsnet_input_lif(w, batch, monitor_steps=steps)
            check.run(inputs={"X": x}, time=steps)
            bn_spikes = check.monitors["Y"].get("s").float().reshape(steps, batch, n)
            case["same_spikes_as_bindsnet"] = bool(torch.equal(bn_spikes, res["lif"]))
            case["bindsnet_rate_hz"] = round(float(bn_spikes.mean()) * 1000.0, 1)
        times: dict[str, list[float]] = {k: [] for k in runs}
        for fn in runs.values():
            fn()  # warm-up
        for _ in range(args.repeats):  # interleaved: the rows share the machine's load
            for key, fn in runs.items():
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
        for key, ts in times.items():
            case[key] = {"median_s": statistics.median(ts), "min_s": min(ts)}
        sp = case["spikerl"]["median_s"]
        case["speedup_vs_eager_window"] = round(case["spikerl_eager_window"]["median_s"] / sp, 1)
        if bn is not None:
            case["speedup_vs_bindsnet"] = round(case["bindsnet"]["median_s"] / sp, 1)
            case["speedup_vs_bindsnet_min_times"] = round(
                case["bindsnet"]["min_s"] / case["spikerl"]["min_s"], 1
            )
        cases.append(case)
        print(json.dumps(case), flush=True)
    out: dict[str, Any] = {
        "n": n,
        "batch": batch,
        "steps": steps,
        "bindsnet": getattr(bn, "__version__", "0.3.4") if bn is not None else None,
        "cases": cases,
    }
    if bn is not None:
        ratios = [c["speedup_vs_bindsnet"] for c in cases]
        out["speedup_vs_bindsnet_lowest_over_rates"] = min(ratios)
        out["speedup_vs_bindsnet_min_times_lowest_over_rates"] = min(
            c["speedup_vs_bindsnet_min_times"] for c in cases
        )
        out["target_50x_at_every_rate"] = min(ratios) >= 50.0
    return out


def section_paths(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The core's execution paths on Input(n) -> LIF(n) for each size and batch."""
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
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--sections", nargs="+", default=["paths", "bindsnet"], choices=["paths", "bindsnet"]
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per case before scaling")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--out", type=Path, default=None, help="also write the summary here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    summary: dict[str, Any] = {
        "benchmark": "poisson_lif_core",
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if "paths" in args.sections:
        summary["results"] = section_paths(args)
    if "bindsnet" in args.sections:
        summary["bindsnet_side_by_side"] = section_bindsnet(args)
    summary["load_avg_1min_before_after"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    text = json.dumps(summary, indent=1)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        part = args.out.with_suffix(".json.part")
        part.write_text(text + "\n")
        part.replace(args.out)
    print(text)


if __name__ == "__main__":
    main()
