"""Train a spiking MNIST classifier by surrogate gradients (BPTT) and print JSON results.

Trains :class:`spikerl.models.surrogate.SpikingMLP` (``--arch fc``) or
:class:`spikerl.models.surrogate.SpikingConvNet` (``--arch conv``) on the 60k training images
(direct input encoding: pixel intensity as a constant current for ``--time`` steps) with Adam
and a cosine learning-rate schedule, then evaluates on the full 10k test set.

Examples::

    python scripts/mnist_surrogate.py --arch fc --epochs 10 --out runs/mnist_fc
    python scripts/mnist_surrogate.py --arch conv --epochs 4 --time 4 --out runs/mnist_conv
    python scripts/mnist_surrogate.py --arch fc --epochs 1 --limit 2000 --test-limit 1000

Data are looked up by :class:`spikerl.datasets.MNIST` (``--data``, then ``$SPIKERL_DATA``,
then the user cache). The same ``--seed`` gives the same weights, order and accuracy on CPU
(with the same thread count). Prints one JSON object on stdout (progress goes to stderr);
writes ``<out>/mnist_surrogate_<arch>.pt`` (state dict, settings, results; written to a
temporary file then renamed) and ``<out>/mnist_surrogate_<arch>.json``.
"""

from __future__ import annotations

import os

# Idle OpenMP threads must sleep, not spin: on a shared CPU spinning threads slow every
# elementwise op by ~10x. Read by libgomp when torch loads, hence before the import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from spikerl.core.io import atomic_torch_save, atomic_write_bytes
from spikerl.datasets import MNIST
from spikerl.models.surrogate import (
    SpikingConvNet,
    SpikingMLP,
    evaluate,
    train_epoch,
)


@dataclass(frozen=True)
class Settings:
    """Resolved run settings (saved with the checkpoint and printed in the JSON)."""

    arch: str
    epochs: int
    batch: int
    time: int
    seed: int
    limit: int | None
    test_limit: int | None
    lr: float
    weight_decay: float
    hidden: int
    channels: tuple[int, int]
    dropout: float
    threads: int
    device: str
    data: str | None
    out: str


def parse_args(argv: list[str] | None = None) -> Settings:
    """Parse the command line into :class:`Settings`."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", choices=("fc", "conv"), default="fc")
    p.add_argument("--epochs", type=int, default=None, help="default: fc 10, conv 4")
    p.add_argument("--batch", type=int, default=100, help="minibatch size")
    p.add_argument("--time", type=int, default=None, help="steps per image; fc 6, conv 4")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use the first N training images")
    p.add_argument("--test-limit", type=int, default=None, help="use the first N test images")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate; fc 1e-3, conv 2e-3")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--hidden", type=int, default=None, help="hidden LIF units; fc 800, conv 256")
    p.add_argument("--channels", type=int, nargs=2, default=(32, 64), help="conv channels")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--data", default=None, help="MNIST folder (default: $SPIKERL_DATA, cache)")
    p.add_argument("--out", default="runs/mnist_surrogate", help="output folder")
    a = p.parse_args(argv)
    fc = a.arch == "fc"
    s = Settings(
        arch=a.arch,
        epochs=a.epochs if a.epochs is not None else (10 if fc else 4),
        batch=a.batch,
        time=a.time if a.time is not None else (6 if fc else 4),
        seed=a.seed,
        limit=a.limit,
        test_limit=a.test_limit,
        lr=a.lr if a.lr is not None else (1e-3 if fc else 2e-3),
        weight_decay=a.weight_decay,
        hidden=a.hidden if a.hidden is not None else (800 if fc else 256),
        channels=(a.channels[0], a.channels[1]),
        dropout=a.dropout,
        threads=a.threads,
        device=a.device,
        data=a.data,
        out=a.out,
    )
    for name in ("epochs", "batch", "time", "threads"):
        if getattr(s, name) < 1:
            p.error(f"--{name} must be >= 1")
    return s


def build_model(s: Settings) -> nn.Module:
    """The architecture named by ``s.arch``."""
    if s.arch == "fc":
        return SpikingMLP(time_steps=s.time, hidden=s.hidden, dropout=s.dropout)
    return SpikingConvNet(
        time_steps=s.time, channels=s.channels, hidden=s.hidden, dropout=s.dropout
    )


def run(s: Settings) -> dict[str, Any]:
    """Train and evaluate; return the results dictionary."""
    start = time.perf_counter()
    torch.set_num_threads(s.threads)
    torch.manual_seed(s.seed)
    shuffle = torch.Generator().manual_seed(s.seed)
    device = torch.device(s.device)

    train, test = MNIST(root=s.data, train=True), MNIST(root=s.data, train=False)
    x_tr, y_tr = train.images[: s.limit].to(device), train.labels[: s.limit].to(device)
    x_te, y_te = test.images[: s.test_limit].to(device), test.labels[: s.test_limit].to(device)

    model = build_model(s).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    steps = s.epochs * -(-int(y_tr.shape[0]) // s.batch)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)

    history = []
    for epoch in range(s.epochs):
        stats = train_epoch(
            model, x_tr, y_tr, optimizer, s.batch, shuffle, scheduler,
            progress=True, desc=f"{s.arch} epoch {epoch + 1}/{s.epochs}",
        )  # fmt: skip
        history.append({"epoch": epoch + 1, **{k: round(v, 4) for k, v in stats.items()}})
        tqdm.write(json.dumps(history[-1]), file=sys.stderr)
    train_time = time.perf_counter() - start

    t0 = time.perf_counter()
    accuracy, per_class = evaluate(model, x_te, y_te, batch_size=500)
    eval_time = time.perf_counter() - t0

    settings = {**asdict(s), "channels": list(s.channels)}
    result: dict[str, Any] = {
        "task": "mnist_surrogate",
        "arch": s.arch,
        "test_accuracy": round(accuracy, 4),
        "per_class_accuracy": [round(a, 4) for a in per_class],
        "n_train": int(y_tr.shape[0]),
        "n_test": int(y_te.shape[0]),
        "n_params": sum(p.numel() for p in model.parameters()),
        "train_time_s": round(train_time, 1),
        "eval_time_s": round(eval_time, 1),
        "wall_time_s": round(time.perf_counter() - start, 1),
        "history": history,
        "settings": settings,
        "torch": str(torch.__version__),
    }
    out = Path(s.out)
    ckpt = out / f"mnist_surrogate_{s.arch}.pt"
    result["checkpoint"] = str(ckpt)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_torch_save({"state_dict": state, "settings": settings, "result": result}, ckpt)
    text = json.dumps(result, indent=2)
    atomic_write_bytes((text + "\n").encode(), out / f"mnist_surrogate_{s.arch}.json")
    return result


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    print(json.dumps(run(parse_args(argv)), indent=2))


if __name__ == "__main__":
    main()
