"""The population vote: golden decisions, seeded ties, and no reading of input currents."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikerl.decoders import Readout, TieBreak, group_scores, pick_max, vote


def test_vote_golden() -> None:
    scores = np.array([[1.0, 3.0, 3.0], [5.0, 1.0, 0.0], [2.0, 2.0, 2.0], [0.0, 4.0, 1.0]])
    d = vote(scores, np.array([0.6, 0.1, 0.99, 0.0]))
    # row 0: tied {1, 2}, floor(0.6 * 2) = 1 -> action 2; row 2: floor(0.99 * 3) = 2
    np.testing.assert_array_equal(d.actions, [2, 0, 2, 1])
    np.testing.assert_array_equal(d.tied, [True, False, True, False])
    np.testing.assert_array_equal(d.margin, [0.0, 4.0, 0.0, 3.0])


def test_vote_ties_uniform_and_seeded() -> None:
    scores = np.tile([[0.0, 7.0, 7.0, 7.0]], (30000, 1))
    a = vote(scores, np.random.default_rng(3).random(30000)).actions
    b = vote(scores, np.random.default_rng(3).random(30000)).actions
    np.testing.assert_array_equal(a, b)
    freq = np.bincount(a, minlength=4) / a.size
    assert freq[0] == 0.0
    np.testing.assert_allclose(freq[1:], 1 / 3, atol=0.015)


def test_vote_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="scores"):
        vote(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        vote(np.array([[np.nan, 1.0]]), np.zeros(1))


def test_torch_pick_max_same_rule() -> None:
    scores = torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    g = torch.Generator().manual_seed(5)
    u = torch.rand(2, generator=torch.Generator().manual_seed(5)).numpy()
    got = pick_max(scores, TieBreak.RANDOM, g).numpy()
    np.testing.assert_array_equal(got, vote(scores.numpy(), u).actions)


def test_potential_readout_sums_groups() -> None:
    v = np.array([[1.0, 2.0, -3.0, 0.5]])
    got = group_scores(Readout.POTENTIAL, np.zeros((1, 2)), v, 2)
    np.testing.assert_array_equal(got, [[3.0, -2.5]])


def test_agent_ties_ignore_input_current() -> None:
    """Both populations of the presets' actor saturate (equal counts) while population 1
    gets 10x the input current: the decision must be a fair seeded coin, not the larger
    drive."""
    import dataclasses

    import gymnasium as gym

    from spikerl.agents import RSTDP
    from spikerl.agents.presets import load_agent_preset

    cfg = load_agent_preset("rstdp", "CartPole")
    snn = dataclasses.replace(
        cfg.snn, n_per_action=4, sim_steps=4, w_inh=0.0, noise_std=0.0, gap=0.0, input_lead=True
    )
    cfg = dataclasses.replace(cfg, snn=snn)

    def decide(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        policy = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), cfg, seed=seed).policy
        w = policy.network.projection("input->action").weight
        f = w.shape[0]
        with torch.no_grad():
            w[:, :4] = 60.0 / f  # population 0: 60 mV per step, fires every step
            w[:, 4:] = 600.0 / f  # population 1: 600 mV per step, fires every step
        x = torch.ones((4, 4000, f), dtype=w.dtype)  # every input spikes at every step
        out, _ = policy.window(x, None, policy.generator, stochastic=False)
        return out.counts, out.tied, out.actions

    counts, tied, actions = decide(0)
    assert (counts == 16).all() and tied.all()
    share = float((actions == 1).mean())
    assert abs(share - 0.5) < 0.04
    np.testing.assert_array_equal(actions, decide(0)[2])  # seeded
    assert not np.array_equal(actions, decide(1)[2])


def test_small_and_large_batches_decide_alike() -> None:
    """The row-by-row path (small batches) and the vectorised one give the same decisions."""
    import sys

    vote_module = sys.modules["spikerl.decoders.vote"]

    g = np.random.default_rng(1)
    scores = g.integers(0, 4, (500, 3)).astype(float)
    u = g.random(500)
    big = vote(scores, u)
    small = [vote_module._vote_rows(scores[i : i + 1], u[i : i + 1]) for i in range(500)]
    np.testing.assert_array_equal(big.actions, np.concatenate([d.actions for d in small]))
    np.testing.assert_array_equal(big.tied, np.concatenate([d.tied for d in small]))
    np.testing.assert_array_equal(big.margin, np.concatenate([d.margin for d in small]))
    with pytest.raises(ValueError, match="finite"):
        vote(np.array([[np.inf, 1.0]]), np.zeros(1))
