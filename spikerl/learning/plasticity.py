"""The binding of a rule to a projection: traces, modulation, pieces, and when to apply.

:class:`Plasticity` is a network :class:`~spikerl.core.network.StepHook`. It keeps the
per-sample traces (and the rule's eligibility), asks the rule for a change, passes it
through the pieces and applies it, directly or through a ``torch.optim`` optimizer (the
change goes into ``weight.grad`` as ``-dw``, so ``SGD(lr=1)`` applies exactly ``dw`` and any
optimizer or scheduler can drive plasticity).

Two application modes, the same rule code:

* online (``online=True``): after every step, from the spikes of that step; the network runs
  stepwise and later steps see the new weights;
* window (``online=False``, default): over the whole window from the recorded spike
  matrices (traces by a decay-matrix product, the change by one contraction over time and
  batch), applied once at its end. The network then may run its fast window path.

The presynaptic spikes a synapse sees at step ``t`` are those the source emitted at
``t - 1`` (the network's one step of delay); see :mod:`spikerl.learning.rules`.

Example (``spikes`` is an input train ``[T, B, 20]``)::

    net = Network(dt=1.0)
    net.add_population("input", Input(20))
    net.add_population("out", LIF(2))
    net.connect("input", "out", DenseProjection(20, 2, wmin=0.0, wmax=1.0))
    stdp = Plasticity.bind(net, "input->out", PostPre(), pieces=[Normalize(5.0)])
    result, state = net.run({"input": spikes}, hooks=[stdp])      # one change per window
    online = Plasticity.bind(net, "input->out", PostPre(), online=True)  # every step
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from spikerl._checks import check_positive
from spikerl.core.network import Network
from spikerl.core.projections import Projection
from spikerl.learning.activity import Reduction, TraceState, compute_activity
from spikerl.learning.modulation import Modulator, as_reward_tensor
from spikerl.learning.pieces import WeightPiece
from spikerl.learning.rules import EligibilityRule, LearningRule

__all__ = ["Plasticity"]


def _locate(net: Network, projection: Projection) -> tuple[str, str]:
    for target in net.populations:
        for proj, source in net.incoming(target):
            if proj is projection:
                return source, target
    raise ValueError("that projection is not connected in this network")


class Plasticity:
    """A rule bound to one projection, applied online or per window (a network hook).

    Args:
        projection: The projection that learns.
        rule: The rule computing the change.
        source: Name of the source population (key of the network's spike mappings).
        target: Name of the target population.
        pieces: Bounds, decay, normalisation; transforms run in order before the change is
            applied, constraints in order after it (see :mod:`spikerl.learning.pieces`).
        online: Apply after every step (``True``) or once per window (``False``).
        optimizer: If given, the change is written as ``-dw`` into ``weight.grad`` and applied
            by ``optimizer.step()``; it must hold the projection's weight.
        modulator: Maps the signals given to :meth:`set_modulation` / :meth:`deliver`
            (e.g. :class:`~spikerl.learning.modulation.RewardPredictionError`); ``None``: used
            as given (a reward or a TD error).
        reduction: Combination of per-sample changes (mean by default).
        dt: Simulation step (ms); :meth:`bind` takes it from the network.

    Raises:
        TypeError: On arguments of the wrong type.
        ValueError: If the optimizer does not hold the projection's weight.
    """

    def __init__(
        self,
        projection: Projection,
        rule: LearningRule,
        *,
        source: str,
        target: str,
        pieces: Sequence[WeightPiece] = (),
        online: bool = False,
        optimizer: torch.optim.Optimizer | None = None,
        modulator: Modulator | None = None,
        reduction: Reduction = Reduction.MEAN,
        dt: float = 1.0,
    ) -> None:
        if not isinstance(projection, Projection):
            raise TypeError(f"projection must be a Projection, got {type(projection).__name__}")
        if not isinstance(rule, LearningRule):
            raise TypeError(f"rule must be a LearningRule, got {type(rule).__name__}")
        for p in pieces:
            if not isinstance(p, WeightPiece):
                raise TypeError(f"pieces must be WeightPiece objects, got {type(p).__name__}")
        if not isinstance(reduction, Reduction):
            raise TypeError(f"reduction must be a Reduction, got {type(reduction).__name__}")
        if optimizer is not None:
            held = any(p is projection.weight for g in optimizer.param_groups for p in g["params"])
            if not held:
                raise ValueError("the optimizer does not hold this projection's weight")
        self.projection = projection
        self.rule = rule
        self.source = source
        self.target = target
        self.pieces: list[WeightPiece] = list(pieces)
        self.online = bool(online)
        self.optimizer = optimizer
        self.modulator = modulator
        self.reduction = reduction
        self.dt = check_positive("dt", dt)
        self.traces: TraceState | None = None
        self.rule_state: Tensor | None = None
        self.modulation: float | Tensor | None = None
        self.last_change: Tensor | None = None
        self._pending: list[tuple[Tensor, Tensor]] = []

    @classmethod
    def bind(
        cls, net: Network, projection: str | Projection, rule: LearningRule, **kwargs: Any
    ) -> Plasticity:
        """Bind ``rule`` to a projection of ``net`` (by name or object); ``dt`` from ``net``.

        Args:
            net: The network.
            projection: A projection name (``"src->tgt"``) or the projection itself.
            rule: The rule.
            **kwargs: Further arguments of :class:`Plasticity` (pieces, online, ...).
        """
        proj = net.projection(projection) if isinstance(projection, str) else projection
        source, target = _locate(net, proj)
        return cls(proj, rule, source=source, target=target, dt=net.dt, **kwargs)

    # -- state -------------------------------------------------------------------------
    def reset(self, episode_start: Tensor | None = None) -> None:
        """Zero the traces and eligibility (all, or where ``episode_start [B]`` is true).

        Call it whenever the network state is reset; a changed batch size needs a full reset.
        """
        self._pending.clear()
        if episode_start is None or self.traces is None:
            self.traces = None
            self.rule_state = None
            return
        keep = ~torch.as_tensor(episode_start, dtype=torch.bool)

        def mask(x: Tensor) -> Tensor:
            if keep.dim() != 1 or keep.shape[0] != x.shape[0]:
                raise ValueError(
                    f"episode_start: expected shape [{x.shape[0]}], got {list(keep.shape)}"
                )
            return x * keep.to(x.device, x.dtype).view(-1, *([1] * (x.dim() - 1)))

        self.traces = TraceState(mask(self.traces.pre), mask(self.traces.post))
        if self.rule_state is not None:
            self.rule_state = mask(self.rule_state)

    def set_modulation(self, signal: float | Tensor | None) -> None:
        """Set the modulation ``r(t)`` used by every following step or window.

        A window-mode binding reads it when the window's change is computed (at the end of
        the window, or at :meth:`flush` when steps were buffered).

        Args:
            signal: Reward / RPE / TD error (float, ``[B]``, or ``[T, B]`` for one window of
                ``T`` steps in window mode), passed through the modulator if there is one;
                ``None`` clears it.

        Raises:
            ValueError: If the rule is not modulated, or the signal is not finite.
        """
        if signal is None:
            self.modulation = None
            return
        if not self.rule.needs_modulation:
            raise ValueError(f"{type(self.rule).__name__} is not reward-modulated")
        if self.modulator is not None:
            self.modulation = self.modulator(signal)
        else:
            if isinstance(signal, Tensor):
                if signal.is_floating_point() and not bool(torch.isfinite(signal).all()):
                    raise ValueError("modulation (reward) holds NaN or inf; it must be finite")
                self.modulation = signal.detach()
            else:
                as_reward_tensor(signal)
                self.modulation = float(signal)

    # -- hooks -------------------------------------------------------------------------
    def on_step(self, t: int, prev: Mapping[str, Tensor], spikes: Mapping[str, Tensor]) -> None:
        """Network hook: online, learn from step ``t``; window mode, buffer it.

        In window mode under the stepwise path (recurrent networks), the buffered run is
        applied at the start of the next run, by :meth:`flush`, or by :meth:`deliver`.
        """
        pre, post = self._pair(prev, spikes)
        if self.online:
            self.update(pre.unsqueeze(0), post.unsqueeze(0))
            return
        if t == 0 and self._pending:
            self.flush()
        self._pending.append((pre, post))

    def on_window(self, prev: Mapping[str, Tensor], record: Mapping[str, Tensor]) -> None:
        """Network hook: learn from a whole window ``[T, B, ...]`` and apply once."""
        if self.source not in record or self.target not in record:
            raise ValueError(
                f"plasticity on {self.source!r}->{self.target!r}: populations missing from the "
                f"record (have {sorted(record)})"
            )
        post = record[self.target]
        if self._pending:
            same = len(self._pending) == post.shape[0] and torch.equal(
                torch.stack([p for _, p in self._pending]), post
            )
            if same:
                self._pending.clear()
            else:
                self.flush()
        pre = torch.cat([prev[self.source].unsqueeze(0), record[self.source][:-1]], dim=0)
        if post.shape[0] > 0:
            self.update(pre, post)

    def flush(self) -> Tensor | None:
        """Apply the steps buffered by a window-mode binding under the stepwise path."""
        if not self._pending:
            return None
        pre = torch.stack([p for p, _ in self._pending])
        post = torch.stack([q for _, q in self._pending])
        self._pending.clear()
        return self.update(pre, post)

    def _pair(
        self, prev: Mapping[str, Tensor], spikes: Mapping[str, Tensor]
    ) -> tuple[Tensor, Tensor]:
        try:
            return prev[self.source], spikes[self.target]
        except KeyError as err:
            raise ValueError(
                f"plasticity on {self.source!r}->{self.target!r}: population {err} not in the "
                "network's spikes"
            ) from None

    # -- learning ----------------------------------------------------------------------
    def update(self, pre_spikes: Tensor, post_spikes: Tensor) -> Tensor:
        """Learn from a window and apply the change; returns the change applied.

        Args:
            pre_spikes: Presynaptic spikes as they arrive, ``[T, B, *source]`` (the source's
                spikes delayed by one step).
            post_spikes: Postsynaptic spikes ``[T, B, *target]``.
        """
        dw = self.compute(pre_spikes, post_spikes)
        return self.apply(dw, duration=pre_spikes.shape[0] * self.dt)

    def compute(self, pre_spikes: Tensor, post_spikes: Tensor) -> Tensor:
        """Advance traces and eligibility over a window and return the rule's change.

        Does not change the weights (use :meth:`apply`).
        """
        if pre_spikes.shape[0] > 1 and self.rule_state is None and not self.rule.needs_modulation:
            fast = self.rule.window_delta(
                self.projection, pre_spikes, post_spikes, self.traces, self.dt, self.reduction
            )
            if fast is not None:
                dw, self.traces = fast
                return dw
        act, self.traces = compute_activity(
            self.projection,
            pre_spikes,
            post_spikes,
            self.rule.pre_trace,
            self.rule.post_trace,
            self.dt,
            self.traces,
        )
        modulation = self.modulation if self.rule.needs_modulation else None
        state = self.rule_state
        if state is None:
            state = self.rule.initial_state(self.projection, act.batch_size)
        out = self.rule.delta(self.projection, act, modulation, state, self.reduction)
        self.rule_state = out.state
        return out.dw

    def deliver(self, signal: float | Tensor) -> Tensor:
        """Credit a modulation arriving now to the eligibility (delayed reward) and apply it.

        ``dw = gamma dt reduce_b(m_b z_b)`` with ``m = modulator(signal)``: a pulse of
        modulation lasting one step, after the last simulated step.

        Raises:
            TypeError: If the rule keeps no eligibility trace.
        """
        if not isinstance(self.rule, EligibilityRule):
            raise TypeError(
                f"deliver() needs a rule with an eligibility trace (e.g. MSTDPET), got "
                f"{type(self.rule).__name__}; use set_modulation() for MSTDP"
            )
        self.flush()
        m: float | Tensor = self.modulator(signal) if self.modulator is not None else signal
        if self.rule_state is None:
            as_reward_tensor(m)
            return torch.zeros_like(self.projection.weight.detach())
        dw = self.rule.credit(self.projection, self.rule_state, m, self.dt, self.reduction)
        return self.apply(dw, duration=0.0)

    @torch.no_grad()
    def apply(self, dw: Tensor, duration: float) -> Tensor:
        """Pass ``dw`` through the pieces and apply it; returns the change after transforms.

        Order: piece transforms, then ``w += dw`` (or ``grad = -dw; optimizer.step()``), then
        ``projection.apply_constraints_()``, then piece constraints.

        Args:
            dw: Change shaped like the weight.
            duration: Time the change covers (ms), for time-based pieces such as decay.
        """
        w = self.projection.weight
        if dw.shape != w.shape:
            raise ValueError(
                f"change of shape {list(dw.shape)} does not fit weight {list(w.shape)}"
            )
        if not math.isfinite(duration) or duration < 0:
            raise ValueError(f"duration must be finite and >= 0, got {duration}")
        for p in self.pieces:
            dw = p.transform(dw, self.projection, duration)
        dw = dw.to(w.dtype)
        if self.optimizer is not None:
            w.grad = -dw.detach().clone()
            self.optimizer.step()
            w.grad = None
        else:
            w.add_(dw)
        self.projection.apply_constraints_()
        for p in self.pieces:
            p.constrain_(self.projection)
        self.last_change = dw
        return dw

    def __repr__(self) -> str:
        mode = "online" if self.online else "window"
        return (
            f"Plasticity({self.source!r}->{self.target!r}, {self.rule!r}, mode={mode}, "
            f"pieces={self.pieces})"
        )
