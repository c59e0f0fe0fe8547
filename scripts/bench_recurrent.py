"""Which compiled step wins for recurrent (stepwise) networks here: numba, torch.compile or
TorchScript? Prints JSON.

The network: ``Input(n)`` Poisson U(0, 15) Hz -> ``LIF(n)`` (dense U(0, 0.3 * 1000 / n)
weights) with all-to-all lateral inhibition (``LateralProjection.inhibition``), 1000 steps
of 1 ms, batch 1 and 32. A recurrent projection forces a step-by-step simulation. Timed:

* ``eager``: spikerl's stepwise network with its compiled kernels disabled (one Python
  step of torch ops per time step);
* ``auto``: spikerl's default, the whole network in one numba loop (event-driven rows);
* ``torch_compile``: the same functional step (spikerl's ``lif_step`` and the two
  products) through ``torch.compile`` (inductor, CPU), called once per step;
* ``torchscript``: the whole loop in ``torch.jit.script``.

Every variant is checked to give the eager network's spikes (count of differing spikes
reported). Usage::

    python scripts/bench_recurrent.py [--sizes 1000] [--batches 1 32] [--repeats 5]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from bench_core import timeit  # scripts/ is on sys.path when run as a script

from spikerl.core import LIF, DenseProjection, ExecutionMode, Input, Network, Uniform
from spikerl.core.neurons.lif import LIFParams, LIFState, lif_step
from spikerl.core.projections import LateralProjection


def build(n: int, inhibition: float, seed: int = 0) -> Network:
    g = torch.Generator().manual_seed(seed)
    net = Network(dt=1.0)
    net.add_population("input", Input(n))
    net.add_population("lif", LIF(n))
    net.connect("input", "lif", DenseProjection(n, n, Uniform(0.0, 0.3 * 1000 / n), generator=g))
    net.connect("lif", "lif", LateralProjection.inhibition(n, inhibition))
    return net


def poisson(steps: int, batch: int, n: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(n, generator=g) * 15.0 / 1000.0
    return (torch.rand(steps, batch, n, generator=g) < p).float()


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``fn`` over ``repeats`` runs after one warm-up."""
    return statistics.median(timeit(fn, repeats))


def functional_step(
    p: LIFParams,
) -> Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]:
    """One network step: input spikes arriving now and last step's own spikes -> LIF."""

    def step(
        x_in: Tensor, s_prev: Tensor, v: Tensor, refrac: Tensor, w_in: Tensor, w_lat: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        current = x_in @ w_in + s_prev @ w_lat
        s, st = lif_step(current, LIFState(v, refrac), p, 1.0)
        return s, st.v, st.refrac

    return step


Tensor = torch.Tensor


def run_loop(step: Callable[..., Any], x: Tensor, net: Network) -> Tensor:
    """Drive ``step`` over the window with the network's one-step delay."""
    T, B, n = x.shape
    w_in = net.projection("input->lif").weight.detach()
    w_lat = net.projection("lif->lif").weight.detach()
    p = net.population("lif").params
    v = torch.full((B, n), p.v_rest)
    refrac = torch.zeros(B, n)
    s = torch.zeros(B, n)
    x_prev = torch.zeros(B, n)
    out = torch.empty(T, B, n)
    for t in range(T):
        s, v, refrac = step(x_prev, s, v, refrac, w_in, w_lat)
        out[t] = s
        x_prev = x[t]
    return out


def scripted_loop(p: LIFParams) -> Any:
    a = math.exp(-1.0 / p.tau_mem)
    steps_refrac = float(p.refrac)

    @torch.jit.script
    def loop(
        x: Tensor,
        w_in: Tensor,
        w_lat: Tensor,
        v_rest: float,
        v_reset: float,
        v_thresh: float,
        a: float,
        refrac_steps: float,
    ) -> Tensor:
        T, B, n = x.shape[0], x.shape[1], x.shape[2]
        v = torch.full((B, n), v_rest)
        refrac = torch.zeros(B, n)
        s = torch.zeros(B, n)
        x_prev = torch.zeros(B, n)
        out = torch.empty(T, B, n)
        for t in range(T):
            current = x_prev @ w_in + s @ w_lat
            active = refrac <= 0  # spikerl.core.neurons.base.leaky_integrate, then fire
            v = v_rest + (v - v_rest) * a + torch.where(active, current, torch.zeros_like(current))
            refrac = (refrac - 1.0).clamp_min(0.0)
            fired = (v >= v_thresh) & active
            s = fired.to(v.dtype)
            v = torch.where(fired, torch.full_like(v, v_reset), v)
            refrac = torch.where(fired, torch.full_like(refrac, refrac_steps), refrac)
            out[t] = s
            x_prev = x[t]
        return out

    return loop, a, steps_refrac


def case(n: int, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    net = build(n, args.inhibition)
    x = poisson(args.steps, batch, n)
    res: dict[str, Any] = {"n": n, "batch": batch, "steps": args.steps}
    os.environ["SPIKERL_NO_KERNELS"] = "1"
    ref = net.run({"input": x}, mode=ExecutionMode.STEP)[0]["lif"]
    res["eager_s"] = median_time(lambda: net.run({"input": x}, mode=ExecutionMode.STEP), 3)
    os.environ["SPIKERL_NO_KERNELS"] = "0"
    got = net.run({"input": x})[0]["lif"]
    res["auto_s"] = median_time(lambda: net.run({"input": x}), args.repeats)
    res["auto_spike_diff"] = int((got != ref).sum())
    res["lif_rate_hz"] = float(ref.mean()) * 1000.0
    p = net.population("lif").params
    try:
        compiled = torch.compile(functional_step(p), dynamic=False)
        t0 = time.perf_counter()
        out = run_loop(compiled, x, net)
        res["torch_compile_first_call_s"] = time.perf_counter() - t0
        res["torch_compile_s"] = median_time(lambda: run_loop(compiled, x, net), args.repeats)
        res["torch_compile_spike_diff"] = int((out != ref).sum())
    except Exception as err:  # inductor needs a C++ compiler
        res["torch_compile_s"] = f"failed: {type(err).__name__}: {str(err)[:200]}"
    try:
        loop, a, rs = scripted_loop(p)
        w_in = net.projection("input->lif").weight.detach()
        w_lat = net.projection("lif->lif").weight.detach()
        args_ = (x, w_in, w_lat, p.v_rest, p.v_reset, p.v_thresh, a, rs)
        out = loop(*args_)
        res["torchscript_s"] = median_time(lambda: loop(*args_), args.repeats)
        res["torchscript_spike_diff"] = int((out != ref).sum())
    except Exception as err:
        res["torchscript_s"] = f"failed: {type(err).__name__}: {str(err)[:200]}"
    for k in ("auto_s", "torch_compile_s", "torchscript_s"):
        if isinstance(res.get(k), float):
            res[f"eager_over_{k[:-2]}"] = round(res["eager_s"] / res[k], 2)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--inhibition", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = {
        "machine": platform.processor() or platform.machine(),
        "threads": args.threads,
        "torch": torch.__version__,
        "cases": [],
    }
    for n in args.sizes:
        for b in args.batches:
            c = case(n, b, args)
            print(json.dumps(c), flush=True)
            out["cases"].append(c)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
