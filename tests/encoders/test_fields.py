"""Gaussian receptive fields with conjunctive pairs (``spikerl.encoders.GaussianFields``):
the same features as before the move, the old import paths and saved models, and how they
relate to ``GaussianPopulationEncoder`` (one field function, two parameterisations)."""

from __future__ import annotations

import itertools
import json
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from agents.parts import window_preset
from gymnasium import spaces

from spikerl.encoders import (
    GaussianFields,
    GaussianFieldsConfig,
    GaussianPopulationEncoder,
    gaussian_fields,
)
from spikerl.encoders.fields import resolve_bounds

CARTPOLE = GaussianFieldsConfig(
    low=(-2.4, -3.0, -0.21, -3.5), high=(2.4, 3.0, 0.21, 3.5), n_centres=7, pair_centres=5
)
#: The CartPole preset's fields (agents/rstdp.yaml): velocity ranges +-1.5 / +-2.0, width 0.8.
CARTPOLE_PRESET = GaussianFieldsConfig(
    low=(-2.4, -1.5, -0.21, -2.0),
    high=(2.4, 1.5, 0.21, 2.0),
    n_centres=7,
    width=0.8,
    pair_centres=5,
)


def _previous_features(c: GaussianFieldsConfig, space: object, obs: np.ndarray) -> np.ndarray:
    """The agent's feature map as written before the move (spikerl/agents/features.py),
    verbatim but for the class around it."""
    low, high, squash = resolve_bounds(c.low, c.high, space)
    n_dims = int(low.size)
    pairs = list(itertools.combinations(range(n_dims), 2)) if c.pair_centres else []
    pi = np.array([i for i, _ in pairs], dtype=np.int64)
    pj = np.array([j for _, j in pairs], dtype=np.int64)
    c1 = np.linspace(0.0, 1.0, c.n_centres)
    s1 = c.width / max(c.n_centres - 1, 1)
    n2 = max(c.pair_centres, 1)
    c2 = np.linspace(0.0, 1.0, n2)
    s2 = c.width / max(n2 - 1, 1)
    x = np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)
    if squash.any():
        x = np.where(squash, x / (1.0 + np.abs(x)), x)
    b = x.shape[0]
    u = np.clip((x - low) / (high - low), 0.0, 1.0)[:, :, None]
    parts = [np.exp(-0.5 * ((u - c1) / s1) ** 2).reshape(b, -1)]
    if pi.size:
        g = np.exp(-0.5 * ((u - c2) / s2) ** 2)
        parts.append((g[:, pi, :, None] * g[:, pj, None, :]).reshape(b, -1))
    if c.bias:
        parts.append(np.ones((b, 1)))
    return np.concatenate(parts, axis=1)


@pytest.mark.parametrize(
    ("config", "env_id"),
    [
        (CARTPOLE, "CartPole-v1"),
        (GaussianFieldsConfig(), "Acrobot-v1"),  # bounds from the space
        (GaussianFieldsConfig(n_centres=4, pair_centres=0, bias=False), "MountainCar-v0"),
        (GaussianFieldsConfig(width=0.9, pair_centres=3), "CartPole-v1"),  # squashed dims
    ],
)
def test_features_are_bit_identical_to_before_the_move(
    config: GaussianFieldsConfig, env_id: str
) -> None:
    """Observations in and far out of range (clipped, squashed): the same bits."""
    space = gym.make(env_id).observation_space
    assert space.shape is not None
    rng = np.random.default_rng(0)
    obs = rng.normal(0.0, 3.0, (64, space.shape[0]))
    fields = GaussianFields(config, space)
    got = fields(obs)
    want = _previous_features(config, space, obs)
    assert got.shape == (64, fields.n_features)
    np.testing.assert_array_equal(got, want)


def test_old_import_paths_are_the_same_objects() -> None:
    import spikerl.agents
    import spikerl.agents.features as old
    import spikerl.encoders.fields as new

    assert old.GaussianFields is new.GaussianFields is spikerl.agents.GaussianFields
    assert old.GaussianFieldsConfig is new.GaussianFieldsConfig
    assert spikerl.agents.GaussianFieldsConfig is new.GaussianFieldsConfig
    assert old.resolve_bounds is new.resolve_bounds
    assert GaussianFields.__module__ == "spikerl.encoders.fields"


def test_kind_gaussian_builds_the_moved_config() -> None:
    from spikerl.config import feature_kinds, to_plain

    assert feature_kinds()["gaussian"] is GaussianFieldsConfig
    cfg = window_preset("CartPole")
    assert cfg.features == CARTPOLE_PRESET
    assert to_plain(cfg.features)["kind"] == "gaussian"


