"""The Breakout ball/paddle baseline encoder (``kind: breakout_objects``, game-specific):
hand-made frames and real ALE frames, both locators, its kind name and deprecated alias."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikerl.agents.features import BreakoutFields


def _frame() -> np.ndarray:
    f = np.zeros((210, 160), dtype=np.uint8)
    f[190, 40:56] = 200  # paddle: columns 40..55 -> mean offset 39.5 from col 8
    f[121:125, 100:102] = 150  # ball: rows 121-124, columns 100-101
    return f


def test_locate_hand_made_frame_golden() -> None:
    fields = BreakoutFields()
    frames = np.stack([_frame(), np.zeros((210, 160), dtype=np.uint8)])
    bx, by, px, vis = fields._locate_numpy(frames)
    # paddle: columns 40..55 relative to 8 -> 32..47, mean 39.5, over a width of 144
    assert px[0] == pytest.approx(39.5 / 144)
    # ball on the half-resolution grid: rows 121, 123 -> (121-93)/2 = 14, 15; col 100 -> 46
    assert vis.tolist() == [True, False]
    assert bx[0] == pytest.approx(2 * 46 / 144)
    assert by[0] == pytest.approx(2 * 14.5 / 96)
    assert (bx[1], by[1], px[1]) == (0.5, 0.0, 0.5)  # empty frame: defaults


def test_compiled_and_numpy_locators_agree_on_real_frames() -> None:
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    env = gym.make("ALE/Breakout-v5", obs_type="grayscale", repeat_action_probability=0.0)
    obs, _ = env.reset(seed=0)
    frames = [obs]
    rng = np.random.default_rng(0)
    for _ in range(120):
        obs, _, term, trunc, _ = env.step(int(rng.integers(4)))
        frames.append(obs)
        if term or trunc:
            obs, _ = env.reset()
    env.close()
    batch = np.stack(frames)
    fields = BreakoutFields()
    ref = fields._locate_numpy(batch)
    assert ref[3].sum() > 20  # the ball was visible in most frames
    pairs = np.stack([batch[:-1], batch[1:]], axis=1)
    feats = fields(pairs)  # the compiled locator and fields, one call
    np.testing.assert_allclose(feats, fields.features_numpy(pairs), rtol=1e-12, atol=1e-15)
    assert feats.shape == (len(batch) - 1, fields.n_features)
    assert np.all((feats >= 0) & (feats <= 1))


@pytest.mark.parametrize("n_dir", [1, 3])
def test_compiled_features_equal_numpy_reference(n_dir: int) -> None:
    from spikerl.agents.features import BreakoutFieldsConfig

    fields = BreakoutFields(BreakoutFieldsConfig(n_dir=n_dir))
    a, b = _frame(), _frame()
    b[121:125, 100:102] = 0
    b[119:123, 96:98] = 150  # the ball moved left and up
    empty = np.zeros_like(a)
    obs = np.stack([np.stack([b, a]), np.stack([a, a]), np.stack([a, b]), np.stack([a, empty])])
    fast, ref = fields(obs), fields.features_numpy(obs)
    assert fast.shape == ref.shape == (4, fields.n_features)
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-15)
    assert ref[3, -2] == 1.0 and ref[3, :-2].sum() == 0.0  # no ball: only "no ball" and bias


@pytest.mark.parametrize(
    "shape", [(1, 84, 84), (1, 2, 84, 84), (1, 210, 160, 3), (210, 160), (0, 2, 210, 160)]
)
def test_wrong_frames_give_a_clear_error(shape: tuple[int, ...]) -> None:
    """Resized, RGB or unbatched frames are refused (the compiled locator does not bounds-check)."""
    with pytest.raises(ValueError, match="BreakoutFields expects grey ALE frames"):
        BreakoutFields()(np.zeros(shape, dtype=np.uint8))


def test_baseline_kind_name_and_deprecated_alias() -> None:
    """``breakout_objects`` builds the baseline; the old ``breakout`` still loads (saved
    configs), with a DeprecationWarning, and is written back under the new name."""
    from spikerl.agents.features import BreakoutFieldsConfig
    from spikerl.agents.presets import resolve
    from spikerl.config import to_plain

    over = {"rstdp": {"features": {"kind": "breakout_objects", "n_bins": 9}}}
    cfg = resolve("Breakout", agent="rstdp", overrides=over)
    assert cfg.rstdp.features == BreakoutFieldsConfig(n_bins=9)
    assert BreakoutFields.game_specific
    with pytest.warns(DeprecationWarning, match="'breakout' is deprecated"):
        old = resolve(
            "Breakout", agent="rstdp", overrides={"rstdp": {"features": {"kind": "breakout"}}}
        )
    assert old.rstdp.features == BreakoutFieldsConfig()
    assert to_plain(old.rstdp.features)["kind"] == "breakout_objects"


def test_model_saved_with_the_old_kind_name_loads(tmp_path: Path) -> None:
    """A run folder whose config.yaml says ``kind: breakout`` (written before the rename)
    resumes, and a model zip with the baseline encoder loads."""
    import yaml

    from spikerl.agents import RSTDP
    from spikerl.agents.envs import make_agent_vec_env
    from spikerl.agents.features import BreakoutFieldsConfig
    from spikerl.agents.presets import TrainConfig, build

    plain = {"env": "Breakout", "rstdp": {"features": {"kind": "breakout"}}}
    with pytest.warns(DeprecationWarning):
        cfg = build(TrainConfig, yaml.safe_load(yaml.safe_dump(plain)))
    assert isinstance(cfg.rstdp.features, BreakoutFieldsConfig)
    env = make_agent_vec_env("Breakout", 1, 0, {"atari.frame_stack": 2})
    model = RSTDP("SpikingPolicy", env, cfg.rstdp, seed=0)
    model.save(tmp_path / "m.zip")
    loaded = RSTDP.load(tmp_path / "m.zip")
    assert isinstance(loaded.policy.encoder.feature_map, BreakoutFields)  # type: ignore[union-attr]
    w = "input->action"
    np.testing.assert_array_equal(loaded.plastic_weights()[w], model.plastic_weights()[w])
