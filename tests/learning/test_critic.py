"""The linear TD(lambda) critic: hand-computed episodes and the agent's fused kernel."""

from __future__ import annotations

import numpy as np

from spikerl.learning import TDLambdaCritic


def _run(
    critic: TDLambdaCritic,
    episode: list[tuple[list[float], list[float], float, bool]],
    lr_fractions: list[float] | None = None,
    masks: list[float] | None = None,
) -> tuple[list[float], list[list[float]]]:
    """Batch-1 episode of (phi, phi_next, reward, terminated): TD errors and weights."""
    w, z = critic.initial_state(2, 1)
    deltas, weights = [], []
    for k, (phi, phi_next, r, done) in enumerate(episode):
        p = np.array([phi])
        critic.accumulate(z, p)
        mask = None if masks is None else np.array([masks[k]])
        out = critic.td_error(w, p, np.array([phi_next]), np.array([r]), np.array([done]), mask)
        rho = 1.0 if lr_fractions is None else lr_fractions[k]
        critic.update(w, z, p, out.delta, rho)
        deltas.append(float(out.delta[0]))
        weights.append(w.tolist())
    return deltas, weights


def test_three_step_episode_by_hand() -> None:
    """gamma = lam = lr = 1/2, rewards scaled by 2 and clipped at 3; all numbers exact.

    Step 1 (phi = [1, 0] -> [0, 1], r = 1): z = [1, 0]; r~ = 2; V(s) = V(s') = 0;
    delta = 2; w += 1/2 * 2 / 1 * z = [1, 0].
    Step 2 ([0, 1] -> [1, 1], r = 2): z = 1/4 [1, 0] + [0, 1] = [1/4, 1]; r~ = min(4, 3) = 3;
    V(s) = 0, V(s') = 1; delta = 3 + 1/2 - 0 = 7/2; w += 1/2 * 7/2 * z = [7/16, 7/4]
    -> w = [23/16, 7/4].
    Step 3 ([1, 1], terminal, r = -1): z = 1/4 [1/4, 1] + [1, 1] = [17/16, 5/4]; r~ = -2;
    V(s) = 51/16, no bootstrap; delta = -2 - 51/16 = -83/16; sum phi = 2:
    w += 1/2 * (-83/32) * z = [-1411/1024, -415/256] -> w = [61/1024, 33/256].
    """
    critic = TDLambdaCritic(gamma=0.5, lam=0.5, lr=0.5, reward_scale=2.0, reward_clip=3.0)
    episode = [
        ([1.0, 0.0], [0.0, 1.0], 1.0, False),
        ([0.0, 1.0], [1.0, 1.0], 2.0, False),
        ([1.0, 1.0], [1.0, 1.0], -1.0, True),
    ]
    deltas, weights = _run(critic, episode)
    assert deltas == [2.0, 3.5, -83 / 16]
    assert weights == [[1.0, 0.0], [23 / 16, 7 / 4], [61 / 1024, 33 / 256]]


def test_delta_clip_mask_and_schedule_by_hand() -> None:
    """delta clipped to +-1; a masked step learns nothing; the schedule halves the step.

    Step 1 ([1, 0], r = 5, rho = 1/2): z = [1, 0]; delta = clip(5) = 1;
    w += 1/2 * 1/2 * 1 * z = [1/4, 0].
    Step 2 ([1, 0] -> [1, 0], r = 0, masked): z = [3/2, 0] (decay 1/2); delta = 0.
    Step 3 ([0, 2] -> [1, 0], r = 0, rho = 1): z = [3/4, 2]; V(s) = 0, V(s') = 1/4;
    delta = 1/2 * 1/4 = 1/8; sum phi = 2: w += 1/2 * 1/16 * z = [3/128, 1/16]
    -> w = [35/128, 1/16].
    """
    critic = TDLambdaCritic(gamma=0.5, lam=1.0, lr=0.5, delta_clip=1.0)
    episode = [
        ([1.0, 0.0], [1.0, 0.0], 5.0, False),
        ([1.0, 0.0], [1.0, 0.0], 0.0, False),
        ([0.0, 2.0], [1.0, 0.0], 0.0, False),
    ]
    deltas, weights = _run(critic, episode, lr_fractions=[0.5, 1.0, 1.0], masks=[1, 0, 1])
    assert deltas == [1.0, 0.0, 1 / 8]
    assert weights == [[0.25, 0.0], [0.25, 0.0], [35 / 128, 1 / 16]]


def test_reset_zeroes_only_the_starting_traces() -> None:
    critic = TDLambdaCritic()
    trace = np.ones((3, 2))
    critic.reset(trace, np.array([False, True, False]))
    assert trace.tolist() == [[1, 1], [0, 0], [1, 1]]


def test_shape_rewards_scale_then_clip() -> None:
    r = TDLambdaCritic(reward_scale=0.1, reward_clip=1.0).shape_rewards(np.array([-16.0, 5.0]))
    np.testing.assert_array_equal(r, [-1.0, 0.5])
    raw = np.array([3, -2], dtype=np.int64)
    out = TDLambdaCritic().shape_rewards(raw)
    assert out.dtype == np.float64 and out.tolist() == [3.0, -2.0]
