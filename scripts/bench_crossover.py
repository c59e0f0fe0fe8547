"""Measured density crossovers behind the hand-set constants that pick fast paths.

Four constants choose between an event-driven (or compiled, fused) path and a dense one by
the density of the spikes at hand. For each, this script times both paths over a list of
densities and reports where the event-driven path stops being faster, next to the
constant's current value:

1. ``spikerl.core.projections.EVENT_ROWS_MAX_DENSITY`` (``event_rows``): the compiled
   event-driven product ``kernels.event_matmul_rows(x, w)`` (one weight row added per
   non-zero input) against dense ``x @ w``, for Bernoulli(d) spikes ``x [R, n]`` over many
   rows (a window) and weights ``w [n, n]``.
2. ``spikerl.core.projections.SPARSE_ACTIVE_FRACTION`` (``sparse_gather``): for a single
   step of ``B`` rows, the gather product ``x.index_select(1, active) @
   w.index_select(0, active)`` (the active set computed beforehand: ``event_matmul``
   computes it before choosing either path) against ``x @ w``, versus the fraction of
   inputs active in any row. Spikes are Bernoulli(p) with ``p = 1 - (1 - f)^(1 / B)`` so
   that a fraction ``f`` of the inputs is active on average. For ``B > 1`` the compiled
   row kernel is timed too (``event_rows_s``, for information): ``event_matmul`` tries it
   first when at most ``EVENT_ROWS_MAX_DENSITY`` of the entries are non-zero.
3. ``spikerl.core.network.FUSED_MAX_DENSITY`` (``fused_network``): an ``Input(n) ->
   LIF(n)`` network with a dense projection, run in window mode over ``T`` steps, through
   the compiled whole-network loop (``Propagation.AUTO`` with the constant temporarily
   set to 1.0) against dense window products and neuron scans (``Propagation.DENSE``).
4. ``spikerl.learning.pair_events.MAX_PRE_DENSITY`` (``pair_stdp``): window pair STDP
   event-driven over presynaptic spikes (``pair_stdp_window``, the constant temporarily
   set to 1.0) against the generic path (``compute_activity`` then ``PostPre.delta``), for
   Bernoulli(d) presynaptic and Bernoulli(0.02) postsynaptic spikes.

Each time is the median over ``--repeats`` repeats after one warm-up call, measured with
``time.perf_counter``; short calls are looped so that a repeat lasts at least
``--min-time`` seconds and reported per call. Per point, ``dense_over_event`` is the time
of the dense (or generic) path over that of the event-driven (or fused) path: above 1 the
event-driven path wins. Per case, ``crossover`` gives the largest tested density at which
the event-driven path is still faster (``last_event_faster``), the first at which it is
not (``first_event_not_faster``), a log-linear interpolation of where the ratio crosses 1,
and the constant's current value. Once the event-driven path has lost at ``--stop-after``
consecutive densities the higher ones are skipped (listed in ``skipped``).

The compiled kernels are single-threaded (numba); ``--threads`` sets torch's threads, which
only the dense products use, so the crossovers move down as threads are added.

One JSON line is printed per decision as it finishes, then the whole document (with the
machine's description). Needs the compiled kernels (numba, ``SPIKERL_NO_KERNELS`` unset).

Usage:
  python scripts/bench_crossover.py [--repeats 5] [--threads 1] [--out results/bench_crossover.json]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import contextlib
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from benchnets import poisson_lif_network as build_network

import spikerl.core.network as network_mod
import spikerl.learning.pair_events as pair_events_mod
from spikerl.core import (
    DenseProjection,
    ExecutionMode,
    Network,
    Propagation,
    kernels,
)
from spikerl.core import projections as projections_mod
from spikerl.learning import PostPre
from spikerl.learning.activity import Reduction, TraceState, compute_activity

DENSITIES: tuple[float, ...] = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)
QUICK_DENSITIES: tuple[float, ...] = (0.005, 0.02, 0.05, 0.1, 0.3)
EXTRA_FRACTIONS: tuple[float, ...] = (0.4, 0.5, 0.7)
QUICK_EXTRA_FRACTIONS: tuple[float, ...] = (0.5,)
DECISIONS: tuple[str, ...] = ("event_rows", "sparse_gather", "fused_network", "pair_stdp")

#: STDP amplitudes of the pair-STDP decision (their values do not change the cost).
A_PLUS = 1e-4
A_MINUS = 1e-2


@dataclass(frozen=True)
class Config:
    """Sizes and settings of one run.

    Attributes:
        densities: Spike densities tested (decisions 1, 3 and 4).
        fractions: Active fractions tested (decision 2).
        rows: Rows ``R`` of the window product (decision 1).
        rows_sizes: ``n_in = n_out`` of the window product.
        gather_sizes: ``n_in = n_out`` of the single-step product (decision 2).
        gather_batches: Rows ``B`` of the single-step product.
        net_sizes: Population size ``n`` of the network (decision 3).
        net_batches: Batch sizes of the network.
        net_steps: Steps ``T`` of the network's window.
        stdp_steps: Steps ``T`` of the STDP window (decision 4).
        stdp_pre_sizes: Presynaptic sizes of the STDP projection.
        stdp_post: Postsynaptic size of the STDP projection.
        stdp_post_density: Density of the postsynaptic spikes.
        repeats: Timed repeats per measurement (the median is reported).
        min_time: Shortest duration of one repeat (short calls are looped), seconds.
        stop_after: Skip the higher densities of a case once the event-driven path has lost
            at this many consecutive densities (0: never).
        seed: Base seed of the random spikes and weights.
    """

    densities: tuple[float, ...]
    fractions: tuple[float, ...]
    rows: int
    rows_sizes: tuple[int, ...]
    gather_sizes: tuple[int, ...]
    gather_batches: tuple[int, ...]
    net_sizes: tuple[int, ...]
    net_batches: tuple[int, ...]
    net_steps: int
    stdp_steps: int
    stdp_pre_sizes: tuple[int, ...]
    stdp_post: int
    stdp_post_density: float
    repeats: int
    min_time: float
    stop_after: int
    seed: int


@dataclass(frozen=True)
class Timing:
    """Per-call wall time of a function.

    Attributes:
        median_s: Median over the repeats, seconds per call.
        min_s: Fastest repeat, seconds per call.
        number: Calls per timed repeat.
        output: What the warm-up call returned (for correctness checks).
    """

    median_s: float
    min_s: float
    number: int
    output: Any


def measure(fn: Callable[[], Any], repeats: int, min_time: float) -> Timing:
    """Time ``fn`` after one warm-up call.

    The first call after the warm-up calibrates how many calls one repeat needs to last
    at least ``min_time``; when a single call already does, it counts as the first repeat.

    Args:
        fn: The call to time.
        repeats: Number of timed repeats.
        min_time: Shortest duration of a repeat, seconds.

    Returns:
        The per-call timing and the warm-up call's output.
    """
    output = fn()
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    samples: list[float] = []
    if first >= min_time:
        number = 1
        samples.append(first)
    else:
        number = min(100_000, max(1, math.ceil(min_time / max(first, 1e-9))))
    while len(samples) < repeats:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return Timing(statistics.median(samples), min(samples), number, output)


@contextlib.contextmanager
def patched(module: Any, name: str, value: Any) -> Iterator[None]:
    """Temporarily set ``module.name`` to ``value`` (restored on exit, even on error).

    Args:
        module: Module (or object) holding the attribute.
        name: Attribute name.
        value: Temporary value.

    Yields:
        Nothing; the attribute is patched inside the ``with`` block.
    """
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def spikes(shape: Sequence[int], p: float, g: torch.Generator) -> torch.Tensor:
    """Bernoulli(``p``) spikes (0/1, float32) of the given shape."""
    return (torch.rand(*shape, generator=g) < p).float()


def weights(n_in: int, n_out: int, g: torch.Generator, high: float = 0.3) -> torch.Tensor:
    """Weights U(0, ``high``) ``[n_in, n_out]``, float32."""
    return torch.rand(n_in, n_out, generator=g) * high


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference of ``a`` and ``b`` over the largest magnitude of ``b``."""
    scale = float(b.abs().max()) or 1.0
    return float((a - b).abs().max()) / scale


