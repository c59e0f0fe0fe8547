"""Validation sweep of Diehl & Cook settings on the MNIST *training* set (never the test set).

Each setting trains a fresh network (seed fixed) on the first ``--train`` images of a seeded
permutation of the 60,000 training images, labels its neurons with the next ``--label``
images and reads out the ``--val`` images after those (all-activity and proportion
weighting). Prints one JSON line per setting (``--out`` also appends it to a file)::

    python scripts/mnist_sweep.py --neurons 100 --train 6000 \\
        --set inhibition=120 --set inhibition=120,max_rate=128 \\
        --set rule.eta_post=5e-3 --set neuron.theta_plus=0.1

A setting is a comma-separated list of ``field=value`` for
:class:`~spikerl.models.diehl_cook.DiehlCookConfig`; ``rule.x`` and ``neuron.x`` reach the
learning rule and the neuron constants. ``--set ''`` is the default configuration.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import sys
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import torch

from spikerl.datasets import MNIST
from spikerl.models.diehl_cook import DiehlCook2015, DiehlCookConfig, Readout

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist"


def _value(text: str) -> Any:
    """``'120'`` -> 120.0, ``'true'`` -> True, else the text."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return text


def configure(base: DiehlCookConfig, setting: str) -> DiehlCookConfig:
    """Apply ``'a=1,rule.eta_post=5e-3'`` to ``base``.

    Raises:
        ValueError: On an unknown field or a malformed item.
    """
    top: dict[str, Any] = {}
    rule: dict[str, Any] = {}
    neuron: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in setting.split(","))):
        if "=" not in item:
            raise ValueError(f"setting items look like field=value, got {item!r}")
        key, raw = item.split("=", 1)
        target, name = (rule, key[5:]) if key.startswith("rule.") else (top, key)
        if key.startswith("neuron."):
            target, name = neuron, key[7:]
        target[name] = _value(raw)
    for obj, changes in ((base, top), (base.rule, rule), (base.neuron, neuron)):
        known = {f.name for f in fields(obj)}
        bad = sorted(set(changes) - known)
        if bad:
            raise ValueError(
                f"unknown field(s) {bad} of {type(obj).__name__}; known: {sorted(known)}"
            )
    cfg = replace(base, **top)
    if rule:
        cfg = replace(cfg, rule=replace(cfg.rule, **rule))
    if neuron:
        cfg = replace(cfg, neuron=replace(cfg.neuron, **neuron))
    return cfg


def evaluate(
    cfg: DiehlCookConfig, images: torch.Tensor, labels: torch.Tensor, a: argparse.Namespace
) -> dict[str, Any]:
    """Train on one slice, label on the next, validate on the one after."""
    order = torch.randperm(int(labels.shape[0]), generator=torch.Generator().manual_seed(a.seed))
    tr = order[: a.train]
    lab = order[a.train : a.train + a.label]
    val = order[a.train + a.label : a.train + a.label + a.val]
    model = DiehlCook2015(cfg, seed=a.seed)
    gen = torch.Generator().manual_seed(a.seed + 1)
    t0 = time.perf_counter()
    model.fit(images[tr], gen)
    train_s = time.perf_counter() - t0
    counts = model.responses(images[val], generator=gen)
    y = labels[val]

    def score(readout: Readout) -> tuple[float, float]:
        return (
            round(float((readout.predict(counts) == y).double().mean()), 4),
            round(float((readout.predict(counts, True) == y).double().mean()), 4),
        )

    row: dict[str, Any] = {"mean_spikes": round(float(counts.sum(1).mean()), 2)}
    if a.label:
        readout = Readout.fit(model.responses(images[lab], generator=gen), labels[lab])
        row["val_all_activity"], row["val_proportion"] = score(readout)
    if a.label_from_train:
        n_max = min(max(a.label_from_train), a.train)
        seen = model.responses(images[tr[:n_max]], generator=gen)
        for n in a.label_from_train:
            n = min(n, a.train)
            readout = Readout.fit(seen[:n], labels[tr[:n]])
            row[f"val_labels_train{n}"] = score(readout)
    row["train_s"] = round(train_s, 1)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--neurons", type=int, default=100)
    p.add_argument("--train", type=int, default=6000)
    p.add_argument("--label", type=int, default=4000)
    p.add_argument("--val", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=str(SHARED.resolve()) if SHARED.is_dir() else None)
    p.add_argument(
        "--label-from-train",
        type=int,
        nargs="*",
        default=[],
        help="also label from the first N training images (the paper labels with all)",
    )
    p.add_argument("--set", dest="settings", action="append", default=None)
    p.add_argument("--out", default=None, help="append the JSON lines to this file")
    a = p.parse_args(argv)
    if a.train + a.label + a.val > 60000:
        p.error("--train + --label + --val must not exceed the 60000 training images")
    torch.set_num_threads(1)
    train = MNIST(root=a.data, train=True)
    base = DiehlCookConfig(n_neurons=a.neurons)
    for setting in a.settings or [""]:
        cfg = configure(base, setting)
        row = {"setting": setting, "neurons": a.neurons, "train": a.train}
        row.update(evaluate(cfg, train.images, train.labels, a))
        print(json.dumps(row), flush=True)
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
