"""Convolutional STDP features with an R-STDP readout on MNIST; prints JSON into results/.

Trains :class:`spikerl.models.conv_stdp.ConvSTDPFeatures` layer by layer by STDP on the
first ``--stdp-images`` training images (seed fixed), extracts features of ``--train``
training images and the full test set, trains the MSTDP readout
(:class:`~spikerl.models.conv_stdp.RSTDPReadout`) for ``--epochs`` epochs and, for
reference, a logistic-regression readout of the same features. Draws the layer-1 kernels
into ``results/figures/``::

    python scripts/mnist_conv_stdp.py --stdp-images 2000 --train 10000 --epochs 5
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from spikerl.core.io import atomic_write_bytes
from spikerl.datasets import MNIST
from spikerl.models.conv_stdp import ConvSTDPFeatures, ReadoutConfig, RSTDPReadout, linear_readout
from spikerl.plotting import conv_kernels, save_figure

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stdp-images", type=int, default=2000)
    p.add_argument("--train", type=int, default=10000)
    p.add_argument("--test", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--data", default=str(ROOT / ".." / "shared" / "data" / "mnist"))
    p.add_argument("--out", default=str(ROOT / "results" / "mnist_conv_stdp.json"))
    a = p.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(a.seed)
    tr, te = MNIST(root=a.data, train=True), MNIST(root=a.data, train=False)
    x = tr.images.float() / 255
    model = ConvSTDPFeatures(generator=g)
    t0 = time.perf_counter()
    for layer in range(len(model.layers)):
        model.train_layer(layer, x[: a.stdp_images], generator=g)
    t_stdp = time.perf_counter() - t0
    fig = save_figure(
        conv_kernels(model.conv(0).weight.detach(), title="conv STDP layer 1 (on, off)"),
        ROOT / "results" / "figures" / "mnist_conv_stdp_kernels.png",
    )
    t0 = time.perf_counter()
    ftr = model.feature_times(x[: a.train])
    fte = model.feature_times(te.images[: a.test].float() / 255)
    t_feat = time.perf_counter() - t0
    ytr, yte = tr.labels[: a.train], te.labels[: a.test]
    T = model.config.time_steps
    t0 = time.perf_counter()
    readout = RSTDPReadout(model.n_features, T, ReadoutConfig(), generator=g)
    curve = []
    for _ in range(a.epochs):
        hit = readout.train_epoch(ftr, ytr)
        curve.append(round(hit, 4))
    rstdp = float((readout.predict(fte) == yte).float().mean())
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    val = (1 - ftr.float() / T).clamp(min=0), (1 - fte.float() / T).clamp(min=0)
    lin = float((linear_readout(val[0], ytr, val[1]) == yte).float().mean())
    t_lin = time.perf_counter() - t0
    result = {
        "task": "mnist_conv_stdp",
        "seed": a.seed,
        "stdp_images_per_layer": a.stdp_images,
        "readout_train_images": a.train,
        "n_test": int(yte.shape[0]),
        "rstdp_epochs": a.epochs,
        "rstdp_train_hit_rate_per_epoch": curve,
        "rstdp_test_accuracy_final_weights": round(rstdp, 4),
        "linear_test_accuracy": round(lin, 4),
        "n_features": model.n_features,
        "convergence_per_layer": [round(model.convergence(i), 4) for i in range(len(model.layers))],
        "time_s": {
            "stdp": round(t_stdp, 1),
            "features": round(t_feat, 1),
            "rstdp_readout": round(t_read, 1),
            "linear_readout": round(t_lin, 1),
        },
        "load_average": os.getloadavg()[0],
        "figure": str(fig.relative_to(ROOT)) if hasattr(fig, "relative_to") else str(fig),
        "torch_threads": 1,
    }
    text = json.dumps(result, indent=2)
    atomic_write_bytes((text + "\n").encode(), Path(a.out))
    print(text)


if __name__ == "__main__":
    main()
