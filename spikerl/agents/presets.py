"""Typed run configuration: agent presets (``agents/*.yaml``) plus ``key=value`` overrides.

``agents/rstdp.yaml`` is keyed by environment short name (rl-baselines3-zoo style); the
``default`` entry fills what an environment's entry leaves out. Every key is checked
against the dataclasses below by the project's one config system (:mod:`spikerl.config`,
on pydantic): an unknown or malformed key raises :class:`ConfigError` naming it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spikerl.agents.rstdp import RSTDPConfig
from spikerl.agents.sb3.factory import SB3Config
from spikerl.config import ConfigError as ConfigError
from spikerl.config import feature_kinds, merge, to_plain, validate
from spikerl.config import parse_set as parse_set

FEATURE_KINDS: dict[str, type[Any]] = feature_kinds()
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


def build(cls: type[Any], data: dict[str, Any], path: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping (:func:`spikerl.config.validate`): unknown
    keys refused by name with a suggestion, types and ranges checked."""
    return validate(cls, data, path)


def to_dict(obj: Any) -> Any:
    """A dataclass config as plain YAML-able data (:func:`spikerl.config.to_plain`;
    feature configs get their ``kind``)."""
    return to_plain(obj)


_merge = merge  # the one merge rule (a mapping with another ``kind`` replaces, else merges)


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