def crossover(points: list[dict[str, Any]], key: str, current: float) -> dict[str, Any]:
    """Where the event-driven path stops being faster along ``key``.

    Args:
        points: Measured points, each with ``key``, ``event_faster`` and
            ``dense_over_event``, in increasing ``key``.
        key: Name of the density axis (``"density"`` or ``"active_fraction"``).
        current: The constant's current value.

    Returns:
        ``last_event_faster`` (largest tested level where the event-driven path wins, or
        ``None``), ``first_event_not_faster`` (smallest level where it does not, or
        ``None``), ``monotone`` (every win below every loss), ``interpolated`` (level where
        the log of the ratio crosses 0 between the two, when monotone and both exist) and
        ``current_value``.
    """
    wins = [p[key] for p in points if p["event_faster"]]
    losses = [p[key] for p in points if not p["event_faster"]]
    last_win = max(wins) if wins else None
    first_loss = min(losses) if losses else None
    monotone = last_win is None or first_loss is None or last_win < first_loss
    interpolated: float | None = None
    if monotone and last_win is not None and first_loss is not None:
        r1 = next(p["dense_over_event"] for p in points if p[key] == last_win)
        r2 = next(p["dense_over_event"] for p in points if p[key] == first_loss)
        l1, l2 = math.log(r1), math.log(r2)
        frac = l1 / (l1 - l2) if l1 != l2 else 0.5
        interpolated = round(last_win + (first_loss - last_win) * frac, 5)
    return {
        "last_event_faster": last_win,
        "first_event_not_faster": first_loss,
        "monotone": monotone,
        "interpolated": interpolated,
        "current_value": current,
    }


