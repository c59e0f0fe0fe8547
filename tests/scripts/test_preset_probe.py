"""scripts/preset_probe.py trains a preset with overrides and reports greedy means."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("preset_probe", ROOT / "scripts/preset_probe.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["preset_probe"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_probe_runs_and_applies_overrides() -> None:
    pp = _script()
    row = pp.probe("CartPole", 300, 0, ["rstdp.snn.n_per_action=4"], 2)
    assert row["steps"] == 300 and row["sets"] == ["rstdp.snn.n_per_action=4"]
    assert row["before"] > 0 and row["after"] > 0
    assert 0.0 <= row["tie_fraction"] <= 1.0
    same = pp.probe("CartPole", 300, 0, ["rstdp.snn.n_per_action=4"], 2)
    assert same["after"] == row["after"]  # fixed seed: the same run


def test_probe_rejects_unknown_setting() -> None:
    from spikerl.config import ConfigError

    pp = _script()
    with pytest.raises(ConfigError, match="no_such_key"):
        pp.probe("CartPole", 10, 0, ["rstdp.snn.no_such_key=1"], 1)
