"""The Atari controls script: its per-policy function plays full games of the real ALE env."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "atari_controls", ROOT / "scripts/atari_controls.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["atari_controls"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_constant_and_random_policies_play_full_breakout_games() -> None:
    ac = _script()
    noop = ac.play_policy("Breakout", "NOOP", 1, seed=3)
    # FIRE on reset and on a lost life launches the ball; NOOP never moves the paddle
    assert noop["games"] == 1 and len(noop["returns"]) == 1 and noop["steps"] > 50
    assert noop["min"] == noop["max"] == noop["mean"] >= 0
    rand = ac.play_policy("Breakout", "random", 2, seed=3)
    assert len(rand["returns"]) == 2 and rand["std"] >= 0
    assert rand == ac.play_policy("Breakout", "random", 2, seed=3) | {"seconds": rand["seconds"]}
    with pytest.raises(ValueError, match="unknown policy"):
        ac.play_policy("Breakout", "UP", 1, seed=3)
