"""``spikerl mnist``: train and test a spiking MNIST classifier; print and save the results.

Modes:

* ``unsupervised``: Diehl & Cook (2015) STDP network
  (:class:`~spikerl.models.diehl_cook.DiehlCook2015`); neurons are labelled by their mean
  response on training images, then the test set is read out by all-activity and
  proportion weighting.
* ``supervised``: the same network taught by teacher forcing
  (:class:`~spikerl.models.supervised.SupervisedSTDP`), tested without forcing.
* ``surrogate``: a spiking MLP trained by surrogate gradients
  (:class:`~spikerl.models.surrogate.SpikingMLP`, Adam, cosine schedule).
* ``conv-stdp``: convolutional features learned by STDP under winner-take-all
  (:class:`~spikerl.models.conv_stdp.ConvSTDPFeatures`, layer by layer on the first
  ``--stdp-images`` training images) and a readout trained by reward-modulated STDP
  (:class:`~spikerl.models.conv_stdp.RSTDPReadout`, decisions by spike votes) on the first
  ``--limit`` training images for ``--epochs`` epochs; a logistic-regression readout of the
  same features is reported beside it (:mod:`spikerl.tasks.conv_stdp`). The layers and the
  readout are set by ``--set conv_stdp.KEY=VALUE`` and ``--set readout.KEY=VALUE``
  (:class:`~spikerl.models.conv_stdp.ConvSTDPConfig`,
  :class:`~spikerl.models.conv_stdp.ReadoutConfig`).

Examples::

    spikerl mnist --mode unsupervised --neurons 100 --epochs 1
    spikerl mnist --mode supervised --neurons 400 --track
    spikerl mnist --mode surrogate --epochs 10 --out runs/mnist_fc
    python -m spikerl.tasks.mnist --mode unsupervised --limit 2000 --test-limit 1000
    spikerl mnist --mode conv-stdp --stdp-images 2000 --limit 10000 --set readout.per_class=20

Writes into ``--out`` (``<mode>`` with ``_`` for ``-``): ``mnist_<mode>.pt`` (checkpoint,
written to a temporary file then renamed, after every epoch), ``mnist_<mode>.json``
(results: accuracy, per-class accuracy, confusion matrix, timings, settings) and
``mnist_<mode>_fields.png`` (learned receptive fields; conv-stdp:
``mnist_conv_stdp_kernels.png``, its learned features). Prints the results as JSON on
stdout; progress goes to stderr.

With ``--track`` (wandb, offline when ``WANDB_API_KEY`` is unset) the run is monitored
during training: every ``--track-every`` training images (STDP; default a tenth of the
training set) or every epoch (surrogate) the network is tested on the first
``--track-images`` test images (STDP: neurons labelled on the first ``--track-images``
training images) and ``monitor/accuracy`` and the firing statistics (``firing/*``) are
logged at the number of training images seen; the same points are kept in the JSON as
``monitor``. The monitor decides nothing (no early stop, no model choice). At the end the
results, receptive fields and confusion matrix are logged too.

``--device cuda`` runs the surrogate mode on a GPU; the STDP modes run on the CPU only
(their Poisson input draws from a CPU generator), and say so.
"""

from __future__ import annotations

import os

# Idle OpenMP threads must sleep, not spin (shared CPUs); read when torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from spikerl.config import to_plain
from spikerl.core.io import atomic_torch_save, atomic_write_bytes
from spikerl.models.conv_stdp import ConvSTDPConfig, ReadoutConfig

MODES = ("unsupervised", "supervised", "surrogate", "conv-stdp")

#: Options that the conv-stdp mode has no use for (its layers are set by ``--set``).
_NOT_CONV_STDP = ("neurons", "time", "theta_plus", "track")

__all__ = ["MODES", "MnistSettings", "main", "parse_args", "run"]


