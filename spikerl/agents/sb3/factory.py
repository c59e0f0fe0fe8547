"""Build SB3 models (PPO, A2C, DQN) with spiking or SB3 policies from plain settings.

Presets (``agents/ppo.yaml``, ``agents/a2c.yaml``, ``agents/dqn.yaml``) hold plain values:
SB3 hyperparameters (rl-baselines3-zoo style; ``"lin_<x>"`` is a schedule decaying
linearly from ``x`` to 0 over training) and ``policy_kwargs`` whose spiking settings are
JSON values (``surrogate: {kind: ATan, alpha: 2.0}``, ``readout: membrane``; see
:func:`~spikerl.agents.sb3.config.config_from_dict`). This module turns them into objects
and the model.

Example:
    >>> env = sb3_vec_env("CartPole", n_envs=8, seed=0)
    >>> model = make_sb3_model("ppo", env, seed=0, policy="SpikingMlpPolicy",
    ...                        hyperparams={"n_steps": 32}, policy_kwargs={"time_steps": 4})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from spikerl.agents.sb3.algorithms import A2C, DQN, PPO
from spikerl.agents.sb3.config import SpikingConfig, config_from_dict, config_to_dict
from spikerl.agents.sb3.policies import register_policies

__all__ = [
    "SB3_ALGOS",
    "SB3Config",
    "build_sb3_model",
    "is_sb3_agent",
    "load_sb3_preset",
    "make_sb3_model",
    "merge_presets",
    "model_class_of",
    "non_spiking_kwargs",
    "parse_hyperparams",
    "policy_kwargs_from_dict",
    "policy_kwargs_to_dict",
    "sb3_env_fn",
    "sb3_vec_env",
]

SB3_ALGOS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN}
"""The SB3 algorithms ``spikerl train --algo`` runs, by name (with pickle-free save/load:
:mod:`spikerl.agents.sb3.algorithms`)."""


@dataclass(frozen=True)
class SB3Config:
    """The ``sb3`` section of a run config (``agents/ppo.yaml``, ``a2c.yaml``, ``dqn.yaml``).

    Attributes:
        policy: Policy name: ``"SpikingMlpPolicy"``, ``"SpikingCnnPolicy"`` or SB3's own
            (``"MlpPolicy"``, ``"CnnPolicy"``).
        hyperparams: Keyword arguments of the algorithm as plain values
            (see :func:`parse_hyperparams`).
        policy_kwargs: Policy keyword arguments as plain values (see
            :func:`policy_kwargs_from_dict`).
    """

    policy: str = "SpikingMlpPolicy"
    hyperparams: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.policy, str) or not self.policy:
            raise ValueError(f"policy must be a policy name, got {self.policy!r}")
        for name in ("hyperparams", "policy_kwargs"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a mapping, got {getattr(self, name)!r}")


_SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")
_SHAPE_KEYS = ("layers", "features_dim", "net_arch")


def merge_presets(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``top``, mappings merged recursively."""
    out = dict(base)
    for key, value in top.items():
        old = out.get(key)
        out[key] = (
            merge_presets(old, value)
            if isinstance(old, dict) and isinstance(value, dict)
            else value
        )
    return out


def load_sb3_preset(algo: str, env: str) -> dict[str, Any]:
    """The preset of ``algo`` for ``env``: ``agents/<algo>.yaml``'s ``default`` entry merged
    with the environment's entry (plain values).

    Raises:
        ValueError: An unknown algorithm or an environment without an entry (lists them).
    """
    import yaml

    from spikerl.envs.presets import preset_dir

    if algo not in SB3_ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; expected one of {sorted(SB3_ALGOS)}")
    data = yaml.safe_load((preset_dir("agents") / f"{algo}.yaml").read_text())
    if env not in data:
        names = sorted(k for k in data if k != "default")
        raise ValueError(f"agents/{algo}.yaml has no entry for {env!r}; entries: {names}")
    return merge_presets(data.get("default") or {}, data[env] or {})


