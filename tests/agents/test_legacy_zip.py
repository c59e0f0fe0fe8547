"""A model zip written by the agent's former private network loads into the core actor.

``tests/data/private_network_cartpole.zip`` was saved by that network (the CartPole preset
on ``stack: private``, 300 learning steps, seed 0) before it was deleted. Loaded now, its
weights and critic drive the actor built from core parts, which then spikes as the
private network would have (its NumPy reference, :mod:`agents.private_reference`, with the
same weights), learns on, and re-saves as a current zip.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents.private_reference import SpikingActorCritic
from spikerl.agents import RSTDP
from spikerl.agents.legacy import private_column_mean
from spikerl.agents.rstdp import Stack

ZIP = Path(__file__).parents[1] / "data" / "private_network_cartpole.zip"


def _saved_tensors() -> dict[str, torch.Tensor]:
    with zipfile.ZipFile(ZIP) as zf:
        out: dict[str, torch.Tensor] = torch.load(
            io.BytesIO(zf.read("policy.pth")), weights_only=True
        )
    return out


def _load() -> RSTDP:
    with pytest.warns(UserWarning, match="former private network"):
        return RSTDP.load(ZIP, env=gym.make("CartPole-v1"))


def test_private_zip_loads_its_weights_critic_and_settings() -> None:
    saved = _saved_tensors()
    model = _load()
    assert model.config.stack is Stack.CORE and model.num_timesteps == 300
    assert model.config.snn.input_lead and model.config.learn.weight_norm
    np.testing.assert_array_equal(
        model.plastic_weights()["input->action"], saved["net.weight"].numpy()
    )
    np.testing.assert_array_equal(model.learner.critic, saved["net.critic"].numpy())
    assert np.abs(model.learner.critic).max() > 0.1  # a learned critic, not zeros
    target = private_column_mean(model.config.snn, 2).numpy()
    np.testing.assert_array_equal(model.policy.column_mean_0.numpy(), target)


def test_loaded_private_zip_spikes_as_the_private_network_did() -> None:
    """Deterministic windows of the loaded model and of the NumPy reference with the
    saved weights: the same counts along 200 CartPole steps (state carried across steps,
    fresh at each episode start)."""
    saved = _saved_tensors()
    model = _load()
    snn = model.config.snn
    enc = model.policy.encoder
    features = enc.feature_map  # type: ignore[union-attr]
    ref = SpikingActorCritic(features.n_features, 2, snn)
    with torch.no_grad():
        ref.weight.copy_(saved["net.weight"])
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=4)
    rng = np.random.default_rng(0)
    st_ref = ref.initial_state(1)
    st_core = None
    start = np.ones(1, dtype=bool)
    spiking = 0
    for _ in range(200):
        out_ref, st_ref = ref.step(
            features(obs[None]), st_ref, deterministic=True, learn=False, rng=rng
        )
        _, st_core = model.predict(obs[None], st_core, start, deterministic=True)
        out_core = model.policy.last_output
        assert out_core is not None
        np.testing.assert_array_equal(out_core.counts, out_ref.counts)
        spiking += int(out_ref.counts.sum() > 0)
        obs, _, term, trunc, _ = env.step(int(rng.integers(0, 2)))
        start = np.array([term or trunc])
        if term or trunc:
            obs, _ = env.reset()
            st_ref = ref.initial_state(1)
    assert spiking > 100


def test_loaded_private_zip_learns_on_and_resaves(tmp_path: Path) -> None:
    model = _load()
    w0 = model.plastic_weights()["input->action"]
    model.learn(200, reset_num_timesteps=False)
    assert model.num_timesteps == 500
    assert not np.array_equal(model.plastic_weights()["input->action"], w0)
    model.save(tmp_path / "now.zip")
    again = RSTDP.load(tmp_path / "now.zip")  # a current zip: no upgrade, no warning
    np.testing.assert_array_equal(
        again.plastic_weights()["input->action"], model.plastic_weights()["input->action"]
    )
    np.testing.assert_array_equal(again.learner.critic, model.learner.critic)
