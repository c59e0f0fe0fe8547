"""spikerl.codec and spikerl.envs.state: exact round trips, refusals by name."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv

from spikerl.agents.config import LearnConfig, Modulation
from spikerl.codec import CodecError, arrays_to_npz, decode, encode, npz_to_arrays
from spikerl.envs.state import (
    EnvStateError,
    env_state,
    read_env_state,
    restore_env_state,
    save_env_state,
)


def _round_trip(value: object) -> object:
    obj, arrays = encode(value)
    text = json.dumps(obj, allow_nan=False)  # strict JSON
    return decode(json.loads(text), npz_to_arrays(arrays_to_npz(arrays), "x"))


def test_round_trip_keeps_types_and_values() -> None:
    rng = np.random.default_rng(11)
    rng.random(5)
    value = {
        "t": (1, 2.5, "a", None, True),
        "l": [float("inf"), float("-inf")],
        "d": collections.deque([{"r": 1.0, "l": 3}], maxlen=4),
        "k": {1: "one", None: 2, "__x": 3},
        "a": np.arange(6, dtype=np.int16).reshape(2, 3),
        "s": np.float32(1.25),
        "b": b"\x00\xff",
        "g": rng,
        "tensor": torch.arange(3, dtype=torch.float64),
        "box": spaces.Box(-np.inf, np.inf, (4,), np.float32),
        "disc": spaces.Discrete(5, start=-2),
        "md": spaces.MultiDiscrete([3, 4]),
        "mb": spaces.MultiBinary(3),
        "dict": spaces.Dict({"x": spaces.Discrete(2)}),
        "cfg": LearnConfig(gamma=0.5),
        "enum": Modulation.REWARD,
    }
    out = _round_trip(value)
    assert isinstance(out, dict)
    assert out["t"] == value["t"] and isinstance(out["t"], tuple)
    assert out["l"] == [float("inf"), float("-inf")]
    assert out["d"] == value["d"] and out["d"].maxlen == 4
    assert out["k"] == {1: "one", None: 2, "__x": 3}
    assert out["a"].dtype == np.int16 and np.array_equal(out["a"], value["a"])
    assert out["s"] == np.float32(1.25) and type(out["s"]) is np.float32
    assert out["b"] == b"\x00\xff"
    assert out["g"].random() == rng.random()  # the generator continues exactly
    assert torch.equal(out["tensor"], value["tensor"])
    for key in ("box", "disc", "md", "mb", "dict"):
        assert out[key] == value[key], key
    assert out["cfg"] == LearnConfig(gamma=0.5)
    # a StrEnum stays an enum (as a plain str the learner's `is` tests would fail silently)
    assert out["enum"] is Modulation.REWARD and out["cfg"].modulation is Modulation.TD_ERROR


def test_unsupported_values_are_refused_by_name() -> None:
    with pytest.raises(CodecError, match=r"value\.f: a builtins\.function cannot be saved"):
        encode({"f": lambda: 0})
    with pytest.raises(CodecError, match="dtype object"):
        encode({"o": np.array([object()])})


def _cartpole(seed: int = 5, n: int = 2) -> VecEnv:
    return make_vec_env("CartPole-v1", n_envs=n, seed=seed)


def test_cartpole_env_state_continues_exactly(tmp_path: Path) -> None:
    env = _cartpole()
    env.reset()
    rng = np.random.default_rng(0)
    for _ in range(37):
        env.step(rng.integers(0, 2, 2))
    save_env_state(env, tmp_path / "s.zip")
    copy = _cartpole()
    restore_env_state(copy, read_env_state(tmp_path / "s.zip"))
    for i in range(200):  # through episode ends: Monitor, TimeLimit and RNG state all match
        a = rng.integers(0, 2, 2)
        o1, r1, d1, info1 = env.step(a)
        o2, r2, d2, info2 = copy.step(a)
        assert np.array_equal(o1, o2) and np.array_equal(r1, r2) and np.array_equal(d1, d2), i
        ep1 = [(x["episode"]["r"], x["episode"]["l"]) for x in info1 if "episode" in x]
        ep2 = [(x["episode"]["r"], x["episode"]["l"]) for x in info2 if "episode" in x]
        assert ep1 == ep2, i  # ("t", wall-clock time, differs)


def test_env_state_of_another_env_is_refused(tmp_path: Path) -> None:
    env = _cartpole()
    env.reset()
    state = env_state(env)
    with pytest.raises(EnvStateError, match="saved 2 envs, the run has 1"):
        restore_env_state(_cartpole(n=1), state)
    other = make_vec_env("Acrobot-v1", n_envs=2, seed=0)
    with pytest.raises(EnvStateError, match="AcrobotEnv"):
        restore_env_state(other, state)
    state["envs"][0][0]["attrs"]["total_steps"] = "many"
    with pytest.raises(EnvStateError, match=r"total_steps: saved a str, the environment holds"):
        restore_env_state(_cartpole(), state)


def test_moved_class_names_still_read() -> None:
    """Files written before ``PixelGridConfig`` moved to ``spikerl.encoders`` name it
    ``spikerl.agents.features.PixelGridConfig``: they decode to the same config."""
    from spikerl.encoders import PixelGridConfig

    cfg = PixelGridConfig(rows=5, cols=12)
    obj, arrays = encode(cfg)
    text = json.dumps(obj).replace(
        "spikerl.encoders.pixels.PixelGridConfig", "spikerl.agents.features.PixelGridConfig"
    )
    assert "spikerl.agents.features.PixelGridConfig" in text
    assert decode(json.loads(text), arrays) == cfg
