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

import numpy as np
import torch
from torch import Tensor

from spikerl._checks import check_positive
from spikerl.core import kernels
from spikerl.core.backends.base import EligibilitySpec
from spikerl.core.network import Network
from spikerl.core.projections import DenseProjection, LateralProjection, Projection, Sign
from spikerl.learning.activity import Reduction, TraceState, compute_activity
from spikerl.learning.modulation import Modulator, as_reward_tensor
from spikerl.learning.pieces import WeightPiece
from spikerl.learning.rules import MSTDPET, EligibilityRule, LearningRule

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
        self._zero_change: Tensor | None = None
        self._credit_cache: tuple[Any, ...] | None = None
        self._last_mean_abs: float | None = None

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
    def relax(self, duration: float) -> None:
        """Decay the traces over a silent gap of ``duration`` ms (no spikes in it):
        ``x_pre <- x_pre exp(-duration / tau_pre)``, ``x_post <- x_post exp(-duration /
        tau_post)``, in place. The eligibility is kept as it is: a rule whose eligibility
        decays per window (the R-STDP agent's, ``tau_z`` set per window) does not decay it
        in the gap, which belongs to no window."""
        if self.traces is None or duration == 0:
            return
        self.traces.pre.mul_(math.exp(-duration / self.rule.pre_trace.tau))
        self.traces.post.mul_(math.exp(-duration / self.rule.post_trace.tau))

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

    # -- compiled window plans (spikerl.core.backends) ----------------------------------
    def eligibility_spec(self) -> EligibilitySpec | None:
        """The binding in the form a compiled plan accumulates inside its window, or
        ``None`` (the plan then calls :meth:`on_window` after the kernel).

        Offered for window-mode :class:`~spikerl.learning.rules.MSTDPET` on a dense or
        lateral projection without pieces, optimizer or weight normalisation: with zero
        modulation its window changes only traces and eligibility (the weight change is
        credited by :meth:`deliver`).
        """
        proj = self.projection
        if (
            self.online
            or type(self.rule) is not MSTDPET
            or self.pieces
            or self.optimizer is not None
            or type(proj) not in (DenseProjection, LateralProjection)
            or proj.norm is not None
        ):
            return None
        rule = self.rule
        return EligibilitySpec(
            projection=proj,
            source=self.source,
            target=self.target,
            pre=rule.pre_trace,
            post=rule.post_trace,
            a_plus=rule.a_plus,
            a_minus=rule.a_minus,
            tau_z=rule.tau_z,
            per_window=rule.per_window,
        )

    def eligibility_only(self) -> bool:
        """Whether the next window only accumulates (zero modulation, nothing buffered)."""
        if self._pending:
            return False
        m = self.modulation
        if m is None:
            return False
        if isinstance(m, Tensor):
            return not bool(m.any())
        return m == 0.0

    def eligibility_state(self) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        """``(pre trace, post trace, eligibility)`` (``None`` where fresh)."""
        t = self.traces
        return (None, None, self.rule_state) if t is None else (t.pre, t.post, self.rule_state)

    def adopt_eligibility_state(self, pre: Tensor, post: Tensor, z: Tensor) -> None:
        """Take the state a compiled plan computed for a window (as :meth:`on_window`
        would have left it; the window's weight change is zero)."""
        self.traces = TraceState(pre, post)
        self.rule_state = z
        zero = self._zero_change
        if zero is None or zero.dtype != z.dtype:
            zero = self._zero_change = torch.zeros_like(self.projection.weight.detach())
        self.last_change = zero
        self._last_mean_abs = 0.0

    @property
    def last_mean_abs_change(self) -> float:
        """Mean ``|dw|`` of the last :meth:`deliver` or :meth:`apply` (0 before any)."""
        if self._last_mean_abs is None:
            dw = self.last_change
            self._last_mean_abs = 0.0 if dw is None else float(dw.abs().mean())
        return self._last_mean_abs

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
            self._last_mean_abs = 0.0
            return torch.zeros_like(self.projection.weight.detach())
        fast = self._credit_compiled(m)
        if fast is not None:
            return fast
        dw = self.rule.credit(self.projection, self.rule_state, m, self.dt, self.reduction)
        return self.apply(dw, duration=0.0)

    def _credit_compiled(self, m: float | Tensor) -> Tensor | None:
        """:meth:`deliver` of MSTDPET in one compiled pass (credit, apply, bounds), when
        nothing else (pieces, optimizer, norm, mask, sign) acts on the change; else ``None``.
        Same operations as ``credit`` + ``apply`` (to float rounding for ``B > 1``)."""
        z = self.rule_state
        if z is None:
            return None
        w = self.projection.weight
        cache = self._credit_cache
        if cache is None or cache[0] is not z or cache[1] != w.data_ptr():
            cache = self._credit_cache = self._credit_setup(z)
            if cache is None:
                return None
        _, _, z_np, w_np, dw, dw_np, scale, div, lo, hi = cache
        if isinstance(m, Tensor):
            if m.device.type != "cpu":
                return None
            mt = np.asarray(m.detach().numpy(), dtype=z_np.dtype).reshape(-1)
        elif isinstance(m, int | float) and not isinstance(m, bool):
            mt = np.full(1, m, dtype=z_np.dtype)
        else:
            return None
        if mt.shape[0] != z_np.shape[0]:
            if mt.shape[0] != 1:
                return None  # the eager path explains the error
            mt = np.repeat(mt, z_np.shape[0])
        if not np.isfinite(mt).all():
            return None
        mean_abs = kernels._credit_kernel(z_np, mt, scale, div, w_np, lo, hi, dw_np)
        self.last_change = dw
        self._last_mean_abs = float(mean_abs)
        return dw

    def _credit_setup(self, z: Tensor) -> tuple[Any, ...] | None:
        """NumPy views and constants of the compiled credit (``None``: not applicable)."""
        proj = self.projection
        w = proj.weight
        if (
            type(self.rule) is not MSTDPET
            or self.pieces
            or self.optimizer is not None
            or type(proj) not in (DenseProjection, LateralProjection)
            or proj.norm is not None
            or proj.mask is not None
            or proj.sign is not Sign.ANY
            or not kernels.usable(z, w)
            or z.dtype != w.dtype
            or z.dim() != 3
            or not z.is_contiguous()
            or not w.is_contiguous()
        ):
            return None
        self._check_state_shape(z)
        dw = torch.empty_like(w.detach())
        npdt = z.detach().numpy().dtype.type
        div = z.shape[0] if self.reduction is Reduction.MEAN else 1
        return (
            z,
            w.data_ptr(),
            z.detach().numpy(),
            w.detach().numpy(),
            dw,
            dw.numpy(),
            npdt(self.rule.gamma * self.dt),
            npdt(div),
            npdt(-math.inf if proj.wmin is None else proj.wmin),
            npdt(math.inf if proj.wmax is None else proj.wmax),
        )

    def _check_state_shape(self, z: Tensor) -> None:
        want = tuple(self.projection.weight.shape)
        if tuple(z.shape[1:]) != want:
            raise ValueError(
                f"MSTDPET eligibility state: expected shape [B, {', '.join(map(str, want))}], "
                f"got {list(z.shape)}"
            )

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
        self._last_mean_abs = None
        return dw

    def __repr__(self) -> str:
        mode = "online" if self.online else "window"
        return (
            f"Plasticity({self.source!r}->{self.target!r}, {self.rule!r}, mode={mode}, "
            f"pieces={self.pieces})"
        )
