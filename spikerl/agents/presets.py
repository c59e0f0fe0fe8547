"""Typed run configuration: agent presets (``agents/*.yaml``) plus ``key=value`` overrides.

``agents/rstdp.yaml`` is keyed by environment short name (rl-baselines3-zoo style); the
``default`` entry fills what an environment's entry leaves out. Every key is checked
against the dataclasses below: an unknown or malformed key raises :class:`ConfigError`
naming it.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from spikerl.agents.features import (
    AutoFeaturesConfig,
    BreakoutFieldsConfig,
    GaussianFieldsConfig,
    OneHotConfig,
    PixelGridConfig,
)
from spikerl.agents.rstdp import FeatureConfig, RSTDPConfig
from spikerl.agents.sb3.factory import SB3Config
from spikerl.agents.validation import check_number, check_numbers_in, yaml_number_hint


class ConfigError(ValueError):
    """A malformed configuration: names the offending key."""


FEATURE_KINDS: dict[str, type[Any]] = {
    "auto": AutoFeaturesConfig,
    "gaussian": GaussianFieldsConfig,
    "onehot": OneHotConfig,
    "pixels": PixelGridConfig,
    "breakout": BreakoutFieldsConfig,
}
AGENTS = ("rstdp", "ppo", "a2c", "dqn")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a ``spikerl train`` run needs (saved as ``config.yaml`` in the run).

    Attributes:
        env: Environment short name (``envs/<env>.yaml``).
        agent: Agent family (``agents/<agent>.yaml``).
        timesteps: Environment steps to train (summed over envs).
        seed: Seed of weights, spikes and environments.
        n_envs: Environments stepped as one batch.
        device: Torch device (the R-STDP step runs on CPU).
        eval_freq: Environment steps between evaluations (0: only at the end).
        eval_episodes: Greedy episodes per evaluation.
        final_eval_episodes: Greedy episodes of the final evaluation of the best model.
        checkpoint_freq: Environment steps between checkpoints.
        env_overrides: Overrides of the environment recipe (dotted keys).
        track: Log to wandb (offline into the run folder without an API key).
        wandb_project: wandb project name.
        video: Record an episode video (MP4) at the final evaluation.
        tensorboard: Write TensorBoard event files into ``<run>/tensorboard``.
        rstdp: Agent settings (``agent: rstdp``).
        sb3: Policy, hyperparameters and policy_kwargs of SB3's PPO, A2C or DQN
            (``agent: ppo | a2c | dqn``; :class:`~spikerl.agents.sb3.factory.SB3Config`).
    """

    env: str = "CartPole"
    agent: str = "rstdp"
    timesteps: int = 100_000
    seed: int = 0
    n_envs: int = 1
    device: str = "cpu"
    eval_freq: int = 10_000
    eval_episodes: int = 5
    final_eval_episodes: int = 10
    checkpoint_freq: int = 50_000
    env_overrides: dict[str, Any] = field(default_factory=dict)
    track: bool = False
    wandb_project: str = "spikerl"
    video: bool = False
    tensorboard: bool = False
    rstdp: RSTDPConfig = field(default_factory=RSTDPConfig)
    sb3: SB3Config = field(default_factory=SB3Config)


def agent_preset_dir() -> Path:
    """The folder of agent presets (wheel: ``spikerl/_presets/agents``; source: ``agents/``)."""
    try:
        from spikerl.envs.presets import preset_dir

        return preset_dir("agents")
    except ImportError:  # envs package not available: look beside the package
        pkg = Path(__file__).resolve().parent.parent
        for cand in (pkg / "_presets" / "agents", pkg.parent / "agents"):
            if cand.is_dir():
                return cand
        raise FileNotFoundError("no agents preset folder found") from None