def test_moved_class_names_still_read() -> None:
    """Files written before the move name ``spikerl.agents.features.GaussianFieldsConfig``."""
    from spikerl.codec import decode, encode

    obj, arrays = encode(CARTPOLE)
    text = json.dumps(obj)
    assert "spikerl.encoders.fields.GaussianFieldsConfig" in text
    old = text.replace("spikerl.encoders.fields.", "spikerl.agents.features.")
    assert decode(json.loads(old), arrays) == CARTPOLE


def test_model_saved_before_the_move_loads(tmp_path: Path) -> None:
    """A CartPole model zip whose data names the config's old class path loads, with the
    same features and weights, and learns on."""
    from spikerl.agents import RSTDP

    model = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), window_preset("CartPole"))
    model.learn(50)
    model.save(tmp_path / "new.zip")
    with (
        zipfile.ZipFile(tmp_path / "new.zip") as src,
        zipfile.ZipFile(tmp_path / "old.zip", "w") as dst,
    ):
        for name in src.namelist():
            data = src.read(name)
            if name == "data":
                assert b"spikerl.encoders.fields.GaussianFieldsConfig" in data
                data = data.replace(b"spikerl.encoders.fields.", b"spikerl.agents.features.")
            dst.writestr(name, data)
    loaded = RSTDP.load(tmp_path / "old.zip", env=gym.make("CartPole-v1"))
    enc: Any = loaded.policy.encoder
    assert isinstance(enc.feature_map, GaussianFields)
    assert loaded.config.features == CARTPOLE_PRESET
    w = "input->action"
    np.testing.assert_array_equal(loaded.plastic_weights()[w], model.plastic_weights()[w])
    obs = np.random.default_rng(1).normal(0.0, 1.0, (5, 4))
    model_enc: Any = model.policy.encoder
    np.testing.assert_array_equal(enc.probabilities(obs), model_enc.probabilities(obs))
    loaded.learn(20, reset_num_timesteps=False)


def test_one_field_function_for_numpy_and_torch() -> None:
    """``gaussian_fields`` keeps the array's library and dtype; both agree (float64)."""
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 1.0, (6, 3))
    centres = np.linspace(-1.0, 1.0, 5)
    out = gaussian_fields(x, centres, 0.4)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (6, 3, 5)
    np.testing.assert_array_equal(out, np.exp(-0.5 * ((x[:, :, None] - centres) / 0.4) ** 2))
    c2 = torch.as_tensor(np.tile(centres, (3, 1)))
    t = gaussian_fields(torch.as_tensor(x), c2, torch.full((3, 1), 0.4, dtype=torch.float64))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64
    np.testing.assert_allclose(t.numpy(), out, rtol=1e-15, atol=0)


def test_population_encoder_gives_the_same_fields_inside_the_range() -> None:
    """Without pairs and bias, inside the range: GaussianFields' features are the
    population encoder's activations (to rounding; the module docstring lists the
    differences). Out of range they differ on purpose: GaussianFields clips."""
    low, high = [-2.0, 0.0, 10.0], [2.0, 1.0, 30.0]
    n, width = 6, 0.8
    fields = GaussianFields(
        GaussianFieldsConfig(low, high, n_centres=n, width=width, pair_centres=0, bias=False)
    )
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # centres and widths kept in float64
    try:
        enc = GaussianPopulationEncoder(low, high, n, time_steps=4, width=width)
    finally:
        torch.set_default_dtype(default)
    rng = np.random.default_rng(3)
    x = rng.uniform(low, high, (200, 3))
    a = enc.activation(torch.as_tensor(x)).numpy().reshape(200, -1)
    np.testing.assert_allclose(fields(x), a, rtol=1e-12, atol=1e-14)
    beyond = np.array([[5.0, 0.5, 20.0]])  # dim 0 out of range: edge field held at 1
    assert fields(beyond)[0, n - 1] == 1.0
    assert enc.activation(torch.as_tensor(beyond))[0, 0, -1] < 1e-3


def test_resolve_bounds_declared_and_from_the_space() -> None:
    box = spaces.Box(np.array([-1.0, -np.inf]), np.array([3.0, np.inf]), dtype=np.float64)
    lo, hi, sq = resolve_bounds(None, None, box)
    assert lo.tolist() == [-1.0, -1.0] and hi.tolist() == [3.0, 1.0] and sq.tolist() == [0, 1]
    lo, hi, sq = resolve_bounds([0.0], [2.0], None)
    assert lo.tolist() == [0.0] and hi.tolist() == [2.0] and not sq.any()
    with pytest.raises(ValueError, match=r"declare features\.low and features\.high"):
        resolve_bounds(None, None, spaces.Discrete(3))
