"""`spikerl train --seeds`: seeds in parallel on a real local Ray (2 CPUs) equal seeds run
one by one; the summary and the figure are written; bad input is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spikerl.cli import main

FAST = [
    "--env",
    "CartPole",
    "--timesteps",
    "1200",
    "--set",
    "eval_freq=400",
    "--set",
    "eval_episodes=2",
    "--set",
    "final_eval_episodes=3",
    "--set",
    "checkpoint_freq=1200",
    "--quiet",
]


def _params(path: Path) -> dict[str, np.ndarray]:
    from spikerl.agents.rstdp import RSTDP

    params = RSTDP.load(path).get_parameters()
    return {f"{k}/{n}": np.asarray(v) for k, d in params.items() for n, v in d.items()}


def test_two_seeds_on_ray_equal_the_seeds_run_one_by_one(tmp_path: Path) -> None:
    assert main(["train", *FAST, "--seeds", "0", "1", "--runs-dir", str(tmp_path / "par")]) == 0
    (group,) = (tmp_path / "par").iterdir()
    assert group.name.startswith("CartPole__rstdp__seeds-0-1__")
    summary = json.loads((group / "summary.json").read_text())
    assert summary["seeds"] == [0, 1]
    assert (group / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    for seed in (0, 1):
        out = tmp_path / f"seq{seed}"
        assert main(["train", *FAST, "--seed", str(seed), "--runs-dir", str(out)]) == 0
        (alone,) = out.iterdir()
        (par,) = group.glob(f"CartPole__rstdp__{seed}__*")
        for name in ("final.zip", "best_model.zip"):
            a, b = _params(alone / name), _params(par / name)
            assert a.keys() == b.keys() and a
            for k in a:
                np.testing.assert_array_equal(a[k], b[k], err_msg=f"{name} {k}")
        ea = json.loads((alone / "eval.json").read_text())
        eb = json.loads((par / "eval.json").read_text())
        assert ea["returns"] == eb["returns"] and ea["final"] == eb["final"]
        with np.load(alone / "evaluations.npz") as x, np.load(par / "evaluations.npz") as y:
            np.testing.assert_array_equal(x["results"], y["results"])
        row = summary["per_seed"][seed]
        assert row["seed"] == seed and row["final"]["returns"] == ea["final"]["returns"]
        assert row["best"]["returns"] == ea["returns"]
    means = [r["final"]["mean_reward"] for r in summary["per_seed"]]
    assert summary["aggregate"]["final"]["mean"] == pytest.approx(np.mean(means), abs=1e-3)
    assert summary["aggregate"]["final"]["n_runs"] == 2


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--seeds", "0", "0"], "more than once"),
        (["--seeds", "0", "--seed", "1"], "--seeds"),
        (["--seeds", "0", "--cpus-per-run", "0"], "--cpus-per-run"),
        (["--seeds", "0", "1", "--address", "127.0.0.1:1"], "127.0.0.1:1"),
    ],
)
def test_bad_seed_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], needle: str
) -> None:
    assert main(["train", *FAST, "--runs-dir", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1, err
