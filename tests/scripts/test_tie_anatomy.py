"""The tie classification of scripts/tie_anatomy.py on hand-made windows, and one real model."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

import numpy as np
import pytest
from agents.parts import window_preset

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tie_anatomy", ROOT / "scripts/tie_anatomy.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["tie_anatomy"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_classify_window_golden() -> None:
    ta = _script()
    t_steps = 4
    on = np.ones(t_steps)
    off = np.zeros(t_steps)
    once = np.array([0.0, 1.0, 0.0, 0.0])
    # two groups of two neurons; columns are neurons
    binary = np.stack([on, off, on, off], axis=1)
    assert ta.classify_window(binary, 2) == (True, True)
    graded = np.stack([on, once, on, once], axis=1)
    assert ta.classify_window(graded, 2) == (True, False)
    weak = np.stack([once, off, once, off], axis=1)
    assert ta.classify_window(weak, 2) == (False, False)
    silent = np.zeros((t_steps, 4))
    assert ta.classify_window(silent, 2) == (False, True)
    with pytest.raises(ValueError, match="groups of 3"):
        ta.classify_window(silent, 3)


def test_anatomy_of_a_saved_model(tmp_path: pathlib.Path) -> None:
    from stable_baselines3.common.env_util import make_vec_env

    from spikerl.agents import RSTDP

    ta = _script()
    model = RSTDP(
        "SpikingPolicy",
        make_vec_env("CartPole-v1", n_envs=1, seed=0),
        window_preset("CartPole"),
        seed=0,
    )
    model.learn(500)
    model.save(tmp_path / "final.zip")
    row = ta.anatomy(tmp_path / "final.zip", 200)
    assert row["decisions"] == 200 and row["env"] == "CartPole"
    for key in ("tied_fraction", "saturated_among_tied", "binary_among_tied"):
        assert 0.0 <= row[key] <= 1.0