def sweep(
    levels: Sequence[float],
    run_point: Callable[[float], dict[str, Any]],
    key: str,
    current: float,
    stop_after: int,
) -> dict[str, Any]:
    """Measure ``run_point`` at increasing ``levels`` and locate the crossover.

    Args:
        levels: Densities (or active fractions), increasing.
        run_point: Measures one level; returns at least ``event_s`` and ``dense_s``.
        key: Name of the level in each point.
        current: The constant's current value (``AUTO`` takes the event-driven path at
            levels ``<= current``).
        stop_after: Stop after this many consecutive losses of the event-driven path
            (0: never).

    Returns:
        ``{"points": [...], "skipped": [...], "crossover": {...}}``.
    """
    points: list[dict[str, Any]] = []
    skipped: list[float] = []
    losses = 0
    for i, level in enumerate(levels):
        if stop_after > 0 and losses >= stop_after:
            skipped = list(levels[i:])
            break
        p: dict[str, Any] = {key: level, **run_point(level)}
        p["dense_over_event"] = round(p["dense_s"] / p["event_s"], 4)
        p["event_faster"] = p["event_s"] < p["dense_s"]
        p["auto_picks_event"] = level <= current
        p["auto_picks_faster"] = p["auto_picks_event"] == p["event_faster"]
        losses = 0 if p["event_faster"] else losses + 1
        points.append(p)
    return {"points": points, "skipped": skipped, "crossover": crossover(points, key, current)}


def _rounded(t: Timing) -> float:
    return float(f"{t.median_s:.6g}")