def _convert(tp: Any, value: Any, path: str) -> Any:
    """Convert a YAML value to the annotated type ``tp`` (raises ConfigError)."""
    origin = typing.get_origin(tp)
    if tp is FeatureConfig or (
        origin in (typing.Union, types.UnionType)
        and any(t in FEATURE_KINDS.values() for t in typing.get_args(tp))
    ):
        if is_dataclass(value):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping with 'kind', got {value!r}")
        data = dict(value)
        kind = data.pop("kind", "auto")
        if kind not in FEATURE_KINDS:
            raise ConfigError(f"{path}.kind: unknown {kind!r}; options: {sorted(FEATURE_KINDS)}")
        return build(FEATURE_KINDS[kind], data, path)
    if is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return build(tp, value, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            opts = [m.value for m in tp]
            raise ConfigError(f"{path}: {value!r} is not one of {opts}") from None
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                check_number(path, int(value))
                return int(value)
            raise ConfigError(
                f"{path}: expected an integer, got {value!r}{yaml_number_hint(value)}"
            )
        check_number(path, value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {value!r}{yaml_number_hint(value)}")
        check_number(path, float(value))
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    if origin in (typing.Sequence, list, tuple) or str(tp).startswith("collections.abc.Sequence"):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        return tuple(_convert(float, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        check_numbers_in(path, value)
        return dict(value)
    if origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp):
        rest = [t for t in typing.get_args(tp) if t is not type(None)]
        if value is None:
            return None
        if len(rest) == 1:
            return _convert(rest[0], value, path)
    return value


def build(cls: type[Any], data: dict[str, Any], path: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys by name."""
    if not isinstance(data, dict):
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}expected a mapping of keys, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    for key in data:
        if key not in names:
            full = f"{path}.{key}" if path else str(key)
            raise ConfigError(f"unknown config key {full!r}; valid keys here: {sorted(names)}")
    kwargs = {k: _convert(hints[k], v, f"{path}.{k}" if path else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path or cls.__name__}: {exc}") from exc


def to_dict(obj: Any) -> Any:
    """A dataclass config as plain YAML-able data (feature configs get their ``kind``)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_dict(getattr(obj, f.name)) for f in fields(obj)}
        for kind, cls in FEATURE_KINDS.items():
            if type(obj) is cls:
                out = {"kind": kind, **out}
        return out
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, tuple | list):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "features":
            out[k] = _merge(out[k], v)
        elif k == "features" and isinstance(v, dict) and isinstance(out.get(k), dict):
            same = v.get("kind", out[k].get("kind")) == out[k].get("kind")
            out[k] = _merge(out[k], v) if same else dict(v)
        else:
            out[k] = v
    return out


def read_agent_presets(agent: str) -> dict[str, Any]:
    """The raw preset mapping of ``agents/<agent>.yaml`` (env name -> settings)."""
    if agent not in AGENTS:
        raise ConfigError(f"unknown agent {agent!r}; options: {list(AGENTS)}")
    folder = agent_preset_dir()
    for ext in ("yaml", "yml"):
        p = folder / f"{agent}.{ext}"
        if p.is_file():
            data = yaml.safe_load(p.read_text()) or {}
            if not isinstance(data, dict):
                raise ConfigError(f"{p}: expected a mapping of environment names")
            return data
    raise ConfigError(f"no preset file for agent {agent!r} in {folder}")


def preset_dict(agent: str, env: str) -> dict[str, Any]:
    """Merged ``default`` + ``<env>`` preset of ``agent`` as a TrainConfig mapping."""
    presets = read_agent_presets(agent)
    data = _merge(presets.get("default", {}) or {}, presets.get(env, {}) or {})
    return {"env": env, "agent": agent, **data}


def load_agent_preset(agent: str, env: str) -> RSTDPConfig:
    """The agent settings of ``agent`` for ``env`` (``default`` when env has no entry)."""
    cfg: TrainConfig = build(TrainConfig, preset_dict(agent, env))
    return cfg.rstdp


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["rstdp.learn.lr_actor=0.3", ...]`` -> nested mapping (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.constructor.ConstructorError:
            raise ConfigError(
                f"--set {key}: refused value {raw!r} (YAML tags that build Python objects are "
                f"never read)"
            ) from None
        except yaml.YAMLError as exc:
            first = " ".join(str(exc).split())[:200]
            raise ConfigError(f"--set {key}: malformed value {raw!r} ({first})") from None
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {p} is not a mapping")
        node[parts[-1]] = value
    return out


def resolve(
    env: str,
    agent: str = "rstdp",
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> TrainConfig:
    """Preset (default + env) <- config file <- overrides -> a checked TrainConfig."""
    data = preset_dict(agent, env)
    if config_file is not None:
        from spikerl.agents.validation import read_yaml_mapping

        data = _merge(data, read_yaml_mapping(Path(config_file), "config"))
    if overrides:
        data = _merge(data, overrides)
    return build(TrainConfig, data)


def replace(cfg: TrainConfig, **changes: Any) -> TrainConfig:
    """``dataclasses.replace`` for TrainConfig."""
    return dataclasses.replace(cfg, **changes)
