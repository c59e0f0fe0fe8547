"""Write example figures of :mod:`spikerl.plotting` from synthetic data; print JSON.

Usage::

    python scripts/plot_examples.py --out artifacts/plots/ [--seed 0]

Data (all from one seeded ``torch.Generator``):

* a fake digit "0" (a ring) Poisson-encoded over 250 steps of 1 ms, rate = pixel * 63.75 Hz;
* a toy LIF layer (tau 100 ms, rest -65 mV, threshold -52 mV) driven by those spikes;
* a random raster, random dense / receptive-field / conv weights, a noisy learning curve;
* the analytic pair-based STDP window ``A+ exp(-dt/tau+)`` / ``-A- exp(dt/tau-)``.

Also runs the 250-step toy loop with a :class:`LivePlot` redrawing every 100 steps into
``<out>/live/`` and reports its overhead.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from torch import Tensor

from spikerl.plotting import (
    LivePlot,
    conv_kernels,
    figure_to_array,
    firing_rates,
    input_spikes,
    learning_curve,
    receptive_fields,
    save_figure,
    spike_raster,
    state_traces,
    stdp_window,
    weight_matrix,
)

T_STEPS = 250
DT_MS = 1.0


def fake_digit(gen: torch.Generator) -> Tensor:
    """A 28x28 ring ("0") with intensities in [0, 1] plus a little noise."""
    y, x = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    r = torch.sqrt(((x - 13.5) / 0.75) ** 2 + (y - 13.5) ** 2)
    ring = torch.exp(-((r - 8.5) ** 2) / (2 * 1.6**2))
    noise = 0.15 * torch.rand(28, 28, generator=gen)
    return (ring + noise * (ring > 0.2)).clamp(0, 1)


def poisson(image: Tensor, gen: torch.Generator, max_rate_hz: float = 63.75) -> Tensor:
    """Bernoulli spikes ``[T, 1, 1, 28, 28]`` with p = rate * dt per step."""
    p = (image * max_rate_hz * DT_MS / 1000.0).expand(T_STEPS, 1, 1, 28, 28)
    return torch.rand(p.shape, generator=gen) < p


def toy_lif(
    inputs: Tensor, w: Tensor, live: LivePlot | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """``tau dv/dt = (v_rest - v) + I``, spikes at v >= threshold, reset to v_rest.

    Args:
        inputs: Input spikes ``[T, 1, n_in]``.
        w: Weights ``[n_in, n_out]`` in mV per spike.
        live: Optional live plot fed every step (it redraws only when due).

    Returns:
        ``(spikes [T, 1, n_out], v [T, 1, n_out], theta [T, 1, n_out])``.
    """
    tau, v_rest, v_th0 = 100.0, -65.0, -52.0
    v = torch.full((1, w.shape[1]), v_rest)
    theta = torch.zeros_like(v)
    rec_s, rec_v, rec_th = [], [], []
    for t in range(inputs.shape[0]):
        v = v + DT_MS / tau * (v_rest - v) + inputs[t].float() @ w
        s = v >= v_th0 + theta
        v = torch.where(s, torch.full_like(v, v_rest), v)
        theta = theta * math.exp(-DT_MS / 50.0) + 2.0 * s.float()
        rec_s.append(s)
        rec_v.append(v)
        rec_th.append(v_th0 + theta)
        if live is not None and live.due(t + 1):
            live.update(t + 1, spikes=torch.stack(rec_s), v=torch.stack(rec_v))
    return torch.stack(rec_s), torch.stack(rec_v), torch.stack(rec_th)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("artifacts/plots"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats of the live run")
    args = parser.parse_args()
    out: Path = args.out
    gen = torch.Generator().manual_seed(args.seed)
    paths: dict[str, str] = {}

    def save(name: str, fig: object) -> None:
        from matplotlib.figure import Figure

        assert isinstance(fig, Figure)
        paths[name] = str(save_figure(fig, out / f"{name}.png", dpi=110))

    digit = fake_digit(gen)
    spikes_in = poisson(digit, gen)
    save("input_spikes", input_spikes(spikes_in, dt=DT_MS, title="Poisson-encoded fake digit"))

    raster = torch.rand(T_STEPS, 2, 60, generator=gen) < 0.03
    save("spike_raster", spike_raster(raster, dt=DT_MS, batch_index=1))

    n_out = 8
    w_in = 0.3 * torch.rand(784, n_out, generator=gen)
    flat_in = spikes_in.reshape(T_STEPS, 1, 784)
    out_s, out_v, out_th = toy_lif(flat_in, w_in)
    save("state_traces", state_traces(out_v, neurons=3, threshold=out_th, title="toy LIF"))
    save(
        "firing_rates",
        firing_rates({"input": flat_in, "output": out_s, "random": raster}, DT_MS, 20.0),
    )

    w_dense = torch.randn(40, 30, generator=gen) * 0.5
    save("weight_matrix", weight_matrix(w_dense))

    centres = torch.rand(25, 2, generator=gen) * 20 + 4
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    blobs = torch.exp(
        -((yy[None] - centres[:, 0, None, None]) ** 2 + (xx[None] - centres[:, 1, None, None]) ** 2)
        / (2 * 3.0**2)
    )
    fields = (blobs + 0.1 * torch.rand(25, 28, 28, generator=gen)).reshape(25, 784).T
    save("receptive_fields", receptive_fields(fields, (28, 28)))

    ky, kx = torch.meshgrid(torch.linspace(-1, 1, 7), torch.linspace(-1, 1, 7), indexing="ij")
    angles = torch.arange(8) * math.pi / 8
    gabor = torch.stack(
        [
            torch.exp(-(kx**2 + ky**2) / 0.3) * torch.cos(6 * (kx * math.cos(a) + ky * math.sin(a)))
            for a in angles.tolist()
        ]
    )
    kernels = torch.stack([gabor, -0.5 * gabor], dim=1)  # [8, 2, 7, 7]
    save("conv_kernels", conv_kernels(kernels))

    episodes = torch.arange(300.0)
    returns = 20 + 400 * (1 - torch.exp(-episodes / 80)) + 40 * torch.randn(300, generator=gen)
    save("learning_curve", learning_curve(returns, window=20, label="R-STDP (synthetic)"))

    dt_ms = torch.linspace(-60, 60, 121)
    a_plus, a_minus, tau_plus, tau_minus = 1e-2, 1.05e-2, 20.0, 20.0
    dw = torch.where(
        dt_ms > 0, a_plus * torch.exp(-dt_ms / tau_plus), -a_minus * torch.exp(dt_ms / tau_minus)
    )
    dw[dt_ms == 0] = 0.0
    save("stdp_window", stdp_window(dt_ms, dw, label="pair-based, tau 20 ms"))

    # Live mode: the same loop, redrawn every 100 steps, against a plain run. Each is
    # repeated and the fastest run kept, to be robust to a busy machine.
    torch.set_num_threads(1)  # a tiny loop: extra threads only add noise on a busy machine
    plain_runs, live_runs, redraw_runs = [], [], []
    live = None
    for rep in range(args.repeats):
        t0 = time.perf_counter()
        toy_lif(flat_in, w_in)
        plain_runs.append(time.perf_counter() - t0)
        live = LivePlot(every_steps=100, frame_dir=out / "live", title=f"toy LIF (run {rep})")
        t0 = time.perf_counter()
        toy_lif(flat_in, w_in, live)
        live_runs.append(time.perf_counter() - t0)
        redraw_runs.append(live.redraw_seconds / max(live.n_redraws, 1))
        live.close()
    assert live is not None
    plain_s, live_s = min(plain_runs), min(live_runs)
    probe = LivePlot(every_steps=100, frame_dir=out / "live")
    n_probe = 100_000
    t0 = time.perf_counter()
    for t in range(n_probe):
        probe.due(t % 100)  # never due: the cost paid on steps without a redraw
    due_s = (time.perf_counter() - t0) / n_probe
    per_redraw = min(redraw_runs)
    rgb = figure_to_array(input_spikes(spikes_in))

    report = {
        "paths": paths,
        "live": {
            "frames": [str(p) for p in live.frames],
            "headless": live.headless,
            "steps": T_STEPS,
            "every_steps": 100,
            "repeats": args.repeats,
            "seconds_per_redraw": per_redraw,
            "seconds_per_due_check": due_s,
            "redraws_per_run": live.n_redraws,
            "loop_seconds_plain": plain_s,
            "loop_seconds_live": live_s,
            "overhead_ms_per_step": 1000.0 * (live.n_redraws * per_redraw / T_STEPS + due_s),
            "overhead_ms_per_step_measured": 1000.0 * (live_s - plain_s) / T_STEPS,
        },
        "figure_to_array_shape": list(rgb.shape),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
