"""The classic-control report script: it never reports a best checkpoint alone, and one
tiny run per agent goes end to end (real envs, real SB3 classes, rliable aggregation)."""

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
        "classic_control", ROOT / "scripts/classic_control.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["classic_control"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_refuses_best_without_final() -> None:
    cc = _script()
    best = {"mean_reward": 500.0, "returns": [500.0]}
    with pytest.raises(ValueError, match="without the final"):
        cc.seed_row("rstdp", 0, None, best)
    with pytest.raises(ValueError, match="lacks 'returns'"):
        cc.seed_row("rstdp", 0, {"mean_reward": 10.0}, best)
    row = cc.seed_row("rstdp", 0, {"mean_reward": 10.0, "returns": [10.0]}, best)
    assert row["final"]["mean_reward"] == 10.0 and row["best"] is best


def test_target_is_checked_on_final_weights() -> None:
    """Best checkpoints at 500 in every seed do not meet the CartPole target when only 3 of
    5 final weights reach 475."""
    cc = _script()
    task = cc.TASKS["CartPole"]
    finals = [500.0, 480.0, 475.0, 300.0, 20.0]
    rows = [
        cc.seed_row(
            "rstdp",
            s,
            {"mean_reward": f, "returns": [f]},
            {"mean_reward": 500.0, "returns": [500.0]},
        )
        for s, f in enumerate(finals)
    ]
    entry = cc.summarize(task, rows)["agents"]["rstdp"]
    assert entry["final_seeds_at_target"] == 3 and entry["best_seeds_at_target"] == 5
    assert entry["target_met"] is False
    rows[3]["final"]["mean_reward"] = 490.0
    assert cc.summarize(task, rows)["agents"]["rstdp"]["target_met"] is True


def test_smoke_run_every_agent(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    cc = _script()
    out = tmp_path / "cc.json"
    cc.main(
        ["--tasks", "CartPole", "--seeds", "0", "--timesteps", "1500", "--episodes", "2",
         "--eval-freq", "500", "--runs-dir", str(tmp_path / "runs"), "--figures",
         str(tmp_path / "fig"), "--out", str(out)]
    )  # fmt: skip
    report = json.loads(out.read_text())
    agents = report["tasks"][0]["agents"]
    assert set(agents) == {"rstdp", "ppo", "dqn", "random"}
    assert agents["rstdp"]["target_met"] is None  # capped budget: no claim
    assert all(len(a["final_means"]) == 1 for a in agents.values())
    assert agents["rstdp"]["final_tie_fractions"][0] is not None
    assert (tmp_path / "fig" / "classic_CartPole_rstdp.png").is_file()
