"""scripts/train_sb3_spiking.py: the comparison block and joining one experiment's processes."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys
from types import ModuleType

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "train_sb3_spiking", ROOT / "scripts/train_sb3_spiking.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["train_sb3_spiking"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_compare_golden_values() -> None:
    ts = _script()
    summary = {"SpikingCnnPolicy": {"mean_of_means": 8.0}, "CnnPolicy": {"mean_of_means": 10.0}}
    controls = {
        "random": {"mean": 2.0},
        "constant_0": {"mean": 0.0},
        "constant_3": {"mean": 4.0},
        "constant_2": {"mean": 1.0},
    }
    out = ts.compare(summary, controls)
    assert out["best_constant"] == {"control": "constant_3", "mean": 4.0}
    assert out["SpikingCnnPolicy"]["over_best_constant"] == pytest.approx(2.0)
    assert out["CnnPolicy"]["over_best_constant"] == pytest.approx(2.5)
    assert out["CnnPolicy"]["over_random"] == pytest.approx(5.0)
    assert out["spiking_over_non_spiking"] == {"SpikingCnnPolicy/CnnPolicy": pytest.approx(0.8)}
    # no constant controls (classic control): no ratio to them; a zero constant gives None
    plain = ts.compare(summary, {"random": {"mean": 2.0}})
    assert "best_constant" not in plain and "over_best_constant" not in plain["CnnPolicy"]
    zero = ts.compare(summary, {"constant_0": {"mean": 0.0}})
    assert zero["CnnPolicy"]["over_best_constant"] is None


def _run(ts: ModuleType, policy: str, out: pathlib.Path, timesteps: int = 256) -> dict:
    return ts.main(
        [
            "--algo", "ppo", "--env", "CartPole", "--seeds", "0", "--policies", policy,
            "--timesteps", str(timesteps), "--eval-episodes", "2", "--eval-every", "0",
            "--out", str(out),
        ]
    )  # fmt: skip


def test_merge_joins_processes_of_one_experiment(tmp_path: pathlib.Path) -> None:
    ts = _script()
    a = _run(ts, "SpikingMlpPolicy", tmp_path / "a.json")
    b = _run(ts, "MlpPolicy", tmp_path / "b.json")
    assert json.loads((tmp_path / "a.json").read_text())["runs"] == a["runs"]
    assert a["controls"] == b["controls"]  # seeded alike in both processes
    merged = ts.main(
        ["--algo", "ppo", "--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
         "--out", str(tmp_path / "m.json")]
    )  # fmt: skip
    assert json.loads((tmp_path / "m.json").read_text()) == merged
    assert [r["policy"] for r in merged["runs"]] == ["SpikingMlpPolicy", "MlpPolicy"]
    assert len(merged["command"]) == 2
    s = merged["summary"]
    assert s["SpikingMlpPolicy"]["final_means"] == [a["runs"][0]["eval"]["mean"]]
    ratio = merged["comparison"]["spiking_over_non_spiking"]["SpikingMlpPolicy/MlpPolicy"]
    assert ratio == pytest.approx(a["runs"][0]["eval"]["mean"] / b["runs"][0]["eval"]["mean"])
    with pytest.raises(ValueError, match="more than one result"):
        ts.merge_results([a, a], 475.0)
    c = _run(ts, "MlpPolicy", tmp_path / "c.json", timesteps=320)
    with pytest.raises(ValueError, match="'timesteps'"):
        ts.merge_results([a, c], 475.0)
    with pytest.raises(ValueError, match="at least two"):
        ts.merge_results([a], 475.0)


def test_summarise_counts_solved_seeds_only_with_a_target() -> None:
    ts = _script()
    runs = [
        {"policy": "P", "seed": s, "train_seconds": 1.0, "eval": {"mean": m},
         "best": {"eval": {"mean": b}}}
        for s, m, b in [(0, 480.0, 500.0), (1, 300.0, 475.0), (2, 475.0, 200.0)]
    ]  # fmt: skip
    with_target = ts.summarise(runs, 475.0)["P"]
    assert with_target["seeds_ge_475"] == 2 and with_target["best_checkpoint_seeds_ge_475"] == 2
    assert with_target["mean_of_means"] == pytest.approx((480 + 300 + 475) / 3)
    without = ts.summarise(runs, None)["P"]
    assert not any(k.startswith(("seeds_ge", "best_checkpoint_seeds_ge")) for k in without)
    assert without["best_checkpoint_means"] == [500.0, 475.0, 200.0]
    assert ts.SOLVED.get("CartPole") == 475.0 and ts.SOLVED.get("Breakout") is None
