"""SB3's PPO, A2C and DQN whose ``save`` and ``load`` never pickle.

The classes are SB3's algorithms unchanged except for :meth:`save` and :meth:`load`, which go
through :func:`spikerl.agents.persistence.save_model` / ``load_model`` (JSON, ``.npz`` and
weights-only tensors), so checkpoints written by callbacks (``EvalCallback``'s best model,
periodic checkpoints) and the run's ``final.zip`` load without unpickling. SB3's policy
names (``"MlpPolicy"``...) and the spiking ones work as with the parent classes (they share
the parents' ``policy_aliases``). A DQN replay buffer is not part of the zip (as in SB3).
"""

from __future__ import annotations

from typing import Any, TypeVar

import stable_baselines3 as sb3
import torch
from stable_baselines3.common.type_aliases import GymEnv

__all__ = ["A2C", "DQN", "PPO", "SafeSaveMixin"]

_M = TypeVar("_M", bound="SafeSaveMixin")


class SafeSaveMixin:
    """``save``/``load`` in the pickle-free format of :mod:`spikerl.agents.persistence`.

    The zip's ``data`` records the algorithm as ``algo_name`` (``"ppo"``, ``"a2c"``,
    ``"dqn"``), so a bare zip can be loaded by the right class
    (:func:`spikerl.agents.sb3.factory.model_class_of`).
    """

    algo_name: str = ""

    def save(self, path: Any, exclude: Any = None, include: Any = None) -> None:
        """Save a pickle-free SB3-layout zip (atomically for a path)."""
        from spikerl.agents.persistence import save_model

        self.__dict__["algo_name"] = type(self).algo_name  # saved with the attributes
        save_model(self, path, exclude, include)

    @classmethod
    def load(
        cls: type[_M],
        path: Any,
        env: GymEnv | None = None,
        device: torch.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> _M:
        """Load a zip written by :meth:`save`; never unpickles (clear errors for bad files)."""
        from spikerl.agents.persistence import load_model

        return load_model(
            cls,
            path,
            env=env,
            device=device,
            custom_objects=custom_objects,
            print_system_info=print_system_info,
            force_reset=force_reset,
            **kwargs,
        )


class PPO(SafeSaveMixin, sb3.PPO):  # type: ignore[misc]
    """SB3's PPO with pickle-free ``save``/``load``."""

    algo_name = "ppo"


class A2C(SafeSaveMixin, sb3.A2C):  # type: ignore[misc]
    """SB3's A2C with pickle-free ``save``/``load``."""

    algo_name = "a2c"


class DQN(SafeSaveMixin, sb3.DQN):  # type: ignore[misc]
    """SB3's DQN with pickle-free ``save``/``load``."""

    algo_name = "dqn"
