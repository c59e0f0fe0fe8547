"""Atari preprocessing, FIRE handling and stall guard on real ALE games (offline ROMs)."""

from __future__ import annotations

import numpy as np
import pytest

from spikerl.envs import make_base_env, make_env
from spikerl.envs.make import load_recipe


def test_atari_frames_come_from_gymnasium_preprocessing() -> None:
    env = make_base_env(load_recipe("Breakout"))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (84, 84) and obs.dtype == np.uint8
    assert env.get_wrapper_attr("frame_skip") == 4
    # gym.make got frameskip=1, so skipping is done once, by the preprocessing wrapper
    assert env.unwrapped._frameskip == 1
    env.close()


def _noop_episode(recipe_overrides: dict, limit: int) -> tuple[int, bool, int]:
    env = make_base_env(load_recipe("Breakout").with_overrides(**recipe_overrides))
    env.reset(seed=0)
    lives0 = env.unwrapped.ale.lives()
    for step in range(1, limit + 1):
        _, _, term, trunc, _info = env.step(0)  # NOOP only
        if term or trunc:
            return step, term, lives0
    return limit, False, lives0


def test_breakout_fire_wrapper_relaunches_ball() -> None:
    steps, terminated, lives0 = _noop_episode({}, 3000)
    assert terminated and lives0 == 5
    assert steps < 3000


def test_breakout_without_fire_never_launches() -> None:
    off = {
        "atari.fire_on_reset": False,
        "atari.fire_on_life_loss": False,
        "atari.stall_fire_after": None,
    }
    env = make_base_env(load_recipe("Breakout").with_overrides(**off))
    env.reset(seed=0)
    for _ in range(300):
        _, _, term, trunc, _ = env.step(0)
        assert not (term or trunc)
    assert env.unwrapped.ale.lives() == 5  # ball never launched, no life lost


def test_stall_guard_truncates() -> None:
    off = {
        "atari.fire_on_reset": False,
        "atari.fire_on_life_loss": False,
        "atari.stall_fire_after": None,
        "atari.stall_truncate_after": 50,
    }
    steps, terminated, _ = _noop_episode(off, 200)
    assert steps == 50 and not terminated


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_frame_stack_and_delta_override() -> None:
    env = make_env(
        "Pong",
        seed=0,
        time_steps=4,
        encoder={"kind": "delta", "threshold": 0.1},
        **{"atari.frame_stack": 2},
    )
    assert env.observation_space.shape == (4, 2, 2, 84, 84)
    obs, _ = env.reset(seed=0)
    assert obs.sum() == 0  # no previous frame yet
    total = 0.0
    for _ in range(30):
        obs, *_ = env.step(env.action_space.sample())
        total += float(obs.sum())
        assert obs[1:].sum() == 0  # FIRST_STEP timing
    assert total > 0  # something moved
