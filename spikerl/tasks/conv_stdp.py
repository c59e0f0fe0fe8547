"""``spikerl mnist --mode conv-stdp``: convolutional STDP features with an R-STDP readout.

1. :class:`~spikerl.models.conv_stdp.ConvSTDPFeatures` learns its layers one after the
   other by STDP on the first ``stdp_images`` training images (``batch`` images per
   update, order drawn from ``seed``).
2. The feature spike times of the readout's training images (the first ``limit``) and of
   the test images are computed once.
3. The MSTDP readout (:class:`~spikerl.models.conv_stdp.RSTDPReadout`) learns for
   ``epochs`` epochs over the cached feature spikes; its decisions (spike votes, ties by
   a seeded draw) are the headline accuracy. A logistic-regression readout of the same
   features is reported beside it for reference.

Writes into ``out``: ``mnist_conv_stdp.pt`` (feature and readout weights, settings),
``mnist_conv_stdp_kernels.png`` (the learned features, :func:`spikerl.plotting.conv_features`)
and returns the body of ``mnist_conv_stdp.json`` (written by :func:`spikerl.tasks.mnist.run`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from spikerl.config import to_plain
from spikerl.core.io import atomic_torch_save

if TYPE_CHECKING:
    from spikerl.tasks.mnist import MnistSettings

__all__ = ["run_conv_stdp"]


def _log(s: MnistSettings, text: str) -> None:
    if s.progress:
        print(text, file=sys.stderr, flush=True)


def run_conv_stdp(s: MnistSettings, data: tuple[Tensor, Tensor, Tensor, Tensor]) -> dict[str, Any]:
    """Train and test the convolutional STDP model on ``data``; return the results body.

    Args:
        s: Settings (``mode`` ``conv-stdp``): ``stdp_images``, ``batch`` (STDP images per
            update), ``epochs`` (readout epochs), ``conv_stdp``, ``readout``, ``seed``.
        data: ``(train images, train labels, test images, test labels)``, already limited.
    """
    from spikerl.models.conv_stdp import ConvSTDPFeatures, RSTDPReadout, linear_readout
    from spikerl.models.diehl_cook import classification_report
    from spikerl.plotting import conv_features, save_figure

    x_tr, y_tr, x_te, y_te = data
    out = Path(s.out)
    g = torch.Generator().manual_seed(s.seed)
    model = ConvSTDPFeatures(s.conv_stdp, generator=g)
    n_stdp = min(s.stdp_images, int(x_tr.shape[0]))
    stdp_x = x_tr[:n_stdp].to(torch.float32) / 255.0
    start = time.perf_counter()
    stdp_s = []
    for layer in range(len(model.layers)):
        t0 = time.perf_counter()
        model.train_layer(layer, stdp_x, batch_size=s.batch, generator=g)
        stdp_s.append(round(time.perf_counter() - t0, 1))
        _log(s, f"conv-stdp: layer {layer + 1} STDP on {n_stdp} images, {stdp_s[-1]} s")
    t0 = time.perf_counter()
    f_tr = model.feature_times(x_tr.to(torch.float32) / 255.0)
    feat_train_s = time.perf_counter() - t0
    _log(s, f"conv-stdp: features of {int(x_tr.shape[0])} training images, {feat_train_s:.1f} s")
    T = model.config.time_steps
    t0 = time.perf_counter()
    readout = RSTDPReadout(model.n_features, T, s.readout, generator=g)
    curve = []
    for epoch in range(s.epochs):
        curve.append(round(readout.train_epoch(f_tr, y_tr), 4))
        _log(s, f"conv-stdp: readout epoch {epoch + 1}/{s.epochs}, train hit rate {curve[-1]}")
    readout_s = time.perf_counter() - t0
    train_time = time.perf_counter() - start
    t0 = time.perf_counter()
    f_te = model.feature_times(x_te.to(torch.float32) / 255.0)
    pred = readout.predict(f_te)
    eval_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    val_tr = (1.0 - f_tr.to(torch.float32) / T).clamp(min=0.0)
    val_te = (1.0 - f_te.to(torch.float32) / T).clamp(min=0.0)
    lin = linear_readout(val_tr, y_tr, val_te)
    lin_s = time.perf_counter() - t0
    report = classification_report(pred, y_te, 10)
    report["accuracy"] = round(report["accuracy"], 4)
    report["per_class_accuracy"] = [round(v, 4) for v in report["per_class_accuracy"]]
    lin_acc = float((lin == y_te).double().mean()) if y_te.numel() else float("nan")
    ckpt = out / "mnist_conv_stdp.pt"
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    state["readout.weight"] = readout.projection.weight.detach().cpu().clone()
    atomic_torch_save({"state_dict": state, "settings": to_plain(s)}, ckpt)
    fig = save_figure(
        conv_features(model.reconstructions(), title="conv STDP features (pixel space)"),
        out / "mnist_conv_stdp_kernels.png",
    )
    return {
        "test": report,
        "test_accuracy": report["accuracy"],
        "linear_test_accuracy": round(lin_acc, 4),
        "stdp_images_per_layer": n_stdp,
        "readout_epochs": s.epochs,
        "readout_train_hit_rate_per_epoch": curve,
        "n_features": model.n_features,
        "convergence_per_layer": [round(model.convergence(i), 4) for i in range(len(model.layers))],
        "train_time_s": round(train_time, 1),
        "time_s": {
            "stdp_per_layer": stdp_s,
            "train_features": round(feat_train_s, 1),
            "rstdp_readout": round(readout_s, 1),
            "test_features_and_decisions": round(eval_s, 1),
            "linear_readout": round(lin_s, 1),
        },
        "eval_time_s": round(eval_s, 1),
        "checkpoint": str(ckpt),
        "receptive_fields": str(fig),
    }