def parse_hyperparams(hyperparams: dict[str, Any]) -> dict[str, Any]:
    """SB3 keyword arguments from plain values (``"lin_<x>"`` strings become SB3's
    ``LinearSchedule(x, 0, 1)``: ``x * progress_remaining``, saved without pickling).

    Raises:
        ValueError: A malformed schedule string, naming the key.
    """
    out = dict(hyperparams)
    for key in _SCHEDULED:
        value = out.get(key)
        if isinstance(value, str):
            if not value.startswith("lin_"):
                raise ValueError(f"{key}: expected a number or 'lin_<x>', got {value!r}")
            try:
                out[key] = LinearSchedule(float(value[4:]), 0.0, 1.0)
            except ValueError as exc:
                raise ValueError(f"{key}: expected 'lin_<number>', got {value!r}") from exc
    return out


def policy_kwargs_from_dict(d: dict[str, Any]) -> dict[str, Any]:
    """Policy keyword arguments with spiking settings as objects (plain values in ``d``).

    Keys that are :class:`SpikingConfig` fields are parsed by
    :func:`~spikerl.agents.sb3.config.config_from_dict` (so they are validated); the others
    (``layers``, ``features_dim``, SB3's own) pass unchanged, lists of layer sizes as lists.
    """
    spiking = {k: v for k, v in d.items() if k in SpikingConfig.keys()}
    out = {
        k: (list(v) if k in _SHAPE_KEYS and isinstance(v, list | tuple) else v)
        for k, v in d.items()
        if k not in spiking
    }
    if spiking:
        config = config_from_dict(spiking)
        out.update({k: getattr(config, k) for k in spiking})
    return out


