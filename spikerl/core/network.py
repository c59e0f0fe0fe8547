"""The network: populations joined by projections, run clock-driven over ``[T, B, ...]``.

Semantics: a projection delivers its source's spikes of step ``t-1`` to its target at step
``t`` (one step of synaptic delay), so the update order of populations never matters and
recurrent and lateral projections just work. External inputs of step ``t`` act at step
``t``: an :class:`~spikerl.core.neurons.Input` population emits them as its spikes; any other
population adds them to its input current.

Two execution paths give the same spikes (tested):

* ``STEP``: a loop over steps, every population and projection per step. Any graph.
* ``WINDOW``: for feed-forward graphs (a DAG), each population is computed for the whole
  window in topological order: one product per projection per window over the (delayed)
  source spike matrix, then a scan of the neuron over time.

Per projection, propagation is dense (matrix product) or event-driven (rows of active
inputs only), chosen per call by measured input density with ``Propagation.AUTO``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from spikerl._checks import check_finite, check_positive
from spikerl.core.monitors import SPIKES, TRACE, Monitor
from spikerl.core.neurons.base import Neuron
from spikerl.core.neurons.input import Input
from spikerl.core.projections import Projection, Propagation
from spikerl.core.traces import TraceParams, trace_step

#: With ``Propagation.AUTO``, a feed-forward window runs in the compiled event-driven network
#: loop when at most this fraction of the external input entries is non-zero; above it,
#: dense window products (one per projection) win. Measured crossover (``scripts/
#: bench_crossover.py``, Input(1000) -> LIF(1000), 1000 steps): the loop is 1.1x faster at
#: 0.075 and 0.86x (batch 1) / 1.3x (batch 32) at 0.1.
FUSED_MAX_DENSITY = 0.075

#: Steps of the input window read to estimate its density.
_DENSITY_PROBE_STEPS = 64


class ExecutionMode(enum.Enum):
    """``STEP``: stepwise loop. ``WINDOW``: layer-by-layer over the window (DAGs only).
    ``AUTO``: ``WINDOW`` when the graph is a DAG and no hook needs per-step updates."""

    STEP = "step"
    WINDOW = "window"
    AUTO = "auto"


@runtime_checkable
class StepHook(Protocol):
    """Something that watches a run, e.g. a plasticity rule bound to a projection.

    Attributes:
        online: ``True`` if it must act after every step (it may change weights mid-run,
            which forces the stepwise path); ``False`` if it can take the whole window.
    """

    online: bool

    def on_step(self, t: int, prev: Mapping[str, Tensor], spikes: Mapping[str, Tensor]) -> None:
        """Called after step ``t`` with the spikes of step ``t-1`` and of step ``t``."""

    def on_window(self, prev: Mapping[str, Tensor], record: Mapping[str, Tensor]) -> None:
        """Called after a window with the spikes before it and the ``[T, B, ...]`` record."""


@dataclass
class NetworkState:
    """Everything that evolves during a run, per batch element.

    Attributes:
        neurons: Each population's state NamedTuple.
        spikes: Each population's spikes of the last step ``[B, *shape]`` (to be delivered).
        traces: Spike traces of populations that keep one.
    """

    neurons: dict[str, Any]
    spikes: dict[str, Tensor]
    traces: dict[str, Tensor] = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        """Batch size of the state."""
        return next(iter(self.spikes.values())).shape[0]

    def detach(self) -> NetworkState:
        """A copy with every tensor detached from autograd graphs."""
        return NetworkState(
            {k: type(v)(*(x.detach() for x in v)) for k, v in self.neurons.items()},
            {k: v.detach() for k, v in self.spikes.items()},
            {k: v.detach() for k, v in self.traces.items()},
        )

    def to_dict(self) -> dict[str, Tensor]:
        """Flat ``{"neurons.exc.v": tensor, ...}`` view, for saving with ``torch.save``."""
        out: dict[str, Tensor] = {}
        for name, st in self.neurons.items():
            for fname, val in zip(st._fields, st, strict=True):
                out[f"neurons.{name}.{fname}"] = val
        for name, val in self.spikes.items():
            out[f"spikes.{name}"] = val
        for name, val in self.traces.items():
            out[f"traces.{name}"] = val
        return out


@dataclass
class RunResult:
    """Spikes of every population over the run, ``[T, B, *shape]``."""

    spikes: dict[str, Tensor]

    def __getitem__(self, population: str) -> Tensor:
        if population not in self.spikes:
            raise KeyError(f"unknown population {population!r}; available: {sorted(self.spikes)}")
        return self.spikes[population]


@dataclass(frozen=True)
class _Edge:
    name: str
    source: str
    target: str


class Network(nn.Module):
    """Populations + projections + monitors, run clock-driven with step ``dt`` (ms).

    Example:
        >>> net = Network(dt=1.0)
        >>> inp = net.add_population("input", Input(100))
        >>> out = net.add_population("out", LIF(10))
        >>> _ = net.connect("input", "out", DenseProjection(100, 10))
        >>> result, state = net.run({"input": torch.zeros(50, 1, 100)})
        >>> result["out"].shape
        torch.Size([50, 1, 10])
    """

    def __init__(self, dt: float = 1.0) -> None:
        super().__init__()
        self.dt = check_positive("dt", dt)
        self.populations = nn.ModuleDict()
        self.projections = nn.ModuleDict()
        self._edges: list[_Edge] = []
        self._trace_params: dict[str, TraceParams] = {}
        #: Bumped by every structural change; compiled plans made before it are stale.
        self._version = 0
        self._plans: dict[int, Any] = {}

    # -- building ----------------------------------------------------------------------
    def add_population(
        self, name: str, neuron: Neuron[Any, Any], trace: TraceParams | None = None
    ) -> Neuron[Any, Any]:
        """Add a population under ``name`` and return it.

        Args:
            name: Unique name (no dots).
            neuron: The population module; its ``dt`` must equal the network's.
            trace: If given, the network keeps an exponential spike trace of it.
        """
        if not isinstance(neuron, Neuron):
            raise TypeError(f"population {name!r} must be a Neuron, got {type(neuron).__name__}")
        if not name or "." in name or "->" in name:
            raise ValueError(f"population name must be non-empty without '.' or '->': {name!r}")
        if name in self.populations:
            raise ValueError(f"a population named {name!r} already exists")
        if abs(neuron.dt - self.dt) > 1e-12:
            raise ValueError(
                f"population {name!r} has dt={neuron.dt} ms but the network has dt={self.dt} ms"
            )
        neuron.name = name
        self.populations[name] = neuron
        if trace is not None:
            self._trace_params[name] = trace
        self._version += 1
        return neuron

    def _name_of(self, pop: str | Neuron[Any, Any]) -> str:
        if isinstance(pop, Neuron):
            for k, v in self.populations.items():
                if v is pop:
                    return k
            raise ValueError("that population has not been added to this network")
        if pop not in self.populations:
            raise ValueError(
                f"unknown population {pop!r}; available: {sorted(self.populations.keys())}"
            )
        return pop

    def _items(self) -> list[tuple[str, Neuron[Any, Any]]]:
        return [(k, v) for k, v in self.populations.items() if isinstance(v, Neuron)]

    def population(self, name: str) -> Neuron[Any, Any]:
        """The population called ``name`` (a ``ValueError`` lists the names if unknown)."""
        return self.populations[self._name_of(name)]  # type: ignore[return-value]

    def connect(
        self,
        source: str | Neuron[Any, Any],
        target: str | Neuron[Any, Any],
        projection: Projection,
        name: str | None = None,
    ) -> Projection:
        """Add ``projection`` from ``source`` to ``target`` and return it.

        Raises:
            ValueError: If a population is unknown or the projection's shapes do not match.
        """
        src, tgt = self._name_of(source), self._name_of(target)
        if not isinstance(projection, Projection):
            raise TypeError(f"projection must be a Projection, got {type(projection).__name__}")
        if isinstance(self.populations[tgt], Input):
            raise ValueError(f"population {tgt!r} is an Input source and cannot be a target")
        src_shape = self.populations[src].shape
        tgt_shape = self.populations[tgt].shape
        if projection.source_shape != src_shape:
            raise ValueError(
                f"projection {src!r}->{tgt!r}: its source shape {projection.source_shape} does "
                f"not match population {src!r} of shape {src_shape}"
            )
        if projection.target_shape != tgt_shape:
            raise ValueError(
                f"projection {src!r}->{tgt!r}: its target shape {projection.target_shape} does "
                f"not match population {tgt!r} of shape {tgt_shape}"
            )
        name = name or f"{src}->{tgt}"
        key = name.replace(".", "_")
        if key in self.projections:
            raise ValueError(f"a projection named {name!r} already exists")
        projection.name = name
        self.projections[key] = projection
        self._edges.append(_Edge(key, src, tgt))
        self._version += 1
        return projection

    def projection(self, name: str) -> Projection:
        """The projection called ``name`` (default names are ``"source->target"``)."""
        key = name.replace(".", "_")
        if key not in self.projections:
            raise ValueError(
                f"unknown projection {name!r}; available: {sorted(self.projections.keys())}"
            )
        return self.projections[key]  # type: ignore[return-value]

    def incoming(self, target: str) -> list[tuple[Projection, str]]:
        """``(projection, source name)`` pairs into ``target``, in connection order."""
        return [
            (self.projections[e.name], e.source)  # type: ignore[misc]
            for e in self._edges
            if e.target == target
        ]

    def topological_order(self) -> list[str] | None:
        """Populations in feed-forward order, or ``None`` if the graph has a cycle."""
        names = list(self.populations.keys())
        indeg = {n: 0 for n in names}
        for e in self._edges:
            indeg[e.target] += 1
        ready = [n for n in names if indeg[n] == 0]
        order: list[str] = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for e in self._edges:
                if e.source == n:
                    indeg[e.target] -= 1
                    if indeg[e.target] == 0:
                        ready.append(e.target)
        return order if len(order) == len(names) else None

    def is_dag(self) -> bool:
        """Whether the projections form a directed acyclic graph."""
        return self.topological_order() is not None

    # -- state -------------------------------------------------------------------------
    def initial_state(self, batch_size: int) -> NetworkState:
        """Fresh state for ``batch_size`` independent copies of the network."""
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        neurons: dict[str, Any] = {}
        spikes: dict[str, Tensor] = {}
        traces: dict[str, Tensor] = {}
        for name, pop in self.populations.items():
            assert isinstance(pop, Neuron)
            neurons[name] = pop.initial_state(batch_size)
            spikes[name] = pop._full(batch_size, 0.0)
            if name in self._trace_params:
                traces[name] = pop._full(batch_size, 0.0)
        return NetworkState(neurons, spikes, traces)

    def reset_state(self, state: NetworkState, episode_start: Tensor) -> NetworkState:
        """Fresh state where ``episode_start [B]`` is true; other elements untouched."""
        mask = torch.as_tensor(episode_start, dtype=torch.bool)
        if mask.dim() != 1 or mask.shape[0] != state.batch_size:
            raise ValueError(
                f"episode_start: expected shape [{state.batch_size}], got {list(mask.shape)}"
            )
        neurons = {}
        spikes = {}
        traces = {}
        for name, pop in self.populations.items():
            assert isinstance(pop, Neuron)
            m = mask.to(pop.device)
            view = m.view(-1, *([1] * len(pop.shape)))
            neurons[name] = pop.reset_state(state.neurons[name], m)
            spikes[name] = torch.where(
                view, torch.zeros_like(state.spikes[name]), state.spikes[name]
            )
            if name in state.traces:
                tr = state.traces[name]
                traces[name] = torch.where(view, torch.zeros_like(tr), tr)
        return NetworkState(neurons, spikes, traces)

    def relax_state(self, state: NetworkState, duration: float) -> NetworkState:
        """The state after a silent gap of ``duration`` ms: no input, no spike fired.

        The last step's spikes are in flight through the one-step synaptic delay: they
        arrive at the gap's first step, whose current ``I`` every population absorbs
        without firing (:meth:`Neuron.absorb <spikerl.core.neurons.base.Neuron.absorb>`),
        then every population relaxes by its model's closed form (:meth:`Neuron.relax
        <spikerl.core.neurons.base.Neuron.relax>`). For LIF, with ``a = exp(-dt / tau_mem)``
        and ``n = duration / dt`` steps:

            v <- v_rest + ((v - v_rest) a + I) a^(n-1)                            (mV)

        Population traces decay, ``x <- x exp(-duration / tau)`` (the arriving spikes were
        traced when they were fired). A gap shorter than one step delivers nothing. Used
        between the windows of an agent that decides once per environment step, so one
        decision does not carry over into the next.

        Raises:
            ValueError: ``duration`` negative or not finite.
            NotImplementedError: a population's model has no relaxation.
        """
        neurons, traces = self.relaxed(state.neurons, state.spikes, state.traces, duration)
        spikes = {name: torch.zeros_like(s) for name, s in state.spikes.items()}
        return NetworkState(neurons, spikes, traces)

    def relaxed(
        self,
        neurons: Mapping[str, Any],
        spikes: Mapping[str, Tensor],
        traces: Mapping[str, Tensor],
        duration: float,
    ) -> tuple[dict[str, Any], dict[str, Tensor]]:
        """The neuron states and traces after a silent gap (:meth:`relax_state`), from the
        parts of a state (``spikes``: the last step's, in flight); new tensors, the inputs
        are not written. Backends that keep their own buffers pass views of them.

        Raises:
            ValueError: ``duration`` negative or not finite.
            NotImplementedError: a population's model has no relaxation.
        """
        if not math.isfinite(duration) or duration < 0:
            raise ValueError(f"duration must be a finite number of ms >= 0, got {duration!r}")
        arriving: dict[str, Tensor] = {}
        if duration >= self.dt:
            for name in self.populations:
                for proj, src in self.incoming(name):
                    s = spikes[src]
                    if bool(s.any()):
                        c = proj.propagate(s)
                        arriving[name] = c if name not in arriving else arriving[name] + c
        out: dict[str, Any] = {}
        for name, pop in self.populations.items():
            assert isinstance(pop, Neuron)
            st = neurons[name]
            if name in arriving:
                st = pop.absorb(pop.relax(st, self.dt), arriving[name])
                out[name] = pop.relax(st, duration - self.dt)
            else:
                out[name] = pop.relax(st, duration)
        decay = {n: math.exp(-duration / self._trace_params[n].tau) for n in traces}
        return out, {name: tr * decay[name] for name, tr in traces.items()}

    # -- running -----------------------------------------------------------------------
    def _check_inputs(
        self, inputs: Mapping[str, Tensor], duration: int | None, state: NetworkState | None
    ) -> tuple[int, int]:
        if not isinstance(inputs, Mapping):
            raise TypeError(
                f"inputs must be a mapping name -> [T, B, ...] tensor, got {type(inputs)}"
            )
        T: int | None = duration
        if duration is not None and (not isinstance(duration, int) or duration < 0):
            raise ValueError(f"duration must be an int >= 0 (steps), got {duration!r}")
        B: int | None = state.batch_size if state is not None else None
        for name, x in inputs.items():
            pop = self.population(name)
            if not isinstance(x, Tensor):
                raise TypeError(f"input to population {name!r} must be a tensor, got {type(x)}")
            if x.dim() != len(pop.shape) + 2 or tuple(x.shape[2:]) != pop.shape:
                raise ValueError(
                    f"input to population {name!r}: expected shape [T, B, "
                    f"{', '.join(map(str, pop.shape))}], got {list(x.shape)}"
                )
            if x.is_floating_point() and not bool(torch.isfinite(x.sum())):
                # A finite sum proves finite entries (cheap); else the full check explains.
                check_finite(f"input to population {name!r}", x)
            if T is None:
                T = x.shape[0]
            elif x.shape[0] != T:
                raise ValueError(
                    f"input to population {name!r} has T={x.shape[0]} steps, expected {T}"
                )
            if B is None:
                B = x.shape[1]
            elif x.shape[1] != B:
                raise ValueError(
                    f"input to population {name!r} has batch {x.shape[1]}, expected {B}"
                )
        for name, source in self._items():
            if isinstance(source, Input) and name not in inputs:
                raise ValueError(f"no input given for Input population {name!r}")
        if T is None or B is None:
            raise ValueError("give inputs, or a duration and a state, to run the network")
        return T, B

    def _check_monitors(self, monitors: Sequence[Monitor]) -> None:
        for m in monitors:
            pop = self.population(m.population)
            fields = getattr(type(pop.initial_state(1)), "_fields", ())
            options = [SPIKES, *fields] + ([TRACE] if m.population in self._trace_params else [])
            if m.variable not in options:
                raise ValueError(
                    f"monitor {m.population}.{m.variable}: unknown variable; available: {options}"
                )

    def run(
        self,
        inputs: Mapping[str, Tensor],
        state: NetworkState | None = None,
        *,
        duration: int | None = None,
        mode: ExecutionMode = ExecutionMode.AUTO,
        propagation: Propagation = Propagation.AUTO,
        monitors: Sequence[Monitor] = (),
        hooks: Sequence[StepHook] = (),
    ) -> tuple[RunResult, NetworkState]:
        """Run the network over a window of ``T`` steps.

        Args:
            inputs: ``{population: [T, B, *shape]}``; spikes for ``Input`` populations,
                extra currents for the others.
            state: State to continue from (``None``: fresh).
            duration: Number of steps when no input fixes it.
            mode: Execution path (see :class:`ExecutionMode`).
            propagation: Dense, event-driven or chosen by density per call.
            monitors: Monitors to fill.
            hooks: Watchers such as plasticity rules.

        Returns:
            ``(result, final_state)``; ``result[name]`` is ``[T, B, *shape]``.
        """
        T, B = self._check_inputs(inputs, duration, state)
        self._check_monitors(monitors)
        if state is None:
            state = self.initial_state(B)
        order = self.topological_order()
        if mode is ExecutionMode.WINDOW and order is None:
            raise ValueError("ExecutionMode.WINDOW needs a feed-forward network (no cycles)")
        online = any(h.online for h in hooks)
        if mode is ExecutionMode.WINDOW and online:
            raise ValueError("ExecutionMode.WINDOW cannot run hooks that act every step")
        use_window = order is not None and not online and mode is not ExecutionMode.STEP
        for m in monitors:
            pop = self.population(m.population)
            m.allocate((T, B, *pop.shape), pop.dtype, pop.device)
        if T == 0:
            empty = {
                n: torch.empty(0, B, *p.shape, dtype=p.dtype, device=p.device)
                for n, p in self._items()
            }
            return RunResult(empty), state
        if self._fused_wanted(inputs, order, use_window, mode, propagation, monitors, hooks):
            plan = self._compiled_plan(B, inputs)
            if plan is not None:
                return self._run_plan(plan, inputs, state, monitors, hooks)
        if use_window:
            assert order is not None
            return self._run_window(inputs, state, order, T, propagation, monitors, hooks)
        return self._run_steps(inputs, state, T, propagation, monitors, hooks)

    # -- compiled whole-network path ---------------------------------------------------
    def _fused_wanted(
        self,
        inputs: Mapping[str, Tensor],
        order: list[str] | None,
        use_window: bool,
        mode: ExecutionMode,
        propagation: Propagation,
        monitors: Sequence[Monitor],
        hooks: Sequence[StepHook],
    ) -> bool:
        """Whether to run the window on the compiled plan (:mod:`spikerl.core.backends`).

        Only with ``Propagation.AUTO`` (explicit ``DENSE``/``SPARSE`` keep the eager paths,
        the reference), without per-step hooks or state monitors, and, for a feed-forward
        window, only while the external input is sparse (else dense window products win).
        """
        from spikerl.core import kernels

        if propagation is not Propagation.AUTO or not kernels.enabled():
            return False
        if any(h.online for h in hooks):
            return False
        if any(m.variable not in (SPIKES, TRACE) for m in monitors):
            return False
        if mode is ExecutionMode.WINDOW or (use_window and order is not None):
            total = 0
            nonzero = 0
            for x in inputs.values():
                head = x[:_DENSITY_PROBE_STEPS]  # a prefix estimates the density cheaply
                total += head.numel()
                nonzero += int(torch.count_nonzero(head))
            return total == 0 or nonzero <= FUSED_MAX_DENSITY * total
        return True

    def _compiled_plan(self, batch_size: int, inputs: Mapping[str, Tensor]) -> Any:
        """The compiled plan of this network for ``batch_size`` (made once, kept while it
        stays valid), or ``None`` when the compiled backend cannot run it or these inputs."""
        from spikerl.core.backends import CompiledBackend

        for x in inputs.values():
            if x.device.type != "cpu" or x.requires_grad:
                return None
        plan = self._plans.get(batch_size)
        if plan is not None and plan.valid():
            return plan
        backend = CompiledBackend()
        if not backend.supports(self):
            self._plans.pop(batch_size, None)
            return None
        plan = backend.compile(self, batch_size)
        self._plans[batch_size] = plan
        return plan

    def _run_plan(
        self,
        plan: Any,
        inputs: Mapping[str, Tensor],
        state: NetworkState,
        monitors: Sequence[Monitor],
        hooks: Sequence[StepHook],
    ) -> tuple[RunResult, NetworkState]:
        """One window on the compiled plan from ``state`` (copied in, copied out)."""
        plan.load_state(state)
        window = plan.run_window(inputs, learn=False, fresh=True)
        record = {
            n: inputs[n].to(r.dtype) if isinstance(self.populations[n], Input) else r
            for n, r in window.items()
        }
        kept = plan.state
        neurons = {
            n: type(st)(*(x.clone() for x in st)) if n in plan._fields else state.neurons[n]
            for n, st in kept.neurons.items()
        }
        last = {n: r[-1] for n, r in record.items()}
        traces = dict(plan.traces)
        for name, p in self._trace_params.items():
            for m in monitors:
                if m.population == name and m.variable == TRACE:
                    trec, _ = self._trace_window(record[name], state.traces[name], p)
                    m.write_window(trec)
        for m in monitors:
            if m.variable == SPIKES:
                m.write_window(record[m.population])
        for h in hooks:
            h.on_window(state.spikes, record)
        return RunResult(record), NetworkState(neurons, last, traces)

    def _trace_window(self, spikes: Tensor, tr: Tensor, p: TraceParams) -> tuple[Tensor, Tensor]:
        """Trace over a window of spikes ``[T, B, ...]``: ``(record, final trace)``."""
        from spikerl.core import kernels
        from spikerl.core.traces import TraceMode

        fast = kernels.trace_scan(spikes, tr, p.tau, p.scale, p.mode is TraceMode.SET, self.dt)
        if fast is not None:
            return fast
        trec = torch.empty_like(spikes)
        for t in range(spikes.shape[0]):
            tr = trace_step(tr, spikes[t], p, self.dt)
            trec[t] = tr
        return trec, tr

    def _run_steps(
        self,
        inputs: Mapping[str, Tensor],
        state: NetworkState,
        T: int,
        propagation: Propagation,
        monitors: Sequence[Monitor],
        hooks: Sequence[StepHook],
    ) -> tuple[RunResult, NetworkState]:
        names = list(self.populations.keys())
        pops: list[Neuron[Any, Any]] = [self.populations[n] for n in names]  # type: ignore[misc]
        plan = [
            (n, pop, self.incoming(n), inputs.get(n)) for n, pop in zip(names, pops, strict=True)
        ]
        B = state.batch_size
        record = {
            n: torch.empty(T, B, *p.shape, dtype=p.dtype, device=p.device)
            for n, p in zip(names, pops, strict=True)
        }
        neurons = dict(state.neurons)
        prev = dict(state.spikes)
        traces = dict(state.traces)
        for t in range(T):
            cur: dict[str, Tensor] = {}
            for name, pop, incoming, ext in plan:
                if isinstance(pop, Input):
                    assert ext is not None
                    s = ext[t].to(pop.dtype)
                else:
                    current: Tensor | None = ext[t].to(pop.dtype) if ext is not None else None
                    for proj, src in incoming:
                        c = proj.propagate(prev[src], propagation)
                        current = c if current is None else current + c
                    if current is None:
                        current = torch.zeros_like(prev[name])
                    s, neurons[name] = pop.step(current, neurons[name])
                cur[name] = s
                record[name][t] = s
                if name in self._trace_params:
                    traces[name] = trace_step(traces[name], s, self._trace_params[name], self.dt)
            for m in monitors:
                m.write(t, self._variable(m, cur, neurons, traces))
            for h in hooks:
                h.on_step(t, prev, cur)
            prev = cur
        return RunResult(record), NetworkState(neurons, prev, traces)

    @staticmethod
    def _variable(
        m: Monitor,
        spikes: Mapping[str, Tensor],
        neurons: Mapping[str, Any],
        traces: Mapping[str, Tensor],
    ) -> Tensor:
        if m.variable == SPIKES:
            return spikes[m.population]
        if m.variable == TRACE:
            return traces[m.population]
        return getattr(neurons[m.population], m.variable)  # type: ignore[no-any-return]

    def _run_window(
        self,
        inputs: Mapping[str, Tensor],
        state: NetworkState,
        order: list[str],
        T: int,
        propagation: Propagation,
        monitors: Sequence[Monitor],
        hooks: Sequence[StepHook],
    ) -> tuple[RunResult, NetworkState]:
        record: dict[str, Tensor] = {}
        neurons = dict(state.neurons)
        traces = dict(state.traces)
        for name in order:
            pop = self.population(name)
            ext = inputs.get(name)
            if isinstance(pop, Input):
                assert ext is not None
                record[name] = ext.to(pop.dtype)
            else:
                current: Tensor | None = ext.to(pop.dtype) if ext is not None else None
                for proj, src in self.incoming(name):
                    src_spikes = record[src]
                    delayed = torch.cat([state.spikes[src].unsqueeze(0), src_spikes[:-1]], dim=0)
                    c = proj.forward_window(delayed, propagation)
                    current = c if current is None else current + c
                if current is None:
                    current = torch.zeros(
                        T, *state.spikes[name].shape, dtype=pop.dtype, device=pop.device
                    )
                wanted = [m.variable for m in monitors if m.population == name]
                fields = [v for v in wanted if v not in (SPIKES, TRACE)]
                spikes, neurons[name], recs = pop.run(current, neurons[name], record=fields)
                record[name] = spikes
                for m in monitors:
                    if m.population == name and m.variable in recs:
                        m.write_window(recs[m.variable])
            if name in self._trace_params:
                p = self._trace_params[name]
                trec, traces[name] = self._trace_window(record[name], traces[name], p)
                for m in monitors:
                    if m.population == name and m.variable == TRACE:
                        m.write_window(trec)
            for m in monitors:
                if m.population == name and m.variable == SPIKES:
                    m.write_window(record[name])
        for h in hooks:
            h.on_window(state.spikes, record)
        last = {n: r[-1] for n, r in record.items()}
        return RunResult(record), NetworkState(neurons, last, traces)

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the weights (``state_dict``) atomically: a temporary file, then a rename."""
        from spikerl.core.io import atomic_torch_save

        atomic_torch_save({"format": "spikerl.network/1", "state_dict": self.state_dict()}, path)

    def load(self, path: str | Path) -> None:
        """Load weights written by :meth:`save` (``torch.load(weights_only=True)``)."""
        from spikerl.core.io import safe_torch_load

        payload = safe_torch_load(path)
        if not isinstance(payload, dict) or payload.get("format") != "spikerl.network/1":
            raise ValueError(f"{path}: not a spikerl network checkpoint")
        self.load_state_dict(payload["state_dict"])
