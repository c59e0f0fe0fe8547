"""The reference backend: each window is one eager :meth:`Network.run` call (torch).

Runs any network on any device, with autograd and any hooks; it defines what the compiled
plans must reproduce.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from spikerl.core.backends.base import BernoulliInput, WindowPlan, hook_list
from spikerl.core.projections import Propagation

if TYPE_CHECKING:
    from spikerl.core.network import Network, NetworkState, StepHook

__all__ = ["EagerBackend", "EagerPlan"]


class EagerPlan(WindowPlan):
    """Windows run by ``network.run(inputs, state, hooks=..., propagation=...)``.

    Args:
        network: The network.
        batch_size: Batch size ``B``.
        hooks: Window hooks run when learning.
        propagation: Propagation of every projection (dense products by default: the
            plain torch reference; ``AUTO`` lets :meth:`Network.run` choose).
    """

    def __init__(
        self,
        network: Network,
        batch_size: int,
        hooks: Sequence[StepHook] = (),
        propagation: Propagation = Propagation.DENSE,
    ) -> None:
        self.network = network
        self.batch_size = int(batch_size)
        self.hooks = hook_list(hooks)
        self.propagation = propagation
        self._state: NetworkState = network.initial_state(self.batch_size)

    def run_window(
        self, inputs: Mapping[str, Tensor | BernoulliInput], *, learn: bool = True
    ) -> dict[str, Tensor]:
        drawn = {k: v.draw() if isinstance(v, BernoulliInput) else v for k, v in inputs.items()}
        with torch.no_grad():
            result, self._state = self.network.run(
                drawn,
                self._state,
                propagation=self.propagation,
                hooks=self.hooks if learn else (),
            )
        return dict(result.spikes)

    @property
    def state(self) -> NetworkState:
        return self._state

    def load_state(self, state: NetworkState | None) -> None:
        if state is None:
            self._state = self.network.initial_state(self.batch_size)
            return
        if state.batch_size != self.batch_size:
            raise ValueError(
                f"state has batch {state.batch_size}, the plan was made for {self.batch_size}"
            )
        self._state = state

    def reset(self, episode_start: Tensor) -> None:
        self._state = self.network.reset_state(self._state, episode_start)


class EagerBackend:
    """The eager torch backend (reference; GPUs; autograd): supports every network."""

    name = "eager"

    def __init__(self, propagation: Propagation = Propagation.DENSE) -> None:
        self.propagation = propagation

    def supports(self, network: Network, hooks: Sequence[StepHook] = ()) -> bool:
        return not any(getattr(h, "online", False) for h in hooks)

    def compile(
        self, network: Network, batch_size: int, hooks: Sequence[StepHook] = ()
    ) -> EagerPlan:
        return EagerPlan(network, batch_size, hooks, self.propagation)
