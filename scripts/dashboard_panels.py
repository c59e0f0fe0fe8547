"""The dashboard panels of a short CartPole run, read back from its files.

Trains ``spikerl train --env CartPole`` with ``--track`` (offline wandb) and
``tensorboard=true``, then lists every panel key with its last value: from the offline
``.wandb`` log (:mod:`spikerl.runs.wandb_log`) and from the TensorBoard event file
(TensorBoard's EventAccumulator). Prints JSON and writes it to ``--out``.

    python scripts/dashboard_panels.py --timesteps 3000 --out results/dashboard_panels_cartpole.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _short(values: list[Any], key: str) -> Any:
    """One value of a history key: the last number, or the media/histogram type."""
    v = values[-1]
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, list):
        return f"[{len(v)} values]"
    return v


def main(argv: list[str] | None = None) -> int:
    """Run, read back and print the panels (exit status 0)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timesteps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.pop("WANDB_API_KEY", None) if os.environ.get("WANDB_MODE") == "offline" else None
    import torch
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from spikerl.cli import main as cli
    from spikerl.runs.wandb_log import history

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        args = ["train", "--env", "CartPole", "--runs-dir", tmp, "--quiet", "--track"]
        args += ["--timesteps", str(a.timesteps), "--seed", str(a.seed)]
        every = max(1, a.timesteps // 3)
        for kv in (
            "tensorboard=true",
            f"eval_freq={every}",
            "eval_episodes=2",
            "final_eval_episodes=2",
            f"rstdp.log_every={max(1, a.timesteps // 6)}",
        ):
            args += ["--set", kv]
        assert cli(args) == 0
        (run,) = Path(tmp).iterdir()
        time.sleep(2.0)  # the wandb writer process flushes its log
        hist, artifacts = history(run)
        wandb_panels: dict[str, Any] = {}
        for key in sorted(hist):
            if key.startswith("_") or key == "global_step":
                continue
            base, _, sub = key.rpartition("/")
            if sub == "_type":
                wandb_panels[base] = hist[key][-1]
            elif f"{key}/_type" not in hist and not any(
                key.startswith(k[: -len("_type")]) for k in hist if k.endswith("/_type")
            ):
                wandb_panels[key] = _short(hist[key], key)
        (events,) = list((run / "tensorboard").rglob("events.out.tfevents.*"))
        ea = EventAccumulator(str(events), size_guidance={"scalars": 0, "histograms": 0})
        ea.Reload()
        tags = ea.Tags()
        tb: dict[str, Any] = {}
        for t in tags["scalars"]:
            tb[t] = round(float(ea.Scalars(t)[-1].value), 4)
        for t in tags["histograms"]:
            h = ea.Histograms(t)[-1].histogram_value
            tb[t] = f"histogram: {int(h.num)} values in [{h.min:.4g}, {h.max:.4g}]"
        for t in tags["images"]:
            im = ea.Images(t)[-1]
            tb[t] = f"image {im.width}x{im.height}"
        result = {
            "command": " ".join(["spikerl", *args]).replace(tmp, "<tmp>"),
            "wandb": wandb_panels,
            "wandb_artifacts": artifacts,
            "tensorboard": dict(sorted(tb.items())),
            "videos": sorted(v.name for v in (run / "videos").glob("*.mp4")),
        }
    text = json.dumps(result, indent=1)
    print(text)
    if a.out is not None:
        from spikerl.core.io import atomic_write_bytes

        atomic_write_bytes((text + "\n").encode(), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