# -- decision 1: EVENT_ROWS_MAX_DENSITY --------------------------------------------------
def bench_event_rows(cfg: Config) -> dict[str, Any]:
    """Window product: compiled event-driven rows against dense ``x @ w``.

    Args:
        cfg: Sizes and settings.

    Returns:
        The decision's results (one case per size).
    """
    current = projections_mod.EVENT_ROWS_MAX_DENSITY
    cases = []
    for n in cfg.rows_sizes:
        g = torch.Generator().manual_seed(cfg.seed + n)
        w = weights(n, n, g)
        t_case = time.perf_counter()

        def point(
            d: float, n: int = n, w: torch.Tensor = w, g: torch.Generator = g
        ) -> dict[str, Any]:
            x = spikes((cfg.rows, n), d, g)
            ev = measure(lambda: kernels.event_matmul_rows(x, w), cfg.repeats, cfg.min_time)
            if ev.output is None:
                raise RuntimeError("kernels.event_matmul_rows declined (kernels unusable)")
            de = measure(lambda: x @ w, cfg.repeats, cfg.min_time)
            return {
                "measured_density": round(float(x.mean()), 5),
                "event_s": _rounded(ev),
                "dense_s": _rounded(de),
                "rel_diff": float(f"{rel_diff(ev.output, de.output):.3g}"),
            }

        res = sweep(cfg.densities, point, "density", current, cfg.stop_after)
        case = {"rows": cfg.rows, "n_in": n, "n_out": n, **res}
        case["elapsed_s"] = round(time.perf_counter() - t_case, 2)
        cases.append(case)
    return {
        "decision": "event_rows",
        "constant": "spikerl.core.projections.EVENT_ROWS_MAX_DENSITY",
        "current_value": current,
        "axis": "density",
        "event_path": "kernels.event_matmul_rows(x, w), x [R, n_in] Bernoulli(density)",
        "dense_path": "x @ w",
        "cases": cases,
    }


# -- decision 2: SPARSE_ACTIVE_FRACTION --------------------------------------------------
def bench_sparse_gather(cfg: Config) -> dict[str, Any]:
    """Single step: gather the active inputs' rows against dense ``x @ w``.

    Args:
        cfg: Sizes and settings.

    Returns:
        The decision's results (one case per size and batch).
    """
    current = projections_mod.SPARSE_ACTIVE_FRACTION
    cases = []
    for n in cfg.gather_sizes:
        g = torch.Generator().manual_seed(cfg.seed + 10 * n + 1)
        w = weights(n, n, g)
        for batch in cfg.gather_batches:
            t_case = time.perf_counter()

            def point(
                f: float, n: int = n, batch: int = batch, w: torch.Tensor = w
            ) -> dict[str, Any]:
                gp = torch.Generator().manual_seed(cfg.seed + int(f * 1e6) + batch + n)
                p = 1.0 - (1.0 - f) ** (1.0 / batch)
                x = spikes((batch, n), p, gp)
                active = x.any(dim=0).nonzero().squeeze(1)

                def gather() -> torch.Tensor:
                    return x.index_select(1, active) @ w.index_select(0, active)

                def active_set() -> torch.Tensor:
                    return x.any(dim=0).nonzero().squeeze(1)

                ev = measure(gather, cfg.repeats, cfg.min_time)
                de = measure(lambda: x @ w, cfg.repeats, cfg.min_time)
                act = measure(active_set, cfg.repeats, cfg.min_time)
                out: dict[str, Any] = {
                    "measured_active_fraction": round(active.numel() / n, 5),
                    "entry_density": round(float(x.mean()), 5),
                    "event_s": _rounded(ev),
                    "dense_s": _rounded(de),
                    "active_set_s": _rounded(act),
                    "rel_diff": float(f"{rel_diff(ev.output, de.output):.3g}"),
                }
                if batch > 1:
                    rows = measure(
                        lambda: kernels.event_matmul_rows(x, w), cfg.repeats, cfg.min_time
                    )
                    out["event_rows_s"] = _rounded(rows)
                return out

            res = sweep(cfg.fractions, point, "active_fraction", current, cfg.stop_after)
            case = {"batch": batch, "n_in": n, "n_out": n, **res}
            case["elapsed_s"] = round(time.perf_counter() - t_case, 2)
            cases.append(case)
    return {
        "decision": "sparse_gather",
        "constant": "spikerl.core.projections.SPARSE_ACTIVE_FRACTION",
        "current_value": current,
        "axis": "active_fraction",
        "event_path": "x.index_select(1, active) @ w.index_select(0, active), x [B, n_in]",
        "dense_path": "x @ w",
        "note": (
            "active set precomputed (event_matmul computes it before choosing; active_set_s "
            "is its cost). Entries are Bernoulli(1 - (1 - f)^(1/B)). For B > 1, "
            "event_matmul first tries kernels.event_matmul_rows (event_rows_s) when the "
            "entry density is <= EVENT_ROWS_MAX_DENSITY."
        ),
        "cases": cases,
    }


