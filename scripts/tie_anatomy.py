"""What a tied spike vote looks like: for saved R-STDP models, play greedy steps and classify
every tied decision by the spike counts of the action neurons.

Usage::

    python scripts/tie_anatomy.py RUN_DIR_OR_ZIP... [--steps 3000] [--out results/x.json]

For each model (``final.zip`` of a run folder unless a ``.zip`` is given) the model's own env
recipe (seed ``10000 + the run's seed``) is played greedily for ``--steps`` steps. Per model the
JSON reports the fraction of tied decisions and, among them, the fraction in which

* some action neuron fired at every simulation step of the window (``saturated``), and
* every action neuron was either silent or fired at every step (``binary``): the count vote
  then compares how many neurons of each population are "on", and the populations' graded
  drive plays no part in the decision.
"""

from __future__ import annotations

import argparse
import json
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np


def classify_window(spikes: np.ndarray, per_action: int) -> tuple[bool, bool]:
    """``(saturated, binary)`` for one window of action spikes ``[T, A k]``.

    With ``c_n = sum_t s_n[t]`` the count of neuron ``n`` over the ``T`` steps: ``saturated``
    is ``any_n c_n = T``; ``binary`` is ``all_n c_n in {0, T}``.
    """
    t_steps = spikes.shape[0]
    counts = spikes.sum(axis=0)
    if counts.size % per_action:
        raise ValueError(f"{counts.size} action neurons do not split into groups of {per_action}")
    saturated = bool((counts == t_steps).any())
    binary = bool(((counts == 0) | (counts == t_steps)).all())
    return saturated, binary


def anatomy(model_path: pathlib.Path, steps: int) -> dict[str, Any]:
    """Greedy play of one saved model; the tie classification of its decisions."""
    from spikerl.agents import RSTDP
    from spikerl.agents.envs import make_agent_vec_env
    from spikerl.agents.presets import resolve
    from spikerl.agents.validation import read_yaml_mapping

    model = RSTDP.load(model_path)
    cfg_file = model_path.parent / "config.yaml"
    saved = read_yaml_mapping(cfg_file, "run config") if cfg_file.is_file() else {}
    env_name = str(saved.get("env", "CartPole"))
    seed = int(saved.get("seed", 0))
    cfg = resolve(env_name, "rstdp", None, {})
    env = make_agent_vec_env(cfg.env, 1, 10_000 + seed, saved.get("env_overrides") or {})
    k = model.config.snn.n_per_action
    obs = env.reset()
    state = None
    starts = np.ones(1, dtype=bool)
    tied = saturated = binary = 0
    for _ in range(steps):
        action, state = model.predict(np.asarray(obs), state, starts, deterministic=True)
        out = model.policy.last_output
        assert out is not None
        if bool(np.asarray(out.tied).reshape(-1)[0]):
            tied += 1
            sat, bina = classify_window(np.asarray(out.spikes)[:, 0, :], k)
            saturated += sat
            binary += bina
        obs, _, starts, _ = env.step(action)
    env.close()
    return {
        "model": str(model_path),
        "env": env_name,
        "seed": seed,
        "decisions": steps,
        "tied_fraction": tied / steps,
        "saturated_among_tied": saturated / max(tied, 1),
        "binary_among_tied": binary / max(tied, 1),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("models", nargs="+", type=pathlib.Path, help="run folders or .zip files")
    ap.add_argument("--steps", type=int, default=3000, help="greedy decisions per model")
    ap.add_argument("--out", type=pathlib.Path, default=None, help="JSON file")
    args = ap.parse_args(argv)
    if args.steps < 1:
        ap.error(f"--steps must be >= 1, got {args.steps}")
    rows = []
    for m in args.models:
        path = m / "final.zip" if m.is_dir() else m
        if not path.is_file():
            ap.error(f"no saved model at {path} (expected a run folder with final.zip or a .zip)")
        rows.append(anatomy(path, args.steps))
        print(json.dumps(rows[-1]), flush=True)
    if args.out is not None:
        from spikerl.core.io import atomic_write_bytes

        report = {"script": "scripts/tie_anatomy.py", "steps": args.steps, "models": rows}
        atomic_write_bytes(json.dumps(report, indent=1).encode(), args.out)


if __name__ == "__main__":
    main()