@dataclass(frozen=True)
class MnistSettings:
    """Resolved settings of one ``spikerl mnist`` run (saved with its results).

    Attributes:
        mode: ``unsupervised``, ``supervised``, ``surrogate`` or ``conv-stdp``.
        neurons: Excitatory neurons (STDP) or hidden units (surrogate).
        epochs: Passes over the training images (conv-stdp: the readout's epochs).
        batch: Images per batch (STDP: presented in parallel, changes summed; conv-stdp:
            images per STDP update of the convolutional layers).
        time: Presentation time in ms (STDP) or steps per image (surrogate).
        seed: Seed of weights, image order and spikes.
        limit: Use the first ``limit`` training images (``None``: all 60000).
        test_limit: Use the first ``test_limit`` test images (``None``: all 10000).
        label_images: Training images used to assign neurons to classes (STDP modes).
        theta_plus: Threshold increase per spike of the STDP networks (mV); ``None``: the
            paper's 0.05.
        data: MNIST folder (``None``: ``$SPIKERL_DATA``, then the cache).
        out: Output folder.
        track: Log to wandb.
        threads: torch CPU threads.
        progress: Show progress bars.
        track_every: Training images between monitor points (STDP); ``None``: a tenth of
            the training set.
        track_images: Test images of each monitor point (and STDP labelling images).
        device: Torch device (``cpu``; ``cuda`` for the surrogate mode).
        stdp_images: conv-stdp: the first ``stdp_images`` training images train each
            convolutional layer by STDP.
        conv_stdp: conv-stdp: the feature layers.
        readout: conv-stdp: the R-STDP readout.
    """

    mode: str
    neurons: int
    epochs: int
    batch: int
    time: float
    seed: int
    limit: int | None
    test_limit: int | None
    label_images: int
    theta_plus: float | None
    data: str | None
    out: str
    track: bool
    threads: int
    progress: bool
    track_every: int | None = None
    track_images: int = 1000
    device: str = "cpu"
    stdp_images: int = 2000
    conv_stdp: ConvSTDPConfig = field(default_factory=ConvSTDPConfig)
    readout: ReadoutConfig = field(default_factory=ReadoutConfig)

    @property
    def stem(self) -> str:
        """File stem of the run's outputs: ``mnist_<mode>`` with ``_`` for ``-``."""
        return "mnist_" + self.mode.replace("-", "_")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="spikerl mnist",
        description="Train and test a spiking MNIST classifier (STDP or surrogate gradients).",
    )
    p.add_argument("--mode", choices=MODES, default="unsupervised")
    p.add_argument("--neurons", type=int, default=None, help="STDP: 100; surrogate: 800 hidden")
    p.add_argument(
        "--epochs", type=int, default=None, help="STDP: 1; surrogate: 10; conv-stdp readout: 10"
    )
    p.add_argument(
        "--batch",
        type=int,
        default=None,
        help="STDP: 1 (paper protocol); surrogate: 100; conv-stdp: 16 images per STDP update",
    )
    p.add_argument("--time", type=float, default=None, help="STDP: 350 ms; surrogate: 6 steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--limit", type=int, default=None, help="first N training images (conv-stdp: readout's)"
    )
    p.add_argument(
        "--stdp-images",
        type=int,
        default=2000,
        help="conv-stdp: STDP images per convolutional layer (the first N; default 2000)",
    )
    p.add_argument("--test-limit", type=int, default=None, help="first N test images")
    p.add_argument(
        "--label-images",
        type=int,
        default=10000,
        help="training images used to label neurons (unsupervised; default 10000)",
    )
    p.add_argument(
        "--theta-plus",
        type=float,
        default=None,
        help="STDP: threshold increase per spike in mV (default 0.05, the paper's)",
    )
    p.add_argument("--data", default=None, help="MNIST folder (default: $SPIKERL_DATA, cache)")
    p.add_argument("--out", default="runs/mnist", help="output folder")
    p.add_argument("--track", action="store_true", help="log to wandb (offline without a key)")
    p.add_argument("--threads", type=int, default=None, help="torch threads; STDP 1, surrogate 2")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--track-every",
        type=int,
        default=None,
        help="with --track: training images between monitor points (STDP; default N/10)",
    )
    p.add_argument(
        "--track-images",
        type=int,
        default=1000,
        help="with --track: test images per monitor point (default 1000)",
    )
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda (surrogate mode only)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a setting by its name, e.g. theta_plus=0.2 (repeatable; after the flags)",
    )
    return p