# -- decision 3: FUSED_MAX_DENSITY -------------------------------------------------------
def fused_calls(net: Network, x: torch.Tensor, propagation: Propagation) -> int:
    """How many times a window run enters the compiled network loop and it accepts.

    Args:
        net: The network.
        x: Input spikes ``[T, B, n]``.
        propagation: Propagation of the run (window mode).

    Returns:
        Number of windows run on the compiled plan (:mod:`spikerl.core.backends`).
    """
    from spikerl.core.backends import CompiledPlan

    taken = 0
    original = CompiledPlan.run_window

    def counting(self: CompiledPlan, *args: Any, **kwargs: Any) -> Any:
        nonlocal taken
        taken += 1
        return original(self, *args, **kwargs)

    with patched(CompiledPlan, "run_window", counting):
        net.run({"input": x}, mode=ExecutionMode.WINDOW, propagation=propagation)
    return taken


def bench_fused_network(cfg: Config) -> dict[str, Any]:
    """Feed-forward window: compiled whole-network loop against dense window products.

    Args:
        cfg: Sizes and settings.

    Returns:
        The decision's results (one case per size and batch).
    """
    current = network_mod.FUSED_MAX_DENSITY
    cases = []
    for n in cfg.net_sizes:
        net = build_network(n, cfg.seed)
        for batch in cfg.net_batches:
            t_case = time.perf_counter()

            def point(
                d: float, n: int = n, batch: int = batch, net: Network = net
            ) -> dict[str, Any]:
                g = torch.Generator().manual_seed(cfg.seed + int(d * 1e6) + batch + n)
                x = spikes((cfg.net_steps, batch, n), d, g)
                probe = x[: min(cfg.net_steps, 50)]
                with patched(network_mod, "FUSED_MAX_DENSITY", 1.0):
                    if fused_calls(net, probe, Propagation.AUTO) != 1:
                        raise RuntimeError("the compiled network loop was not taken")
                    ev = measure(
                        lambda: net.run({"input": x}, mode=ExecutionMode.WINDOW),
                        cfg.repeats,
                        cfg.min_time,
                    )
                if fused_calls(net, probe, Propagation.DENSE) != 0:
                    raise RuntimeError("the dense window path entered the compiled loop")
                de = measure(
                    lambda: net.run(
                        {"input": x}, mode=ExecutionMode.WINDOW, propagation=Propagation.DENSE
                    ),
                    cfg.repeats,
                    cfg.min_time,
                )
                s_ev, s_de = ev.output[0]["lif"], de.output[0]["lif"]
                return {
                    "measured_density": round(float(x.mean()), 5),
                    "event_s": _rounded(ev),
                    "dense_s": _rounded(de),
                    "lif_rate_hz": round(float(s_de.mean()) * 1000.0 / net.dt, 2),
                    "same_spikes": bool(torch.equal(s_ev, s_de)),
                }

            res = sweep(cfg.densities, point, "density", current, cfg.stop_after)
            case = {"n": n, "batch": batch, "steps": cfg.net_steps, **res}
            case["elapsed_s"] = round(time.perf_counter() - t_case, 2)
            cases.append(case)
    return {
        "decision": "fused_network",
        "constant": "spikerl.core.network.FUSED_MAX_DENSITY",
        "current_value": current,
        "axis": "density",
        "event_path": "Input(n) -> LIF(n), window mode, Propagation.AUTO, compiled network loop",
        "dense_path": "Input(n) -> LIF(n), window mode, Propagation.DENSE",
        "note": "same_spikes may be false: the paths sum currents in different orders",
        "cases": cases,
    }


