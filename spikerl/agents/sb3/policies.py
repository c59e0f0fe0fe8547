"""Spiking policies for SB3's own PPO, A2C and DQN, and their registration by name.

After ``import spikerl.agents``, SB3 users write::

    PPO("SpikingMlpPolicy", env, policy_kwargs=dict(layers=[64, 64], time_steps=4))
    PPO("SpikingCnnPolicy", atari_env)
    A2C("SpikingMlpPolicy", env)
    DQN("SpikingMlpPolicy", env, policy_kwargs=dict(layers=[256, 256]))

or pass the classes directly (``PPO(SpikingActorCriticPolicy, env)``). The policies are
SB3's :class:`~stable_baselines3.common.policies.ActorCriticPolicy` and
:class:`~stable_baselines3.dqn.policies.DQNPolicy` with a spiking feature extractor
(:mod:`spikerl.agents.sb3.extractors`) and these defaults:

* ``net_arch=[]``: no non-spiking hidden layers after the extractor, so SB3's linear heads
  read the spiking readout directly (logits, values and Q-values are membrane potentials of
  leaky output neurons by default; see :class:`~spikerl.agents.sb3.config.Readout`).
* MLP actor-critics: ``share_features_extractor=False`` (separate spiking actor and critic,
  as SB3's ``MlpPolicy`` has separate actor and critic networks); CNN: shared, as SB3's
  ``CnnPolicy``.

``policy_kwargs`` take SB3's own arguments plus the spiking ones, which are passed to the
extractor: ``layers`` (MLP LIF layer sizes) or ``features_dim`` (CNN), and the
:class:`~spikerl.agents.sb3.config.SpikingConfig` fields ``time_steps``, ``neuron``,
``surrogate``, ``readout``, ``encoding``, ``backend``, ``tau_out``, ``dt``,
``detach_reset``. Any other name raises a ``TypeError`` that lists the accepted ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import gymnasium as gym
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.dqn.policies import DQNPolicy

from spikerl.agents.sb3.config import SpikingConfig
from spikerl.agents.sb3.extractors import SpikingCnnExtractor, SpikingMlpExtractor

__all__ = [
    "POLICY_ALIASES",
    "SpikingActorCriticCnnPolicy",
    "SpikingActorCriticPolicy",
    "SpikingDQNCnnPolicy",
    "SpikingDQNPolicy",
    "register_policies",
]

MLP_KEYS: tuple[str, ...] = ("layers", *SpikingConfig.keys())
CNN_KEYS: tuple[str, ...] = ("features_dim", *SpikingConfig.keys())
_FIXED = {"self", "observation_space", "action_space", "lr_schedule"}


def route_kwargs(
    kwargs: dict[str, Any],
    base_init: Callable[..., None],
    spiking_keys: tuple[str, ...],
    extractor: type,
    owner: str,
) -> dict[str, Any]:
    """SB3 keyword arguments with the spiking ones moved into ``features_extractor_kwargs``.

    Args:
        kwargs: The policy's keyword arguments (SB3's and spiking ones mixed).
        base_init: The SB3 base class ``__init__`` (its parameters are SB3's names).
        spiking_keys: The names the spiking extractor accepts.
        extractor: The default extractor class.
        owner: The policy's name (for errors).

    Returns:
        Keyword arguments for ``base_init`` (``features_extractor_class`` defaults to
        ``extractor``).

    Raises:
        TypeError: An unknown name, a setting given twice, or spiking settings for a
            non-spiking ``features_extractor_class``.
    """
    sb3_keys = set(inspect.signature(base_init).parameters) - _FIXED
    out = dict(kwargs)
    spiking = {k: out.pop(k) for k in spiking_keys if k in out}
    unknown = sorted(set(out) - sb3_keys)
    if unknown:
        raise TypeError(
            f"{owner} got unknown policy_kwargs {unknown}; spiking ones: {list(spiking_keys)}; "
            f"SB3's: {sorted(sb3_keys)}"
        )
    fe_kwargs = dict(out.get("features_extractor_kwargs") or {})
    twice = sorted(set(fe_kwargs) & set(spiking))
    if twice:
        raise TypeError(f"{owner}: {twice} given both directly and in features_extractor_kwargs")
    fe_kwargs.update(spiking)
    fe_class = out.setdefault("features_extractor_class", extractor)
    if spiking and not (isinstance(fe_class, type) and issubclass(fe_class, extractor)):
        raise TypeError(
            f"{owner}: spiking settings {sorted(spiking)} need a {extractor.__name__} "
            f"features extractor, got features_extractor_class={fe_class!r}"
        )
    out["features_extractor_kwargs"] = fe_kwargs
    out.setdefault("net_arch", [])
    return out


class SpikingActorCriticPolicy(ActorCriticPolicy):
    """SB3 actor-critic (PPO, A2C) with spiking MLP actor and critic.

    Args:
        observation_space: Observation space (flattened).
        action_space: Any action space SB3's ``ActorCriticPolicy`` supports.
        lr_schedule: Learning-rate schedule (given by the algorithm).
        **kwargs: SB3's ``ActorCriticPolicy`` arguments and the spiking settings (see the
            module docs); defaults ``net_arch=[]``, ``share_features_extractor=False``.
    """

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        lr_schedule: Callable[[float], float],
        **kwargs: Any,
    ) -> None:
        kwargs = route_kwargs(
            kwargs, ActorCriticPolicy.__init__, MLP_KEYS, SpikingMlpExtractor, type(self).__name__
        )
        kwargs.setdefault("share_features_extractor", False)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)


class SpikingActorCriticCnnPolicy(ActorCriticPolicy):
    """SB3 actor-critic (PPO, A2C) with a shared spiking Nature-CNN extractor.

    Args:
        observation_space: Image observation space ``[C, H, W]``.
        action_space: Any action space SB3's ``ActorCriticPolicy`` supports.
        lr_schedule: Learning-rate schedule (given by the algorithm).
        **kwargs: SB3's ``ActorCriticPolicy`` arguments and the spiking settings
            (``features_dim`` and the :class:`SpikingConfig` fields); default ``net_arch=[]``.
    """

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        lr_schedule: Callable[[float], float],
        **kwargs: Any,
    ) -> None:
        kwargs = route_kwargs(
            kwargs, ActorCriticPolicy.__init__, CNN_KEYS, SpikingCnnExtractor, type(self).__name__
        )
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)


class SpikingDQNPolicy(DQNPolicy):
    """SB3 DQN policy whose Q-network (and target) is a spiking MLP.

    Args:
        observation_space: Observation space (flattened).
        action_space: ``Discrete`` action space.
        lr_schedule: Learning-rate schedule (given by the algorithm).
        **kwargs: SB3's ``DQNPolicy`` arguments and the spiking settings; default
            ``net_arch=[]`` (the Q-values are a linear readout of the spiking layers).
    """

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.spaces.Discrete,
        lr_schedule: Callable[[float], float],
        **kwargs: Any,
    ) -> None:
        kwargs = route_kwargs(
            kwargs, DQNPolicy.__init__, MLP_KEYS, SpikingMlpExtractor, type(self).__name__
        )
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)


class SpikingDQNCnnPolicy(DQNPolicy):
    """SB3 DQN policy whose Q-network (and target) is a spiking Nature-CNN.

    Args:
        observation_space: Image observation space ``[C, H, W]``.
        action_space: ``Discrete`` action space.
        lr_schedule: Learning-rate schedule (given by the algorithm).
        **kwargs: SB3's ``DQNPolicy`` arguments and the spiking settings (``features_dim``
            and the :class:`SpikingConfig` fields); default ``net_arch=[]``.
    """

    def __init__(
        self,
        observation_space: gym.Space[Any],
        action_space: gym.spaces.Discrete,
        lr_schedule: Callable[[float], float],
        **kwargs: Any,
    ) -> None:
        kwargs = route_kwargs(
            kwargs, DQNPolicy.__init__, CNN_KEYS, SpikingCnnExtractor, type(self).__name__
        )
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)


POLICY_ALIASES: dict[type[BaseAlgorithm], dict[str, type[BasePolicy]]] = {
    PPO: {
        "SpikingMlpPolicy": SpikingActorCriticPolicy,
        "SpikingCnnPolicy": SpikingActorCriticCnnPolicy,
    },
    A2C: {
        "SpikingMlpPolicy": SpikingActorCriticPolicy,
        "SpikingCnnPolicy": SpikingActorCriticCnnPolicy,
    },
    DQN: {"SpikingMlpPolicy": SpikingDQNPolicy, "SpikingCnnPolicy": SpikingDQNCnnPolicy},
}
"""The names each SB3 algorithm learns from :func:`register_policies`."""


def register_policies() -> None:
    """Add the spiking policy names to PPO's, A2C's and DQN's ``policy_aliases``.

    Idempotent. Raises ``RuntimeError`` if a name is already taken by another class.
    """
    for algo, names in POLICY_ALIASES.items():
        for name, cls in names.items():
            taken = algo.policy_aliases.get(name)
            if taken is not None and taken is not cls:
                raise RuntimeError(f"{algo.__name__}.policy_aliases[{name!r}] is taken by {taken}")
            algo.policy_aliases[name] = cls
