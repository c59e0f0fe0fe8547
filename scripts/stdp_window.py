"""Measure the STDP window of spikerl's pair rule by simulation; print JSON, save a plot.

Each postsynaptic neuron is forced to fire once at ``dt = t_post - t_arrival`` after the
single presynaptic spike arrives (the pre spike is emitted one network step earlier). The
measured weight change is compared with ``A+ exp(-dt/tau+)`` (dt >= 0) and
``-A- exp(dt/tau-)`` (dt < 0).

Usage:
    python scripts/stdp_window.py --out artifacts/stdp_window.png
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from spikerl.learning import MSTDP, PostPre
from spikerl.learning.window import measure_stdp_window


def expected(
    offsets: list[int], a_plus: float, a_minus: float, tp: float, tm: float
) -> list[float]:
    """The analytic pair window at each offset (ms, dt = 1 ms)."""
    return [a_plus * math.exp(-o / tp) if o >= 0 else -a_minus * math.exp(o / tm) for o in offsets]


def main() -> None:
    """Run the measurement and write the outputs."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("artifacts/stdp_window.png"))
    ap.add_argument("--a-plus", type=float, default=0.01)
    ap.add_argument("--a-minus", type=float, default=0.012)
    ap.add_argument("--tau-plus", type=float, default=20.0)
    ap.add_argument("--tau-minus", type=float, default=30.0)
    ap.add_argument("--span", type=int, default=50, help="largest |dt| (ms)")
    args = ap.parse_args()

    offsets = list(range(-args.span, args.span + 1))
    rule = PostPre(args.a_plus, args.a_minus, args.tau_plus, args.tau_minus)
    t0 = time.perf_counter()
    online = measure_stdp_window(rule, offsets, online=True).tolist()
    window = measure_stdp_window(rule, offsets, online=False).tolist()
    mstdp = measure_stdp_window(
        MSTDP(gamma=args.a_plus, tau_plus=args.tau_plus, tau_minus=args.tau_minus),
        offsets,
        modulation=1.0,
    ).tolist()
    seconds = time.perf_counter() - t0
    ref = expected(offsets, args.a_plus, args.a_minus, args.tau_plus, args.tau_minus)
    rel = max(abs(m - e) / abs(e) for m, e in zip(online, ref, strict=True))
    rel_w = max(abs(m - e) / abs(e) for m, e in zip(window, ref, strict=True))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.axhline(0.0, color="0.7", lw=0.8)
    ax.axvline(0.0, color="0.7", lw=0.8)
    ax.plot(offsets, ref, "-", color="0.3", lw=1.0, label="analytic")
    ax.plot(offsets, online, "o", ms=3, label="PostPre, online (simulated)")
    ax.plot(offsets, window, "x", ms=3, label="PostPre, window (simulated)")
    ax.plot(offsets, mstdp, ".", ms=3, label="MSTDP, r = +1 (A- = -A+)")
    ax.set_xlabel("dt = t_post - t_arrival (ms)  [t_arrival = t_emit + 1 step]")
    ax.set_ylabel("weight change")
    ax.set_title("STDP window measured by simulation")
    ax.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    plt.close(fig)

    print(
        json.dumps(
            {
                "rule": "PostPre",
                "a_plus": args.a_plus,
                "a_minus": args.a_minus,
                "tau_plus_ms": args.tau_plus,
                "tau_minus_ms": args.tau_minus,
                "dt_ms": 1.0,
                "convention": "dt = t_post - t_arrival; t_arrival = t_emit + 1 step",
                "offsets_ms": offsets,
                "dw_online": online,
                "dw_window": window,
                "dw_mstdp_reward_1": mstdp,
                "max_rel_error_online": rel,
                "max_rel_error_window": rel_w,
                "torch": torch.__version__,
                "seconds": round(seconds, 3),
                "plot": str(args.out),
            }
        )
    )


if __name__ == "__main__":
    main()