# -- decision 4: MAX_PRE_DENSITY ---------------------------------------------------------
def bench_pair_stdp(cfg: Config) -> dict[str, Any]:
    """Window pair STDP: event-driven over presynaptic spikes against the generic path.

    Args:
        cfg: Sizes and settings.

    Returns:
        The decision's results (one case per presynaptic size).
    """
    current = pair_events_mod.MAX_PRE_DENSITY
    rule = PostPre(a_plus=A_PLUS, a_minus=A_MINUS)
    batch = 1
    cases = []
    for n_pre in cfg.stdp_pre_sizes:
        g = torch.Generator().manual_seed(cfg.seed + n_pre)
        proj = DenseProjection(n_pre, cfg.stdp_post, weight=weights(n_pre, cfg.stdp_post, g))
        t_case = time.perf_counter()

        def generic(
            pre: torch.Tensor,
            post: torch.Tensor,
            traces: TraceState,
            proj: DenseProjection = proj,
        ) -> tuple[torch.Tensor, TraceState]:
            act, new = compute_activity(
                proj, pre, post, rule.pre_trace, rule.post_trace, 1.0, traces
            )
            return rule.delta(proj, act, reduction=Reduction.MEAN).dw, new

        def point(d: float, n_pre: int = n_pre, proj: DenseProjection = proj) -> dict[str, Any]:
            gp = torch.Generator().manual_seed(cfg.seed + int(d * 1e6) + n_pre)
            shape_post = (cfg.stdp_steps, batch, cfg.stdp_post)
            pre = spikes((cfg.stdp_steps, batch, n_pre), d, gp)
            post = spikes(shape_post, cfg.stdp_post_density, gp)
            # Traces carried in from a previous window, as in training.
            _, traces = generic(
                spikes((cfg.stdp_steps, batch, n_pre), d, gp),
                spikes(shape_post, cfg.stdp_post_density, gp),
                TraceState(torch.zeros(batch, n_pre), torch.zeros(batch, cfg.stdp_post)),
            )

            def event() -> tuple[torch.Tensor, TraceState] | None:
                return pair_events_mod.pair_stdp_window(
                    proj,
                    pre,
                    post,
                    rule.pre_trace,
                    rule.post_trace,
                    A_PLUS,
                    A_MINUS,
                    1.0,
                    traces,
                    Reduction.MEAN,
                )

            with patched(pair_events_mod, "MAX_PRE_DENSITY", 1.0):
                ev = measure(event, cfg.repeats, cfg.min_time)
            if ev.output is None:
                raise RuntimeError("pair_stdp_window declined (kernels unusable)")
            de = measure(lambda: generic(pre, post, traces), cfg.repeats, cfg.min_time)
            return {
                "measured_density": round(float(pre.mean()), 5),
                "event_s": _rounded(ev),
                "dense_s": _rounded(de),
                "rel_diff": float(f"{rel_diff(ev.output[0], de.output[0]):.3g}"),
            }

        res = sweep(cfg.densities, point, "density", current, cfg.stop_after)
        case = {
            "steps": cfg.stdp_steps,
            "batch": batch,
            "n_pre": n_pre,
            "n_post": cfg.stdp_post,
            "post_density": cfg.stdp_post_density,
            **res,
        }
        case["elapsed_s"] = round(time.perf_counter() - t_case, 2)
        cases.append(case)
    return {
        "decision": "pair_stdp",
        "constant": "spikerl.learning.pair_events.MAX_PRE_DENSITY",
        "current_value": current,
        "axis": "density",
        "event_path": "pair_stdp_window (event-driven over presynaptic spikes)",
        "dense_path": "compute_activity + PostPre.delta (generic)",
        "cases": cases,
    }


BENCHES: dict[str, Callable[[Config], dict[str, Any]]] = {
    "event_rows": bench_event_rows,
    "sparse_gather": bench_sparse_gather,
    "fused_network": bench_fused_network,
    "pair_stdp": bench_pair_stdp,
}


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """Crossovers of a decision's cases side by side with its constant.

    Args:
        result: A decision's results.

    Returns:
        ``last_event_faster`` / ``first_event_not_faster`` over the cases (min and max)
        and the number of measured points where the current constant picks the slower path.
    """
    wins = [c["crossover"]["last_event_faster"] for c in result["cases"]]
    losses = [c["crossover"]["first_event_not_faster"] for c in result["cases"]]
    known_wins = [w for w in wins if w is not None]
    known_losses = [x for x in losses if x is not None]
    wrong = [
        {k: p[k] for k in (result["axis"], "dense_over_event")} | {"case": i}
        for i, c in enumerate(result["cases"])
        for p in c["points"]
        if not p["auto_picks_faster"]
    ]
    return {
        "current_value": result["current_value"],
        "last_event_faster_range": [min(known_wins), max(known_wins)] if known_wins else None,
        "first_event_not_faster_range": (
            [min(known_losses), max(known_losses)] if known_losses else None
        ),
        "auto_picks_slower_at": wrong,
    }


