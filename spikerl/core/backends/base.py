"""The backend interface: ``supports(network)``, ``compile(network, batch) -> plan``,
``plan.run_window(...)``.

A *plan* runs windows of ``T`` steps of one :class:`~spikerl.core.network.Network` for one
batch size and keeps the network state between windows (membrane potentials, refractory
counts, the spikes of the last step, the traces and eligibility of the plastic projections
it was compiled with). Two backends exist:

* :class:`~spikerl.core.backends.eager.EagerBackend`: the reference. Every window is a call
  of :meth:`Network.run <spikerl.core.network.Network.run>` with the plasticity bindings as
  hooks; any network, any device, autograd.
* :class:`~spikerl.core.backends.compiled.CompiledBackend`: a numba plan made once per
  network and batch size (flat parameter arrays, views of the weights, preallocated
  buffers); one call runs a whole window including input sampling, neuron scans, dense and
  lateral projections, traces and the eligibility of three-factor rules.

The eager path defines the semantics; tests hold the compiled plan to it on random
networks (same spikes, same weight changes to float tolerance).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from spikerl.core.traces import TraceParams

if TYPE_CHECKING:
    from spikerl.core.network import Network, NetworkState, StepHook
    from spikerl.core.projections import Projection

__all__ = [
    "Backend",
    "BernoulliInput",
    "EligibilityHook",
    "EligibilitySpec",
    "WindowPlan",
]


@dataclass(frozen=True)
class BernoulliInput:
    """Input spikes to be drawn inside the window: ``s[t, b, i] = [u[t, b, i] < p[b, i]]``.

    The uniforms are drawn as the encoders draw them (:func:`spikerl.encoders.poisson.
    bernoulli_train`): ``u = torch.rand((T, *p.shape), generator=generator, dtype=p.dtype)``,
    so a plan given ``BernoulliInput(p, T, g)`` sees the same spikes as one given the
    encoder's train drawn from a generator in the same state.

    Attributes:
        p: Spike probability per step ``[B, *shape]`` (in ``[0, 1]``).
        steps: Window length ``T``.
        generator: Source of the uniforms.
    """

    p: Tensor
    steps: int
    generator: torch.Generator | None = None

    def draw(self) -> Tensor:
        """The spike train ``[T, B, *shape]`` (0/1 in ``p``'s dtype), the eager way."""
        u = torch.rand((self.steps, *self.p.shape), generator=self.generator, dtype=self.p.dtype)
        return (u < self.p).to(self.p.dtype)


@dataclass(frozen=True)
class EligibilitySpec:
    """A three-factor rule's eligibility, in the form a compiled plan accumulates it.

    Per synapse ``(k, n)`` of a dense ``[K, N]`` projection and batch element, with the
    presynaptic spike arriving at step ``t`` ``s_pre[t]`` (the source's spike of ``t - 1``):

        x_pre[t]    = a_pre x_pre[t-1] + s_pre[t]            (ADD; SET: 1 where s_pre[t])
        x_post^-[t] = a_post x_post[t-1]                     (before step t's spikes)
        x_post[t]   = x_post^-[t] + s_post[t]                (ADD; SET: 1 where s_post[t])
        z[t]        = a_z z[t-1] + (A+ x_pre[t] s_post[t] + A- x_post^-[t] s_pre[t]) / tau_z

    with ``a = exp(-dt / tau)`` (dimensionless traces, ``z`` in 1/ms). With zero modulation
    during the window this is all a window changes (the weight change is credited later,
    :meth:`~spikerl.learning.Plasticity.deliver`).

    Attributes:
        projection: The learning projection (dense weight ``[K, N]``).
        source: Source population name.
        target: Target population name.
        pre: Presynaptic trace constants (``tau`` in ms).
        post: Postsynaptic trace constants.
        a_plus: ``A+``.
        a_minus: ``A-``.
        tau_z: Eligibility time constant (ms).
        per_window: ``z`` decays by ``a_z^T`` at the window's start and the window's
            pairings add undiscounted (``MSTDPET(per_window=True)``), instead of the
            per-step decay above.
    """

    projection: Projection
    source: str
    target: str
    pre: TraceParams
    post: TraceParams
    a_plus: float
    a_minus: float
    tau_z: float
    per_window: bool = False


@runtime_checkable
class EligibilityHook(Protocol):
    """A window hook whose effect a compiled plan can take over (a plasticity binding).

    ``eligibility_spec()`` is asked once, when the plan is compiled (``None``: the plan
    calls ``on_window`` after each window instead); ``eligibility_only()`` before every
    window (``False``: this window needs the hook's own ``on_window``, e.g. because a
    modulation is set). The plan reads the state before the window and hands it back after.
    """

    online: bool

    def eligibility_spec(self) -> EligibilitySpec | None:
        """The rule in compiled form, or ``None``."""

    def eligibility_only(self) -> bool:
        """Whether the next window only accumulates traces and eligibility."""

    def eligibility_state(self) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        """``(pre trace [B, *source], post trace [B, *target], eligibility [B, K, N])``."""

    def adopt_eligibility_state(self, pre: Tensor, post: Tensor, z: Tensor) -> None:
        """Take the state after a window computed by a plan."""

    def on_window(self, prev: Mapping[str, Tensor], record: Mapping[str, Tensor]) -> None:
        """Learn from a whole window (the eager way)."""


class WindowPlan(abc.ABC):
    """A network compiled for one batch size: runs windows, keeps the state between them.

    Attributes:
        network: The network it runs (weights are read live, never copied).
        batch_size: The batch size ``B`` it was made for.
        hooks: The window hooks (plasticity bindings) it runs with ``learn=True``.
    """

    network: Network
    batch_size: int
    hooks: tuple[StepHook, ...]

    @abc.abstractmethod
    def run_window(
        self, inputs: Mapping[str, Tensor | BernoulliInput], *, learn: bool = True
    ) -> dict[str, Tensor]:
        """Run one window from the kept state and return every population's spikes.

        Args:
            inputs: ``{population: [T, B, *shape]}`` (spikes for ``Input`` populations,
                extra currents for the others) or a :class:`BernoulliInput`.
            learn: Run the hooks (traces, eligibility, window changes).

        Returns:
            ``{name: [T, B, *shape]}``; valid until the next call (may be plan buffers).
        """

    @property
    @abc.abstractmethod
    def state(self) -> NetworkState:
        """The kept network state (may share memory with the plan; clone to keep it)."""

    @abc.abstractmethod
    def load_state(self, state: NetworkState | None) -> None:
        """Replace the kept state (``None``: fresh state)."""

    @abc.abstractmethod
    def reset(self, episode_start: Tensor) -> None:
        """Fresh network state where ``episode_start [B]`` is true (as
        :meth:`Network.reset_state <spikerl.core.network.Network.reset_state>`)."""

    def set_spikes(self, name: str, spikes: Tensor) -> None:
        """Replace the kept last-step spikes ``[B, *shape]`` of population ``name`` (the
        spikes in flight into the next window's first step); the caller's tensors are not
        written."""
        st = self.state
        spikes = spikes.to(st.spikes[name].dtype, copy=True)
        self.load_state(type(st)(st.neurons, {**st.spikes, name: spikes}, st.traces))

    def relax(self, duration: float) -> None:
        """The kept state after a silent gap of ``duration`` ms, in place (as
        :meth:`Network.relax_state <spikerl.core.network.Network.relax_state>`: the spikes in
        flight arrive at the gap's first step without firing, then every population's
        closed-form relaxation, traces decay by ``exp(-duration / tau)``)."""
        self.load_state(self.network.relax_state(self.state, duration))

    def valid(self) -> bool:
        """Whether the plan still matches its network (same structure, weights, dtype)."""
        return True


class Backend(Protocol):
    """Chooses and builds plans: ``supports(network)``, then ``compile(network, batch)``."""

    name: str

    def supports(self, network: Network, hooks: Sequence[StepHook] = ()) -> bool:
        """Whether this backend can run ``network`` (with these hooks)."""

    def compile(
        self, network: Network, batch_size: int, hooks: Sequence[StepHook] = ()
    ) -> WindowPlan:
        """A plan for ``network`` at ``batch_size`` (``supports`` must be true)."""


def hook_list(hooks: Sequence[Any]) -> tuple[StepHook, ...]:
    """Hooks as a tuple, refusing per-step (online) ones, which no window plan can run."""
    out = tuple(hooks)
    for h in out:
        if getattr(h, "online", False):
            raise ValueError(
                "a window plan cannot run hooks that act every step (online plasticity); "
                "use Network.run for those"
            )
    return out