def policy_kwargs_to_dict(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`policy_kwargs_from_dict`: spiking settings as plain JSON values."""
    spiking = {k: v for k, v in kwargs.items() if k in SpikingConfig.keys()}
    out = {k: v for k, v in kwargs.items() if k not in spiking}
    plain = config_to_dict(SpikingConfig(**spiking))
    out.update({k: plain[k] for k in spiking})
    return out


def sb3_env_fn(name: str, overrides: dict[str, Any] | None = None) -> gym.Env:
    """One environment from a recipe (``envs/<name>.yaml`` or a Gymnasium id), as SB3 sees it.

    The recipe's base environment (:func:`~spikerl.envs.make.make_base_env`: for Atari the
    v5 protocol, AtariPreprocessing, FIRE on reset and life loss, stall guard and frame
    stacking) without spike encoding: the spiking policies encode observations themselves.
    """
    from spikerl.envs.make import load_recipe, make_base_env

    recipe = load_recipe(name)
    if overrides:
        recipe = recipe.with_overrides(**overrides)
    return make_base_env(recipe)


def sb3_vec_env(
    name: str,
    n_envs: int,
    seed: int,
    overrides: dict[str, Any] | None = None,
    monitor_dir: str | None = None,
) -> VecEnv:
    """``n_envs`` Monitor-wrapped :func:`sb3_env_fn` copies in a ``DummyVecEnv`` (env i
    seeded ``seed + i``)."""
    sb3_env_fn(name, overrides).close()  # fail early (unknown name, bad override)
    return make_vec_env(
        lambda: sb3_env_fn(name, overrides),
        n_envs=n_envs,
        seed=seed,
        monitor_dir=monitor_dir,
        vec_env_cls=DummyVecEnv,
    )


def is_sb3_agent(agent: str) -> bool:
    """Whether ``agent`` (a run config's ``agent``) is one of :data:`SB3_ALGOS`."""
    return agent in SB3_ALGOS


def model_class_of(path: Any) -> type[BaseAlgorithm]:
    """The class that loads the model zip at ``path``: the SB3 algorithm its ``data`` names
    (``algo_name``, written by :mod:`spikerl.agents.sb3.algorithms`), else RSTDP.

    Reads the zip's ``data`` JSON only (nothing decoded or unpickled).

    Raises:
        FileNotFoundError: No such file.
        CheckpointError: Not a model zip, or an unknown ``algo_name``.
    """
    from spikerl.agents.persistence import CheckpointError, read_data_json

    name = read_data_json(path).get("algo_name")
    if name is None:
        from spikerl.agents.rstdp import RSTDP

        return RSTDP
    if name not in SB3_ALGOS:
        raise CheckpointError(f"{path}: unknown algo_name {name!r}; expected {sorted(SB3_ALGOS)}")
    return SB3_ALGOS[str(name)]


def non_spiking_kwargs(policy_kwargs: dict[str, Any], policy: str) -> dict[str, Any]:
    """A spiking preset's policy kwargs for one of SB3's own policies.

    ``layers`` becomes ``net_arch`` (the same sizes); the spiking settings (``features_dim``
    and the :class:`SpikingConfig` fields) do not apply and are dropped with a note on
    stderr that names them, so that ``--set sb3.policy=MlpPolicy`` gives the non-spiking
    twin of a preset.
    """
    import sys

    out = dict(policy_kwargs)
    dropped = sorted(k for k in out if k in SpikingConfig.keys() or k == "features_dim")
    for k in dropped:
        del out[k]
    if "layers" in out:
        out.setdefault("net_arch", list(out["layers"]))
        del out["layers"]
    if dropped:
        print(
            f"spikerl: note: {policy} is not a spiking policy; ignoring the spiking "
            f"policy_kwargs {dropped}",
            file=sys.stderr,
        )
    return out


def build_sb3_model(cfg: Any, env: VecEnv) -> BaseAlgorithm:
    """The model of a run config (:class:`~spikerl.agents.presets.TrainConfig` with an SB3
    ``agent``): ``make_sb3_model(cfg.agent, env, cfg.seed, **cfg.sb3, device=cfg.device)``.

    Raises:
        ConfigError: A setting SB3 or the spiking policy refuses (the message names it).
    """
    from spikerl.agents.presets import ConfigError

    s = cfg.sb3
    policy_kwargs = dict(s.policy_kwargs)
    if not s.policy.startswith("Spiking"):
        policy_kwargs = non_spiking_kwargs(policy_kwargs, s.policy)
    try:
        return make_sb3_model(
            cfg.agent, env, cfg.seed, s.policy, s.hyperparams, policy_kwargs, device=cfg.device
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"sb3 settings of agent {cfg.agent!r}: {exc}") from exc


def make_sb3_model(
    algo: str,
    env: VecEnv,
    seed: int,
    policy: str,
    hyperparams: dict[str, Any] | None = None,
    policy_kwargs: dict[str, Any] | None = None,
    device: str = "cpu",
    **kwargs: Any,
) -> BaseAlgorithm:
    """An SB3 ``PPO``/``A2C``/``DQN`` from plain settings.

    Args:
        algo: ``"ppo"``, ``"a2c"`` or ``"dqn"``.
        env: The training environments.
        seed: Seed of weights, exploration and SB3's RNGs.
        policy: A policy name (``"SpikingMlpPolicy"``, ``"SpikingCnnPolicy"``,
            ``"MlpPolicy"``, ``"CnnPolicy"``).
        hyperparams: The algorithm's keyword arguments (see :func:`parse_hyperparams`).
        policy_kwargs: Policy keyword arguments as plain values (see
            :func:`policy_kwargs_from_dict`).
        device: Torch device.
        **kwargs: Further keyword arguments of the algorithm (``verbose``,
            ``tensorboard_log``).

    Raises:
        ValueError: An unknown algorithm or policy name.
    """
    register_policies()
    if algo not in SB3_ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; expected one of {sorted(SB3_ALGOS)}")
    cls = SB3_ALGOS[algo]
    if policy not in cls.policy_aliases:
        raise ValueError(
            f"unknown policy {policy!r} for {cls.__name__}; expected one of "
            f"{sorted(cls.policy_aliases)}"
        )
    params = parse_hyperparams(hyperparams or {})
    pk = policy_kwargs_from_dict(policy_kwargs or {})
    return cls(policy, env, seed=seed, device=device, policy_kwargs=pk, **params, **kwargs)
