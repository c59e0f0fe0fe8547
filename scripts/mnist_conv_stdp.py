"""Convolutional STDP features with an R-STDP readout on MNIST; prints JSON into results/.

A thin wrapper of ``spikerl mnist --mode conv-stdp`` (:mod:`spikerl.tasks.conv_stdp`):
trains :class:`spikerl.models.conv_stdp.ConvSTDPFeatures` layer by layer by STDP on the
first ``--stdp-images`` training images (seed 0), computes the features of the first
``--limit`` training images (default all 60,000) and of the full test set, trains the MSTDP
readout for ``--epochs`` epochs and, for reference, a logistic-regression readout of the same
features. The run folder is ``--out`` (default ``runs/mnist_conv_stdp``); its JSON is copied
to ``--results`` and the learned-feature figure (:func:`spikerl.plotting.conv_features`) to
``results/figures/<results stem>_features.png``::

    python scripts/mnist_conv_stdp.py --stdp-images 2000 --limit 10000 --epochs 5 \\
        --results results/mnist_conv_stdp.json

Any ``spikerl mnist`` option is accepted (``--set readout.per_class=20``, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spikerl.core.io import atomic_write_bytes
from spikerl.tasks.mnist import script_main

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--results", default=str(ROOT / "results" / "mnist_conv_stdp.json"))
    p.add_argument("--out", default="runs/mnist_conv_stdp")
    a, rest = p.parse_known_args(argv)
    if "-h" in rest or "--help" in rest:
        print(__doc__)
    rc = script_main("conv-stdp", [*rest, "--out", a.out], ROOT)
    if rc != 0:
        return rc
    out, results = Path(a.out), Path(a.results)
    result = json.loads((out / "mnist_conv_stdp.json").read_text())
    figure = ROOT / "results" / "figures" / f"{results.stem}_features.png"
    figure.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(result["receptive_fields"]).read_bytes(), figure)
    result["figure"] = str(figure.relative_to(ROOT)) if figure.is_relative_to(ROOT) else str(figure)
    result["command"] = "python scripts/mnist_conv_stdp.py " + " ".join(argv)
    atomic_write_bytes((json.dumps(result, indent=2) + "\n").encode(), results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