def machine_info() -> dict[str, Any]:
    """Platform, processor, library versions and threads of this run."""
    import numba

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numba": numba.__version__,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` atomically (a temporary file, then ``os.replace``).

    Args:
        path: Destination file; its folder is created if needed.
        doc: JSON-serialisable document.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def make_config(args: argparse.Namespace) -> Config:
    """Sizes for a full run, or small ones with ``--quick``.

    Args:
        args: Parsed command line.

    Returns:
        The run's configuration.
    """
    quick = bool(args.quick)
    dens = QUICK_DENSITIES if quick else DENSITIES
    extra = QUICK_EXTRA_FRACTIONS if quick else EXTRA_FRACTIONS
    return Config(
        densities=dens,
        fractions=tuple(sorted({*dens, *extra})),
        rows=200 if quick else 1000,
        rows_sizes=(500,) if quick else (1000, 4000),
        gather_sizes=(500,) if quick else (1000, 4000),
        gather_batches=(1, 8) if quick else (1, 32),
        net_sizes=(500,) if quick else (1000,),
        net_batches=(1, 8) if quick else (1, 32),
        net_steps=200 if quick else 1000,
        stdp_steps=100 if quick else 250,
        stdp_pre_sizes=(784,) if quick else (784, 1000),
        stdp_post=200 if quick else 400,
        stdp_post_density=0.02,
        repeats=args.repeats,
        min_time=args.min_time if args.min_time is not None else (0.005 if quick else 0.02),
        stop_after=args.stop_after,
        seed=args.seed,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line of the benchmark.

    Args:
        argv: Arguments (``None``: ``sys.argv[1:]``).

    Returns:
        The parsed arguments.
    """
    ap = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats (median reported)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--quick", action="store_true", help="fewer densities, smaller sizes")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    ap.add_argument(
        "--decisions",
        nargs="+",
        choices=DECISIONS,
        default=list(DECISIONS),
        help="which decisions to measure",
    )
    ap.add_argument(
        "--min-time",
        type=float,
        default=None,
        help="shortest repeat in seconds, short calls looped (None: 0.02; 0.005 with --quick)",
    )
    ap.add_argument(
        "--stop-after",
        type=int,
        default=2,
        help="skip higher densities after this many consecutive event-path losses (0: never)",
    )
    ap.add_argument("--seed", type=int, default=0, help="base seed of spikes and weights")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    if args.threads < 1:
        ap.error("--threads must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected decisions, print JSON lines and the full document.

    Args:
        argv: Command line (``None``: ``sys.argv[1:]``).

    Returns:
        Exit status.
    """
    args = parse_args(argv)
    if not kernels.enabled():
        print(
            "compiled kernels unavailable (numba missing or SPIKERL_NO_KERNELS set)",
            file=sys.stderr,
        )
        return 2
    torch.set_num_threads(args.threads)
    cfg = make_config(args)
    t_start = time.perf_counter()
    results = []
    with torch.no_grad():
        for name in args.decisions:
            t0 = time.perf_counter()
            result = BENCHES[name](cfg)
            result["summary"] = summarize(result)
            result["elapsed_s"] = round(time.perf_counter() - t0, 2)
            results.append(result)
            print(json.dumps(result), flush=True)
    doc = {
        "benchmark": "crossover",
        "machine": machine_info(),
        "settings": {
            "quick": bool(args.quick),
            "repeats": cfg.repeats,
            "min_time_s": cfg.min_time,
            "stop_after": cfg.stop_after,
            "seed": cfg.seed,
            "timing": "median per-call time over repeats after one warm-up (perf_counter)",
        },
        "decisions": results,
        "elapsed_s": round(time.perf_counter() - t_start, 2),
    }
    print(json.dumps(doc, indent=1), flush=True)
    if args.out is not None:
        write_json(args.out, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
