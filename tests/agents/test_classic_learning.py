"""Every classic-control preset learns: a short budget of its own preset (fixed seed, actions
decided by the spike vote, ties by a seeded draw) beats the uniform random policy by a clear
margin on the same greedy evaluation episodes. CartPole's check is
``tests/agents/test_rstdp.py::test_quick_learn_beats_random``; the long budgets and five seeds
are ``scripts/classic_control.py``."""

from __future__ import annotations

import numpy as np
import pytest

from spikerl.agents import RSTDP
from spikerl.agents.envs import make_agent_vec_env
from spikerl.agents.evaluation import greedy_episodes
from spikerl.agents.presets import TrainConfig, resolve

from .test_rstdp import StopAt

#: Greedy evaluation episodes (env seed 99) for the agent and the random policy alike.
EPISODES = 10
EVAL_SEED = 99


def _random_mean(cfg: TrainConfig, episodes: int, seed: int = 0) -> float:
    """Mean return of uniformly random actions on the recipe's env (Pendulum: its binned
    actions), on the same evaluation episodes as the agent."""
    env = make_agent_vec_env(cfg.env, 1, EVAL_SEED, cfg.env_overrides)
    env.action_space.seed(seed)
    env.reset()
    returns: list[float] = []
    ret = 0.0
    while len(returns) < episodes:
        _, r, done, _ = env.step(np.array([env.action_space.sample()]))
        ret += float(r[0])
        if done[0]:
            returns.append(ret)
            ret = 0.0
    env.close()
    return float(np.mean(returns))


def _learned_mean(
    name: str, steps: int, seed: int, full_schedule: bool
) -> tuple[float, float, float]:
    """(greedy mean before, greedy mean after ``steps`` of the preset, tie fraction after).

    With ``full_schedule`` the learning rates follow the preset's whole budget (as the first
    ``steps`` of a ``spikerl train`` run do); otherwise they decay over ``steps``."""
    cfg = resolve(name, "rstdp", None, {})
    env = make_agent_vec_env(cfg.env, 1, seed, cfg.env_overrides)
    model = RSTDP("SpikingPolicy", env, cfg.rstdp, seed=seed)

    def evaluate() -> tuple[float, float]:
        res = greedy_episodes(
            model, make_agent_vec_env(cfg.env, 1, EVAL_SEED, cfg.env_overrides), EPISODES
        )
        return res.mean, res.tie_fraction

    before, _ = evaluate()
    if full_schedule:
        model.learn(cfg.timesteps, callback=StopAt(steps))
    else:
        model.learn(steps)
    after, ties = evaluate()
    return before, after, ties


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "steps", "seed", "full_schedule", "margin"),
    [
        # Measured (seeds 1-3, 60k steps): -143.7, -143.2, -148.5; random -200 (no flag).
        ("MountainCar", 60_000, 1, False, 30.0),
        # Measured on the core (seeds 1-5, 60k steps): -1302, -997, -946, -1006, -1138
        # (the former private network: -1037, -1049, -1046 on seeds 1-3); random about
        # -1176. A short budget: 2 of those 5 seeds are not past random + 100 yet (the 500k
        # preset's reported seeds are, results/classic_control_Pendulum_core.json).
        ("Pendulum", 60_000, 2, False, 100.0),
        # The first 50k steps of the 500k preset, measured on seeds 1-3: -241, -500, -369
        # (random -500). Seed 2 has not left the random level by then: on a short budget
        # Acrobot's vote can still lock onto one action (the note reports it).
        ("Acrobot", 50_000, 1, True, 100.0),
    ],
)
def test_preset_beats_random(
    name: str, steps: int, seed: int, full_schedule: bool, margin: float
) -> None:
    cfg = resolve(name, "rstdp", None, {})
    random_mean = _random_mean(cfg, EPISODES)
    before, after, ties = _learned_mean(name, steps, seed, full_schedule)
    assert after > random_mean + margin, (name, before, after, random_mean)
    assert after > before + margin, (name, before, after)
    assert 0.0 <= ties < 0.5
