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


def test_native_frames_are_the_emulators_own_skipping_at_full_resolution() -> None:
    """``atari.frames: native``: ALE repeats each action 4 frames (no max-pool) and the frame
    is the full 210 x 160 screen, equal to a bare ``gym.make(..., frameskip=4)`` driven by the
    same actions; ``gymnasium`` resizes to 84 x 84."""
    import gymnasium as gym

    recipe = load_recipe("Breakout").with_overrides(
        **{"atari.frames": "native", "atari.fire_on_reset": False, "atari.fire_on_life_loss": False,
           "atari.stall_fire_after": None, "atari.stall_truncate_after": None}
    )  # fmt: skip
    native = make_base_env(recipe)
    bare = gym.make(
        "ALE/Breakout-v5", frameskip=4, obs_type="grayscale", repeat_action_probability=0.25,
        full_action_space=False, max_num_frames_per_episode=108000,
    )  # fmt: skip
    a, _ = native.reset(seed=5)
    b, _ = bare.reset(seed=5)
    assert a.shape == (210, 160) and a.dtype == np.uint8
    rng = np.random.default_rng(0)
    for _ in range(60):
        act = int(rng.integers(4))
        a, ra, *_ = native.step(act)
        b, rb, *_ = bare.step(act)
        np.testing.assert_array_equal(a, b)
        assert ra == rb
    small, _ = make_base_env(load_recipe("Breakout")).reset(seed=5)
    assert small.shape == (84, 84)
    with pytest.raises(ValueError, match="native has no no-op starts"):
        make_base_env(recipe.with_overrides(**{"atari.noop_max": 30}))
    with pytest.raises(ValueError, match=r"frames"):
        load_recipe("Breakout").with_overrides(**{"atari.frames": "resized"})


def test_rstdp_atari_presets_choose_native_frames_in_their_saved_overrides() -> None:
    from spikerl.agents.envs import make_agent_vec_env
    from spikerl.agents.presets import resolve
    from spikerl.envs.recipe import AtariFrames

    for name in ("Breakout", "Pong", "SpaceInvaders"):
        cfg = resolve(name, "rstdp", None, {})
        assert cfg.env_overrides["atari.frames"] == "native"
        recipe = load_recipe(name).with_overrides(**cfg.env_overrides)
        assert recipe.atari is not None and recipe.atari.frames is AtariFrames.NATIVE
    env = make_agent_vec_env("Breakout", 1, 0, {"atari.frame_stack": 2})  # the recipe's own
    assert env.observation_space.shape == (2, 84, 84)
    env.close()


def test_rstdp_agent_trains_on_the_recipes_resized_frames_too() -> None:
    """The generic pixel encoder reads any frame shape: the R-STDP agent on the recipe's
    AtariPreprocessing frames (84 x 84, ``atari.frames: gymnasium``) trains and decides."""
    from spikerl.agents import RSTDP
    from spikerl.agents.envs import make_agent_vec_env
    from spikerl.agents.presets import resolve

    cfg = resolve("Breakout", "rstdp", None, {"env_overrides": {"atari.frames": "gymnasium"}})
    env = make_agent_vec_env(cfg.env, 1, 0, cfg.env_overrides)
    assert env.observation_space.shape == (2, 84, 84)
    model = RSTDP("SpikingPolicy", env, cfg.rstdp, seed=0)
    (w0,) = model.plastic_weights().values()
    model.learn(300)
    (w,) = model.plastic_weights().values()
    assert np.isfinite(w).all() and not np.array_equal(w, w0)
    env.close()
