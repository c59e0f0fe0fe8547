"""Seed aggregates (rliable) and the seed learning-curve figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikerl.runs.aggregate import interval_estimates, seeds_summary
from spikerl.runs.curves import plot_seed_curves, read_curve


def test_mean_and_iqm_hand_computed() -> None:
    # IQM of 5 runs drops the lowest and the highest (scipy trim_mean 0.25): (1 + 2 + 10) / 3
    est = interval_estimates([0.0, 1.0, 2.0, 10.0, 100.0], reps=1000)
    assert est["n_runs"] == 5
    assert est["mean"] == pytest.approx(22.6)
    assert est["iqm"] == pytest.approx(13.0 / 3.0, abs=1e-3)
    for key in ("mean", "iqm"):
        lo, hi = est[f"{key}_ci95"]
        assert 0.0 <= lo <= est[key] <= hi <= 100.0
    # resampling 5 runs: the mean's interval reaches well above the median-ish runs
    assert est["mean_ci95"][0] < 10.0 < 40.0 < est["mean_ci95"][1]


def test_bootstrap_is_seeded_and_constant_scores_have_a_point_interval() -> None:
    a = interval_estimates([3.0, 5.0, 9.0], seed=1, reps=1000)
    assert a == interval_estimates([3.0, 5.0, 9.0], seed=1, reps=1000)
    c = interval_estimates([7.0, 7.0], reps=500)
    assert c["mean"] == c["iqm"] == 7.0 and c["mean_ci95"] == [7.0, 7.0]


def test_bad_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        interval_estimates([])
    with pytest.raises(ValueError, match="finite"):
        interval_estimates([1.0, float("nan")])


def test_seeds_summary_keeps_best_and_final_per_seed() -> None:
    def result(seed: int, best: float, final: float) -> dict:
        return {
            "seed": seed,
            "env": "CartPole",
            "episodes": 2,
            "run_dir": f"r{seed}",
            "timesteps": 100,
            "train_seconds": 1.0,
            "mean_reward": best,
            "std_reward": 0.0,
            "returns": [best, best],
            "final": {"mean_reward": final, "std_reward": 0.0, "returns": [final, final]},
        }

    s = seeds_summary([result(0, 500.0, 100.0), result(1, 300.0, 200.0)], reps=200)
    assert s["seeds"] == [0, 1]
    assert s["aggregate"]["best"]["mean"] == 400.0
    assert s["aggregate"]["final"]["mean"] == 150.0
    assert s["per_seed"][1]["final"]["returns"] == [200.0, 200.0]


def test_learning_curve_figure(tmp_path: Path) -> None:
    steps = np.array([100, 200, 300])
    for seed, scale in ((0, 1.0), (1, 2.0)):
        d = tmp_path / f"s{seed}"
        d.mkdir()
        results = scale * np.array([[1.0, 3.0], [2.0, 4.0], [5.0, 5.0]])
        np.savez(d / "evaluations.npz", timesteps=steps, results=results, ep_lengths=results)
    t, r = read_curve(tmp_path / "s1")
    assert t.tolist() == [100, 200, 300] and r.tolist() == [4.0, 6.0, 10.0]
    out = tmp_path / "curve.png"
    assert plot_seed_curves([tmp_path / "s0", tmp_path / "s1"], ["seed 0", "seed 1"], out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plot_seed_curves([tmp_path / "none"], ["x"], tmp_path / "no.png")
    assert not (tmp_path / "no.png").exists()


def test_bootstrap_seed_is_honoured_and_global_rng_left_alone() -> None:
    """rliable resamples with NumPy's global RNG; the seed must still fix the intervals (five
    calls agree; a different seed differs) and the caller's global RNG stream is untouched."""
    scores = [3.0, 5.0, 9.0, 4.0, 7.0]
    np.random.seed(5)  # noqa: NPY002
    expected = np.random.random()  # noqa: NPY002
    np.random.seed(5)  # noqa: NPY002
    runs = {str(interval_estimates(scores, seed=1, reps=200)) for _ in range(5)}
    assert np.random.random() == expected  # noqa: NPY002
    assert len(runs) == 1
    others = {str(interval_estimates(scores, seed=s, reps=200)) for s in range(2, 7)}
    assert len(others | runs) > 1
