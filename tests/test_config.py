"""The one config system (spikerl.config): agents, env recipes and MNIST settings share the
validation, the messages, the suggestions and the serialiser."""

from __future__ import annotations

import dataclasses

import pytest

from spikerl.agents.features import GaussianFieldsConfig
from spikerl.agents.presets import TrainConfig, preset_dict, resolve
from spikerl.config import ConfigError, merge, parse_set, to_plain, validate
from spikerl.envs import load_recipe
from spikerl.envs.recipe import EnvRecipe
from spikerl.tasks.mnist import MnistSettings, parse_args


def test_unknown_keys_get_a_suggestion_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match=r"'rstdp\.learn\.lr_actr'.*did you mean 'lr_actor'"):
        resolve("CartPole", overrides=parse_set(["rstdp.learn.lr_actr=0.3"]))
    with pytest.raises(ConfigError, match=r"unknown recipe key 'atari\.frame_skp'.*'frame_skip'"):
        EnvRecipe.from_dict({**load_recipe("Breakout").to_dict(), "atari": {"frame_skp": 2}})
    with pytest.raises(SystemExit):
        parse_args(["--set", "neuronz=3"])
    assert "did you mean 'neurons'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"features\.kind: unknown 'gauss'.*'gaussian'"):
        resolve("CartPole", overrides={"rstdp": {"features": {"kind": "gauss"}}})


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"timesteps": "1e5"}, "timesteps: expected an integer, got '1e5' (YAML 1.1"),
        ({"track": "yes"}, "track: expected true/false, got 'yes'"),
        ({"rstdp": {"learn": {"modulation": "tdd"}}}, "is not one of ['td_error', 'reward']"),
        ({"rstdp": {"features": {"kind": "gaussian", "low": [1, "a"]}}}, "low[1]: expected a"),
        ({"rstdp": {"network": {"hidden": 2.5}}}, "rstdp.network.hidden: expected an integer"),
        ({"rstdp": 5}, "rstdp: expected a mapping, got 5"),
        ({"env_overrides": {"a": float("nan")}}, "env_overrides.a: nan is not a finite"),
        ({"sb3": {"policy": ""}}, "sb3: policy must be a policy name"),
    ],
)
def test_messages_name_the_key(override: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate(TrainConfig, merge(preset_dict("rstdp", "CartPole"), override))
    assert needle in str(info.value)


def test_integer_valued_floats_and_kinds() -> None:
    cfg = validate(TrainConfig, merge(preset_dict("rstdp", "CartPole"), {"timesteps": 1000.0}))
    assert cfg.timesteps == 1000 and isinstance(cfg.timesteps, int)
    assert isinstance(cfg.rstdp.features, GaussianFieldsConfig)
    swapped = merge(preset_dict("rstdp", "CartPole"), {"rstdp": {"features": {"kind": "onehot"}}})
    assert to_plain(validate(TrainConfig, swapped).rstdp.features) == {
        "kind": "onehot",
        "bias": True,
        "copies": 8,
    }


@pytest.mark.parametrize("env", ["CartPole", "Breakout", "Pendulum"])
def test_round_trips(env: str) -> None:
    cfg = resolve(env)
    assert validate(TrainConfig, to_plain(cfg)) == cfg
    recipe = load_recipe(env)
    assert EnvRecipe.from_dict(recipe.to_dict()) == recipe
    settings = parse_args(["--mode", "surrogate", "--set", "limit=100"])
    assert validate(MnistSettings, to_plain(settings)) == settings
    assert settings.limit == 100 and settings.neurons == 800


def test_saved_config_is_the_one_serialiser() -> None:
    """The model zip's readable config and the run's config.yaml come from to_plain."""
    from spikerl.agents.rstdp import RSTDP

    cfg = resolve("CartPole")
    model = RSTDP("SpikingPolicy", "CartPole-v1", cfg.rstdp, seed=0)
    assert model.config_dict == to_plain(cfg)["rstdp"]
    assert dataclasses.is_dataclass(validate(type(cfg.rstdp), model.config_dict))
