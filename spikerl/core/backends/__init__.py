"""Backends that run a :class:`~spikerl.core.network.Network` window by window.

One interface (:mod:`spikerl.core.backends.base`): a backend answers
``supports(network, hooks) -> bool`` and builds ``compile(network, batch, hooks) -> plan``;
``plan.run_window(inputs)`` runs a window and keeps the state. :func:`compile_plan` picks
the first backend that supports the network, in the order of :data:`BACKENDS` (the numba
plan on CPU, else the eager torch reference)::

    plan = compile_plan(net, batch_size=1, hooks=plasticities)
    record = plan.run_window({"input": spikes})           # [T, B, ...] per population
    plan.reset(episode_start)                              # fresh state where True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from spikerl.core.backends.base import (
    Backend,
    BernoulliInput,
    EligibilityHook,
    EligibilitySpec,
    WindowPlan,
)
from spikerl.core.backends.compiled import CompiledBackend, CompiledPlan, unsupported_reason
from spikerl.core.backends.eager import EagerBackend, EagerPlan

if TYPE_CHECKING:
    from spikerl.core.network import Network, StepHook

__all__ = [
    "BACKENDS",
    "Backend",
    "BernoulliInput",
    "CompiledBackend",
    "CompiledPlan",
    "EagerBackend",
    "EagerPlan",
    "EligibilityHook",
    "EligibilitySpec",
    "WindowPlan",
    "compile_plan",
    "get_backend",
    "select_backend",
    "unsupported_reason",
]

#: Backends in order of preference.
BACKENDS: tuple[Backend, ...] = (CompiledBackend(), EagerBackend())

#: Names accepted by :func:`get_backend` / :func:`compile_plan`.
BACKEND_NAMES = ("auto", "compiled", "eager")


def get_backend(name: str) -> Backend | None:
    """The backend called ``name`` (``"compiled"`` or ``"eager"``); ``None`` for ``"auto"``.

    Raises:
        ValueError: On an unknown name.
    """
    if name == "auto":
        return None
    for b in BACKENDS:
        if b.name == name:
            return b
    raise ValueError(f"unknown backend {name!r}; choose one of {list(BACKEND_NAMES)}")


def select_backend(network: Network, hooks: Sequence[StepHook] = ()) -> Backend:
    """The first backend of :data:`BACKENDS` that supports ``network`` with ``hooks``."""
    for b in BACKENDS:
        if b.supports(network, hooks):
            return b
    raise ValueError("no backend can run this network with these hooks (online hooks?)")


def compile_plan(
    network: Network, batch_size: int, hooks: Sequence[StepHook] = (), backend: str = "auto"
) -> WindowPlan:
    """A window plan for ``network`` at ``batch_size``.

    Args:
        network: The network.
        batch_size: Batch size ``B``.
        hooks: Window hooks (plasticity bindings) run by ``run_window(..., learn=True)``.
        backend: ``"auto"`` (compiled where supported, else eager), ``"compiled"`` (an
            error names what is unsupported) or ``"eager"``.
    """
    chosen = get_backend(backend)
    if chosen is None:
        chosen = select_backend(network, hooks)
    elif not chosen.supports(network, hooks):
        if chosen.name == "compiled":
            reason = unsupported_reason(network, hooks)
        else:
            reason = "a hook acts every step (online plasticity); run it with Network.run"
        raise ValueError(f"backend {backend!r} cannot run this network: {reason}")
    return chosen.compile(network, batch_size, hooks)