def parse_args(argv: list[str] | None = None) -> MnistSettings:
    """Parse the command line into :class:`MnistSettings` (argparse errors exit with 2)."""
    p = _parser()
    a = p.parse_args(argv)
    sur = a.mode == "surrogate"
    conv = a.mode == "conv-stdp"
    if conv:
        given = [n for n in _NOT_CONV_STDP if getattr(a, n) not in (None, False)]
        if given:
            p.error(
                f"--{given[0].replace('_', '-')} does not apply to --mode conv-stdp (its layers "
                "and readout are set by --set conv_stdp.KEY=VALUE and --set readout.KEY=VALUE)"
            )
    data: dict[str, Any] = dict(
        mode=a.mode,
        neurons=a.neurons if a.neurons is not None else (800 if sur else 100),
        epochs=a.epochs if a.epochs is not None else (10 if sur or conv else 1),
        batch=a.batch if a.batch is not None else (100 if sur else 16 if conv else 1),
        time=a.time if a.time is not None else (6.0 if sur else 350.0),
        seed=a.seed,
        limit=a.limit,
        test_limit=a.test_limit,
        label_images=a.label_images,
        theta_plus=a.theta_plus,
        data=a.data,
        out=a.out,
        track=a.track,
        threads=a.threads if a.threads is not None else (2 if sur else 1),
        progress=not a.quiet,
        track_every=a.track_every,
        track_images=a.track_images,
        device=a.device,
        stdp_images=a.stdp_images,
    )
    from spikerl.config import ConfigError, merge, parse_set, validate

    try:
        data = merge(data, parse_set(list(a.set)))
        s: MnistSettings = validate(MnistSettings, data, noun="mnist setting")
    except ConfigError as exc:
        p.error(str(exc))
    if s.mode not in MODES:
        p.error(f"mode: {s.mode!r} is not one of {list(MODES)}")
    try:
        check_device(s.device, s.mode)
    except ValueError as exc:
        p.error(str(exc))
    names = ("neurons", "epochs", "batch", "threads", "label_images", "track_images", "stdp_images")
    for name in names:
        if getattr(s, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if not s.time > 0:
        p.error("--time must be > 0")
    for name in ("limit", "test_limit", "track_every"):
        v = getattr(s, name)
        if v is not None and v < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if s.theta_plus is not None and not (s.theta_plus >= 0 and math.isfinite(s.theta_plus)):
        p.error("--theta-plus must be a finite number >= 0 (mV)")
    if s.mode == "supervised" and s.neurons % 10:
        p.error("--neurons must be a multiple of 10 in supervised mode")
    return s


def check_device(device: str, mode: str) -> torch.device:
    """The torch device of a run, or a clear error where the mode or torch cannot use it.

    Raises:
        ValueError: Not a torch device name; ``cuda`` for an STDP mode; ``cuda`` without
            a CUDA build or GPU.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"--device {device!r} is not a torch device (cpu, cuda, cuda:0)") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise ValueError(f"--device {device!r}: only cpu and cuda are supported")
    if mode == "conv-stdp":
        raise ValueError(
            f"--device {device}: the conv-stdp mode runs on the CPU only; use --mode surrogate "
            "for a GPU, or --device cpu"
        )
    if mode != "surrogate":
        raise ValueError(
            f"--device {device}: the {mode} STDP mode runs on the CPU only (its Poisson input "
            "is drawn from a CPU generator); use --mode surrogate for a GPU, or --device cpu"
        )
    if not torch.cuda.is_available():
        raise ValueError(
            f"--device {device}: CUDA is not available to this torch ({torch.__version__}, "
            f"built with CUDA {torch.version.cuda or 'none'}); use --device cpu"
        )
    return dev


class Tracker:
    """The wandb run of ``spikerl mnist --track`` (offline without ``WANDB_API_KEY``).

    Monitor points are logged at the number of training images seen (``global_step``)
    and kept in :attr:`points` for the results JSON.
    """

    def __init__(self, s: MnistSettings) -> None:
        import wandb

        mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
        Path(s.out).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project="spikerl",
            name=f"mnist_{s.mode}_{s.neurons}_{s.seed}",
            config=to_plain(s),
            dir=s.out,
            mode=mode,  # type: ignore[arg-type]
            settings=wandb.Settings(console="off", silent=True),
        )
        self.run.define_metric("*", step_metric="global_step")
        self.points: list[dict[str, float]] = []

    def point(self, images: int, values: dict[str, float]) -> None:
        """Log one monitor point at ``images`` training images seen."""
        row = {"train/images": float(images), **{k: round(v, 5) for k, v in values.items()}}
        self.points.append(row)
        print(json.dumps(row), file=sys.stderr)
        self.run.log({**row, "global_step": images})

    def finish(self, result: dict[str, Any], images: int) -> None:
        """Log the final results and the receptive-field figure, then close the run."""
        import wandb

        flat: dict[str, Any] = {k: v for k, v in result.items() if isinstance(v, int | float)}
        flat["receptive_fields"] = wandb.Image(result["receptive_fields"])
        self.run.log({**flat, "global_step": images})
        self.run.summary["confusion_matrix"] = result["test"]["confusion_matrix"]
        self.run.finish()


def stdp_monitor(
    model: Any,
    label_images: Tensor,
    label_labels: Tensor,
    test_images: Tensor,
    test_labels: Tensor,
    generator: torch.Generator,
) -> dict[str, float]:
    """Accuracy and firing statistics of an STDP network now (learning off).

    Neurons are labelled by their responses to ``label_images``; ``test_images`` are read
    out by all-activity and proportion weighting. Firing: mean spikes per test image, the
    rate per neuron ``counts / (n T)`` in Hz (T the presentation time), the fraction of
    neurons silent on every test image and the mean adaptive threshold ``theta`` (mV).
    The input rates are not annealed here (``rate_scale = 1``).
    """
    from spikerl.models.diehl_cook import Readout

    scale = model.rate_scale
    model.rate_scale = 1.0
    try:
        lab = model.responses(label_images, 100, generator)
        counts = model.responses(test_images, 100, generator)
    finally:
        model.rate_scale = scale
    readout = Readout.fit(lab, label_labels, 10)
    acc = float((readout.predict(counts) == test_labels).double().mean())
    acc_p = float((readout.predict(counts, True) == test_labels).double().mean())
    t_s = model.config.time / 1000.0
    return {
        "monitor/accuracy": acc,
        "monitor/accuracy_proportion": acc_p,
        "firing/spikes_per_image": float(counts.sum(1).mean()),
        "firing/rate_hz": float(counts.mean()) / t_s,
        "firing/silent_fraction": float((counts.sum(0) == 0).double().mean()),
        "firing/theta_mean_mv": float(model.theta.mean()),
    }


def surrogate_monitor(model: Any, images: Tensor, labels: Tensor) -> dict[str, float]:
    """Accuracy and hidden-layer firing of a surrogate-gradient MLP on ``images``.

    Firing: spikes per hidden unit per step, ``mean_{t,b,h} s[t, b, h]``, and the fraction
    of hidden units silent on every image.
    """
    from spikerl.models.surrogate import _repeat, images_to_float

    model.eval()
    correct, spikes_sum, active, n = 0, 0.0, None, 0
    with torch.no_grad():
        for i in range(0, int(labels.shape[0]), 500):
            x = images_to_float(images[i : i + 500])
            correct += int((model(x).argmax(1) == labels[i : i + 500]).sum())
            sp = model.lif1.run(_repeat(model.fc1(x.flatten(1)), model.time_steps))
            spikes_sum += float(sp.mean()) * int(x.shape[0])
            fired = sp.sum((0, 1)) > 0
            active = fired if active is None else active | fired
            n += int(x.shape[0])
    model.train()
    return {
        "monitor/accuracy": correct / max(n, 1),
        "firing/hidden_rate": spikes_sum / max(n, 1),
        "firing/silent_fraction": float((~active).double().mean()) if active is not None else 1.0,
    }


def _report(pred: Tensor, labels: Tensor) -> dict[str, Any]:
    from spikerl.models.diehl_cook import classification_report

    r = classification_report(pred, labels, 10)
    r["accuracy"] = round(r["accuracy"], 4)
    r["per_class_accuracy"] = [round(v, 4) for v in r["per_class_accuracy"]]
    return r


def _save_fields(weight: Tensor, path: Path, title: str) -> Path:
    from spikerl.plotting import receptive_fields, save_figure

    fig = receptive_fields(weight.detach().cpu(), (28, 28), title=title)
    return save_figure(fig, path)


def _run_stdp(
    s: MnistSettings,
    data: tuple[Tensor, Tensor, Tensor, Tensor],
    tracker: Tracker | None = None,
) -> dict[str, Any]:
    from spikerl.models.diehl_cook import DiehlCook2015, DiehlCookConfig, Readout
    from spikerl.models.supervised import SupervisedConfig, SupervisedSTDP

    x_tr, y_tr, x_te, y_te = data
    out = Path(s.out)
    cfg = DiehlCookConfig(n_neurons=s.neurons, time=s.time, batch_size=s.batch)
    if s.theta_plus is not None:
        cfg = replace(cfg, neuron=replace(cfg.neuron, theta_plus=s.theta_plus))
    supervised = s.mode == "supervised"
    model: DiehlCook2015
    if supervised:
        model = SupervisedSTDP(SupervisedConfig(network=cfg), seed=s.seed)
    else:
        model = DiehlCook2015(cfg, seed=s.seed)
    order_gen = torch.Generator().manual_seed(s.seed)
    spike_gen = torch.Generator().manual_seed(s.seed + 1)
    ckpt = out / f"mnist_{s.mode}.pt"
    history: list[dict[str, float]] = []
    n_train = int(y_tr.shape[0])
    every = s.track_every or max(1, n_train // 10)
    m = s.track_images
    monitor_gen = torch.Generator().manual_seed(s.seed + 2)  # training draws are unchanged
    seen = 0
    next_point = every

    def on_batch(done: int) -> None:
        nonlocal next_point
        if tracker is None or seen + done < next_point:
            return
        while next_point <= seen + done:
            next_point += every
        t0 = time.perf_counter()
        values = stdp_monitor(model, x_tr[:m], y_tr[:m], x_te[:m], y_te[:m], monitor_gen)
        values["monitor/seconds"] = time.perf_counter() - t0
        tracker.point(seen + done, values)

    start = time.perf_counter()
    for epoch in range(s.epochs):
        order = torch.randperm(n_train, generator=order_gen)
        desc = f"{s.mode} epoch {epoch + 1}/{s.epochs}"
        if isinstance(model, SupervisedSTDP):
            stats = model.fit_supervised(
                x_tr[order], y_tr[order], spike_gen, s.progress, on_batch=on_batch
            )
        else:
            stats = model.fit(x_tr[order], spike_gen, s.progress, on_batch=on_batch, desc=desc)
        seen += n_train
        history.append({"epoch": epoch + 1, "seconds": round(stats["seconds"], 1)})
        atomic_torch_save({**model.checkpoint(), "settings": to_plain(s), "epoch": epoch + 1}, ckpt)
        print(json.dumps(history[-1]), file=sys.stderr)
    train_time = time.perf_counter() - start
    t0 = time.perf_counter()
    counts_te = model.responses(x_te, 100, spike_gen, s.progress, desc="test")
    result: dict[str, Any] = {}
    n_lab = min(s.label_images, int(y_tr.shape[0]))
    counts_lab = model.responses(x_tr[:n_lab], 100, spike_gen, s.progress, desc="label")
    readout = Readout.fit(counts_lab, y_tr[:n_lab], 10)
    result["label_images"] = n_lab
    if isinstance(model, SupervisedSTDP):
        # Headline: the teacher's fixed neuron-to-class assignment. Beside it, the same
        # spikes read out with assignments learned from training responses.
        result["test"] = _report(model.predict(counts_te), y_te)
        result["test_accuracy"] = result["test"]["accuracy"]
        result["test_response_labels"] = _report(readout.predict(counts_te, True), y_te)
        result["test_accuracy_response_labels"] = result["test_response_labels"]["accuracy"]
        agree = (readout.assignments == model.assignments).double().mean()
        result["assignment_agreement"] = round(float(agree), 4)
    else:
        result["test_all_activity"] = _report(readout.predict(counts_te), y_te)
        result["test_proportion_weighting"] = _report(readout.predict(counts_te, True), y_te)
        result["test"] = result["test_all_activity"]
        result["test_accuracy"] = result["test_all_activity"]["accuracy"]
        result["test_accuracy_proportion"] = result["test_proportion_weighting"]["accuracy"]
    result["mean_test_spikes"] = round(float(counts_te.sum(1).mean()), 2)
    result["eval_time_s"] = round(time.perf_counter() - t0, 1)
    result["train_time_s"] = round(train_time, 1)
    result["seconds_per_epoch"] = round(train_time / s.epochs, 1)
    result["history"] = history
    result["checkpoint"] = str(ckpt)
    result["receptive_fields"] = str(
        _save_fields(model.weight, out / f"mnist_{s.mode}_fields.png", f"{s.mode} STDP")
    )
    return result


def _run_surrogate(
    s: MnistSettings,
    data: tuple[Tensor, Tensor, Tensor, Tensor],
    tracker: Tracker | None = None,
) -> dict[str, Any]:
    from spikerl.models.surrogate import SpikingMLP, images_to_float, train_epoch

    dev = check_device(s.device, s.mode)
    x_tr, y_tr, x_te, y_te = (t.to(dev) for t in data)
    out = Path(s.out)
    steps = max(1, round(s.time))
    torch.manual_seed(s.seed)
    model = SpikingMLP(time_steps=steps, hidden=s.neurons).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    total = s.epochs * -(-int(y_tr.shape[0]) // s.batch)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    gen = torch.Generator().manual_seed(s.seed)
    ckpt = out / "mnist_surrogate.pt"
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    for epoch in range(s.epochs):
        stats = train_epoch(
            model, x_tr, y_tr, optimizer, s.batch, gen, scheduler, s.progress,
            desc=f"surrogate epoch {epoch + 1}/{s.epochs}",
        )  # fmt: skip
        history.append({"epoch": epoch + 1, **{k: round(v, 4) for k, v in stats.items()}})
        if tracker is not None:
            values = surrogate_monitor(model, x_te[: s.track_images], y_te[: s.track_images])
            values["train/loss"] = stats["loss"]
            values["train/accuracy"] = stats["accuracy"]
            tracker.point((epoch + 1) * int(y_tr.shape[0]), values)
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        atomic_torch_save({"state_dict": state, "settings": to_plain(s), "epoch": epoch + 1}, ckpt)
        print(json.dumps(history[-1]), file=sys.stderr)
    train_time = time.perf_counter() - start
    t0 = time.perf_counter()
    model.eval()
    with torch.no_grad():
        pred = torch.cat(
            [
                model(images_to_float(x_te[i : i + 500])).argmax(1)
                for i in range(0, int(y_te.shape[0]), 500)
            ]
        )
    result: dict[str, Any] = {"test": _report(pred.cpu(), y_te.cpu())}
    result["test_accuracy"] = result["test"]["accuracy"]
    result["eval_time_s"] = round(time.perf_counter() - t0, 1)
    result["train_time_s"] = round(train_time, 1)
    result["seconds_per_epoch"] = round(train_time / s.epochs, 1)
    result["history"] = history
    result["checkpoint"] = str(ckpt)
    fields = model.fc1.weight.detach().cpu().T  # [784, hidden]
    result["receptive_fields"] = str(
        _save_fields(fields[:, :100], out / "mnist_surrogate_fields.png", "surrogate fc1")
    )
    return result


def run(s: MnistSettings) -> dict[str, Any]:
    """Load MNIST, train, test, write the checkpoint, JSON and figure; return the results.

    Raises:
        spikerl.datasets.DatasetNotFoundError: If the MNIST files are not found.
    """
    from spikerl.datasets import MNIST

    start = time.perf_counter()
    torch.set_num_threads(s.threads)
    train, test = MNIST(root=s.data, train=True), MNIST(root=s.data, train=False)
    data = (
        train.images[: s.limit],
        train.labels[: s.limit],
        test.images[: s.test_limit],
        test.labels[: s.test_limit],
    )
    tracker = Tracker(s) if s.track else None
    if s.mode == "surrogate":
        body = _run_surrogate(s, data, tracker)
    elif s.mode == "conv-stdp":
        from spikerl.tasks.conv_stdp import run_conv_stdp

        body = run_conv_stdp(s, data)
    else:
        body = _run_stdp(s, data, tracker)
    if tracker is not None:
        body["monitor"] = tracker.points
    result: dict[str, Any] = {
        "task": s.stem,
        "test_accuracy": body.pop("test_accuracy"),
        "n_train": int(data[1].shape[0]),
        "n_test": int(data[3].shape[0]),
        **body,
        "wall_time_s": round(time.perf_counter() - start, 1),
        "settings": to_plain(s),
        "torch": str(torch.__version__),
    }
    out = Path(s.out)
    text = json.dumps(result, indent=2, allow_nan=True)
    atomic_write_bytes((text + "\n").encode(), out / f"{s.stem}.json")
    if tracker is not None:
        tracker.finish(result, s.epochs * result["n_train"])
    return result


def _print_summary(result: dict[str, Any]) -> None:
    """Per-class accuracy and confusion matrix, human-readable, on stderr."""
    test = result["test"]
    print(f"test accuracy: {result['test_accuracy']:.4f}", file=sys.stderr)
    per = " ".join(
        f"{c}:{a:.3f}" if not math.isnan(a) else f"{c}:-"
        for c, a in enumerate(test["per_class_accuracy"])
    )
    print(f"per class: {per}", file=sys.stderr)
    print("confusion matrix (rows: true, columns: predicted):", file=sys.stderr)
    for c, row in enumerate(test["confusion_matrix"]):
        print(f"  {c}: " + " ".join(f"{v:5d}" for v in row), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``spikerl mnist``; returns the exit status (1 if data are missing)."""
    from spikerl.datasets import DatasetNotFoundError

    s = parse_args(argv)
    try:
        result = run(s)
    except DatasetNotFoundError as exc:
        print(f"spikerl mnist: error: {exc}", file=sys.stderr)
        return 1
    _print_summary(result)
    print(json.dumps(result, indent=2))
    return 0


def with_settings(s: MnistSettings, **changes: Any) -> MnistSettings:
    """A copy of ``s`` with ``changes``."""
    return replace(s, **changes)


if __name__ == "__main__":
    sys.exit(main())


def script_main(mode: str, argv: list[str], repo_root: Path) -> int:
    """Entry point of ``scripts/mnist_{mode}.py``: ``spikerl mnist`` with fixed defaults.

    Defaults (each overridable by ``argv``): ``--mode mode --seed 0 --batch 1 --out
    runs/mnist_<mode>`` (no ``--batch`` for conv-stdp: its own default), and ``--data
    <repo_root>/../shared/data/mnist`` when that folder exists and ``--data`` is not given.
    """
    shared = (repo_root / ".." / "shared" / "data" / "mnist").resolve()
    stem = "mnist_" + mode.replace("-", "_")
    batch = [] if mode == "conv-stdp" else ["--batch", "1"]
    defaults = ["--mode", mode, "--seed", "0", *batch, "--out", f"runs/{stem}"]
    if "--data" not in argv and shared.is_dir():
        defaults += ["--data", str(shared)]
    return main(defaults + argv)
