"""Preset lookup, recipes and overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spikerl.envs import EncoderKind, EnvRecipe, list_presets, load_recipe, make_env, preset_dir

EXPECTED = ["Acrobot", "Breakout", "CartPole", "MountainCar", "Pendulum", "Pong", "SpaceInvaders"]


def test_preset_dirs() -> None:
    envs = preset_dir("envs")
    assert (envs / "Breakout.yaml").is_file()
    assert preset_dir("agents").name == "agents"
    with pytest.raises(ValueError, match="unknown preset kind"):
        preset_dir("models")


def test_list_presets() -> None:
    assert list_presets() == EXPECTED


def test_unknown_name_lists_available() -> None:
    with pytest.raises(ValueError, match=r"neither a preset \(Acrobot, Breakout"):
        make_env("Breakout-v5")


@pytest.mark.parametrize("name", EXPECTED)
def test_recipe_round_trip(name: str) -> None:
    recipe = load_recipe(name)
    assert recipe.name == name
    assert EnvRecipe.from_dict(recipe.to_dict()) == recipe


def test_atari_recipes_record_protocol() -> None:
    for name in ("Breakout", "Pong", "SpaceInvaders"):
        r = load_recipe(name)
        assert r.id == f"ALE/{name}-v5"
        assert r.make_kwargs["frameskip"] == 1 and r.atari is not None and r.atari.frame_skip == 4
        assert r.make_kwargs["repeat_action_probability"] == 0.25
        assert r.atari.screen_size == 84 and r.atari.grayscale
    b = load_recipe("Breakout").atari
    assert b is not None and b.fire_on_reset and b.fire_on_life_loss


def test_overrides() -> None:
    r = load_recipe("CartPole")
    o = r.with_overrides(
        time_steps=32, encoder={"max_rate": 100.0}, **{"decoder.neurons_per_action": 4}
    )
    assert o.time_steps == 32
    assert o.encoder.params["max_rate"] == 100.0 and o.encoder.params["neurons_per_dim"] == 16
    assert o.decoder.params["neurons_per_action"] == 4
    swapped = load_recipe("Breakout").with_overrides(encoder={"kind": "delta", "threshold": 0.1})
    assert swapped.encoder.kind is EncoderKind.DELTA and swapped.encoder.params == {
        "threshold": 0.1
    }
    with pytest.raises(ValueError, match="unknown override"):
        r.with_overrides(time_step=3)


def test_bad_recipes(tmp_path: Path) -> None:
    base = load_recipe("CartPole").to_dict()
    with pytest.raises(ValueError, match="unknown recipe key"):
        EnvRecipe.from_dict({**base, "encoderr": {}})
    with pytest.raises(ValueError, match="unknown kind 'gauss'"):
        EnvRecipe.from_dict({**base, "encoder": {"kind": "gauss"}})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**base, "time_steps": 0}))
    with pytest.raises(ValueError, match="time_steps"):
        load_recipe(path)
    with pytest.raises(ValueError, match="bad parameters"):
        make_env("CartPole", encoder={"max_rat": 3.0})
