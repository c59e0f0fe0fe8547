"""Plasticity rules: objects that *return* a weight change and never write weights.

Every rule is written once against the unfolded layout of :class:`~spikerl.learning.activity.
Activity` (``pre [T, B, L, K]``, ``post [T, B, L, N]``) and folds the per-location change
``[L, K, N]`` with ``projection.fold``, so the same rule serves dense, sparse, convolutional
and locally connected projections. One step is a window of ``T = 1``.

Notation (per synapse from presynaptic input ``j`` to postsynaptic unit ``i``):

* ``s_pre[t]``: presynaptic spike *arriving* at step ``t`` (emitted at ``t - 1``);
* ``s_post[t]``: postsynaptic spike at step ``t``;
* ``x_pre[t]``: presynaptic trace including ``s_pre[t]`` (time constant ``tau_plus``);
* ``x_post^-[t]``: postsynaptic trace decayed to ``t`` but *before* ``s_post[t]``
  (time constant ``tau_minus``).

With ``dt = t_post - t_arrival`` (ms), a single pair then gives the classic window
``A+ exp(-dt / tau+)`` for ``dt >= 0`` and ``-A- exp(dt / tau-)`` for ``dt < 0``: a spike that
arrives in the step the target fires counts as causal (it contributed to that step's current).
In terms of emission times the window is shifted by the one step of network delay.

Weights are in the projection's units (mV per spike for the LIF family); learning rates and
amplitudes carry those units. Batches: per-sample traces; the per-sample changes are combined
by :class:`~spikerl.learning.activity.Reduction` (mean by default).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
from torch import Tensor

from spikerl._checks import check_non_negative, check_positive
from spikerl.core.projections import Projection
from spikerl.learning.activity import (
    Activity,
    Reduction,
    TraceState,
    as_modulation,
    fold_batch,
    outer,
    outer_per_sample,
    reduce_batch,
)
from spikerl.learning.traces import TraceMode, TraceParams, decay_matrix

__all__ = [
    "MSTDP",
    "MSTDPET",
    "DiehlCook2015",
    "EligibilityRule",
    "Hebbian",
    "LearningRule",
    "PostPre",
    "RuleOutput",
    "WeightDependentPostPre",
]


class RuleOutput(NamedTuple):
    """What a rule returns.

    Attributes:
        dw: The weight change, shaped like ``projection.weight`` (already reduced over the
            batch).
        state: The rule's new per-sample state (an eligibility trace ``[B, *weight.shape]``),
            or ``None`` for rules without state.
    """

    dw: Tensor
    state: Tensor | None


def _bound(name: str, value: float | None, fallback: float | None, rule: str) -> float:
    v = value if value is not None else fallback
    if v is None:
        raise ValueError(f"{rule} needs {name}: give it to the rule or set it on the projection")
    return float(v)


class LearningRule(abc.ABC):
    """Base class of plasticity rules.

    Subclasses define :attr:`pre_trace`, :attr:`post_trace` and :meth:`_delta`. Call
    :meth:`delta`, which validates its inputs.
    """

    #: Whether the rule is a three-factor rule that needs a modulatory signal.
    needs_modulation: ClassVar[bool] = False

    def window_delta(
        self,
        projection: Projection,
        pre_spikes: Tensor,
        post_spikes: Tensor,
        traces: TraceState | None,
        dt: float,
        reduction: Reduction,
    ) -> tuple[Tensor, TraceState] | None:
        """A specialised computation of a stateless rule's window change, or ``None``.

        Rules may return ``(dw, traces at the end)`` computed straight from the spikes
        (e.g. event-driven), equal to :meth:`delta` on
        :func:`~spikerl.learning.activity.compute_activity`; ``None`` (the default) means
        the generic path. Called by :class:`~spikerl.learning.plasticity.Plasticity` for
        windows of more than one step.
        """
        return None

    @property
    @abc.abstractmethod
    def pre_trace(self) -> TraceParams:
        """Constants of the presynaptic trace the rule reads."""

    @property
    @abc.abstractmethod
    def post_trace(self) -> TraceParams:
        """Constants of the postsynaptic trace the rule reads."""

    def initial_state(self, projection: Projection, batch_size: int) -> Tensor | None:
        """Fresh per-sample state of the rule (``None`` for stateless rules)."""
        return None

    def delta(
        self,
        projection: Projection,
        activity: Activity,
        modulation: float | Tensor | None = None,
        state: Tensor | None = None,
        reduction: Reduction = Reduction.MEAN,
    ) -> RuleOutput:
        """The weight change over the window of ``activity``.

        Args:
            projection: The projection that learns (read only).
            activity: Unfolded spikes and traces from
                :func:`~spikerl.learning.activity.compute_activity` with this rule's traces.
            modulation: Reward, reward-prediction error or TD error: a float, ``[B]`` or
                ``[T, B]``. Required by three-factor rules, refused by the others.
            state: The rule's state from the previous window (``None``: fresh).
            reduction: How per-sample changes are combined.

        Returns:
            ``RuleOutput(dw, state)``; ``dw`` has the weight's shape.

        Raises:
            TypeError: If ``projection`` or ``activity`` has the wrong type.
            ValueError: If a modulated rule gets no modulation (or an unmodulated one gets
                one), the modulation is not finite or the shapes do not match.
        """
        if not isinstance(projection, Projection):
            raise TypeError(f"projection must be a Projection, got {type(projection).__name__}")
        if not isinstance(activity, Activity):
            raise TypeError(f"activity must be an Activity, got {type(activity).__name__}")
        name = type(self).__name__
        m: Tensor | None = None
        if self.needs_modulation:
            if modulation is None:
                raise ValueError(
                    f"{name} is reward-modulated and needs a modulation signal (reward, "
                    "reward-prediction error or TD error); pass modulation=..., or call "
                    "Plasticity.set_modulation(...) before running"
                )
            m = as_modulation(
                modulation, activity.steps, activity.batch_size, dtype=projection.weight.dtype
            ).to(projection.weight.device)
        elif modulation is not None:
            raise ValueError(f"{name} is not reward-modulated; it takes no modulation signal")
        out = self._delta(projection, activity, m, state, reduction)
        if out.dw.shape != projection.weight.shape:
            raise ValueError(
                f"{name}: change of shape {list(out.dw.shape)} does not fit the weight "
                f"{list(projection.weight.shape)}; activity was built for another projection?"
            )
        return out

    @abc.abstractmethod
    def _delta(
        self,
        projection: Projection,
        activity: Activity,
        modulation: Tensor | None,
        state: Tensor | None,
        reduction: Reduction,
    ) -> RuleOutput:
        """Rule body: ``modulation`` is ``[T, B]`` or ``None`` (validated)."""


def _trace(tau: float, mode: TraceMode) -> TraceParams:
    return TraceParams(tau=tau, scale=1.0, mode=mode)


@dataclass(frozen=True)
class Hebbian(LearningRule):
    """Trace-based Hebbian rule: every pairing potentiates, whatever its order.

        dw = eta_post * sum_t x_pre[t] s_post[t] + eta_pre * sum_t s_pre[t] x_post^-[t]

    Attributes:
        eta_post: Rate on postsynaptic spikes (weight units per unit trace).
        eta_pre: Rate on presynaptic spikes.
        tau_pre: Presynaptic trace time constant (ms).
        tau_post: Postsynaptic trace time constant (ms).
        mode: All-to-all (``ADD``) or nearest-spike (``SET``) traces.
    """

    eta_post: float = 1e-3
    eta_pre: float = 1e-3
    tau_pre: float = 20.0
    tau_post: float = 20.0
    mode: TraceMode = TraceMode.ADD

    def __post_init__(self) -> None:
        check_positive("tau_pre", self.tau_pre)
        check_positive("tau_post", self.tau_post)

    @property
    def pre_trace(self) -> TraceParams:
        return _trace(self.tau_pre, self.mode)

    @property
    def post_trace(self) -> TraceParams:
        return _trace(self.tau_post, self.mode)

    def _delta(
        self,
        projection: Projection,
        activity: Activity,
        modulation: Tensor | None,
        state: Tensor | None,
        reduction: Reduction,
    ) -> RuleOutput:
        a = activity
        d = self.eta_post * outer(a.pre_trace, a.post) + self.eta_pre * outer(
            a.pre, a.post_trace_before
        )
        return RuleOutput(reduce_batch(projection.fold(d), a.batch_size, reduction), None)


@dataclass(frozen=True)
class PostPre(LearningRule):
    """Additive pair STDP (post-pre): potentiation on post spikes, depression on pre spikes.

        dw = A+ * sum_t x_pre[t] s_post[t] - A- * sum_t s_pre[t] x_post^-[t]

    For one pair at ``dt = t_post - t_arrival``: ``A+ exp(-dt/tau+)`` if ``dt >= 0``, else
    ``-A- exp(dt/tau-)``.

    Attributes:
        a_plus: Potentiation amplitude ``A+ >= 0`` (weight units).
        a_minus: Depression amplitude ``A- >= 0`` (weight units).
        tau_plus: Presynaptic trace time constant (ms).
        tau_minus: Postsynaptic trace time constant (ms).
        mode: All-to-all (``ADD``) or nearest-spike (``SET``) traces.
    """

    a_plus: float = 1e-2
    a_minus: float = 1e-2
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    mode: TraceMode = TraceMode.ADD

    def __post_init__(self) -> None:
        check_non_negative("a_plus", self.a_plus)
        check_non_negative("a_minus", self.a_minus)
        check_positive("tau_plus", self.tau_plus)
        check_positive("tau_minus", self.tau_minus)

    @property
    def pre_trace(self) -> TraceParams:
        return _trace(self.tau_plus, self.mode)

    @property
    def post_trace(self) -> TraceParams:
        return _trace(self.tau_minus, self.mode)

    def window_delta(
        self,
        projection: Projection,
        pre_spikes: Tensor,
        post_spikes: Tensor,
        traces: TraceState | None,
        dt: float,
        reduction: Reduction,
    ) -> tuple[Tensor, TraceState] | None:
        """Event-driven over presynaptic spikes (:func:`~spikerl.learning.pair_events.
        pair_stdp_window`) for dense projections on CPU; ``None`` elsewhere."""
        from spikerl.learning.pair_events import pair_stdp_window

        return pair_stdp_window(
            projection,
            pre_spikes,
            post_spikes,
            self.pre_trace,
            self.post_trace,
            self.a_plus,
            self.a_minus,
            dt,
            traces,
            reduction,
        )

    def _delta(
        self,
        projection: Projection,
        activity: Activity,
        modulation: Tensor | None,
        state: Tensor | None,
        reduction: Reduction,
    ) -> RuleOutput:
        a = activity
        d = self.a_plus * outer(a.pre_trace, a.post) - self.a_minus * outer(
            a.pre, a.post_trace_before
        )
        return RuleOutput(reduce_batch(projection.fold(d), a.batch_size, reduction), None)


@dataclass(frozen=True)
class WeightDependentPostPre(LearningRule):
    """Pair STDP with soft bounds: changes shrink as the weight nears a bound.

        dw = A+ (wmax - w) sum_t x_pre s_post - A- (w - wmin) sum_t s_pre x_post^-

    ``w`` is the weight at the start of the window (every step in online mode). For
    ``A+, A- <= 1`` per window the weight stays in ``[wmin, wmax]``.

    Attributes:
        a_plus: Potentiation rate (per unit trace, dimensionless).
        a_minus: Depression rate (dimensionless).
        tau_plus: Presynaptic trace time constant (ms).
        tau_minus: Postsynaptic trace time constant (ms).
        wmin: Lower bound (default: the projection's ``wmin``).
        wmax: Upper bound (default: the projection's ``wmax``).
        mode: All-to-all (``ADD``) or nearest-spike (``SET``) traces.
    """

    a_plus: float = 1e-2
    a_minus: float = 1e-2
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    wmin: float | None = None
    wmax: float | None = None
    mode: TraceMode = TraceMode.ADD

    def __post_init__(self) -> None:
        check_non_negative("a_plus", self.a_plus)
        check_non_negative("a_minus", self.a_minus)
        check_positive("tau_plus", self.tau_plus)
        check_positive("tau_minus", self.tau_minus)
        if self.wmin is not None and self.wmax is not None and self.wmin > self.wmax:
            raise ValueError(f"wmin ({self.wmin}) must be <= wmax ({self.wmax})")

    @property
    def pre_trace(self) -> TraceParams:
        return _trace(self.tau_plus, self.mode)

    @property
    def post_trace(self) -> TraceParams:
        return _trace(self.tau_minus, self.mode)

    def _delta(
        self,
        projection: Projection,
        activity: Activity,
        modulation: Tensor | None,
        state: Tensor | None,
        reduction: Reduction,
    ) -> RuleOutput:
        name = type(self).__name__
        lo = _bound("wmin", self.wmin, projection.wmin, name)
        hi = _bound("wmax", self.wmax, projection.wmax, name)
        a = activity
        w = projection.weight.detach()
        ltp = projection.fold(outer(a.pre_trace, a.post))
        ltd = projection.fold(outer(a.pre, a.post_trace_before))
        d = self.a_plus * (hi - w) * ltp - self.a_minus * (w - lo) * ltd
        return RuleOutput(reduce_batch(d, a.batch_size, reduction), None)


@dataclass(frozen=True)
class DiehlCook2015(LearningRule):
    """The rule of Diehl & Cook (2015): learning on postsynaptic spikes with a pre-trace offset.

        dw = eta_post * sum_t (x_pre[t] - x_tar) (wmax - w)^mu s_post[t]
             - eta_pre * sum_t s_pre[t] x_post^-[t]

    The offset ``x_tar`` depresses inputs that rarely fire before a postsynaptic spike; the
    second term is the small depression on presynaptic spikes of their code (set
    ``eta_pre = 0`` to drop it). With ``mu = 0`` there is no weight dependence.

    Attributes:
        eta_post: Rate on postsynaptic spikes (weight units per unit trace).
        eta_pre: Rate of the depression on presynaptic spikes (>= 0).
        x_tar: Target presynaptic trace value (dimensionless).
        tau_pre: Presynaptic trace time constant (ms).
        tau_post: Postsynaptic trace time constant (ms).
        mu: Exponent of the weight dependence (0: none).
        wmax: Upper bound for ``mu > 0`` (default: the projection's ``wmax``).
        mode: All-to-all (``ADD``) or nearest-spike (``SET``) traces.
    """

    eta_post: float = 1e-2
    eta_pre: float = 1e-4
    x_tar: float = 0.4
    tau_pre: float = 20.0
    tau_post: float = 20.0
    mu: float = 0.0
    wmax: float | None = None
    mode: TraceMode = TraceMode.ADD

    def __post_init__(self) -> None:
        check_non_negative("eta_post", self.eta_post)
        check_non_negative("eta_pre", self.eta_pre)
        check_non_negative("mu", self.mu)
        check_positive("tau_pre", self.tau_pre)
        check_positive("tau_post", self.tau_post)

    @property
    def pre_trace(self) -> TraceParams:
        return _trace(self.tau_pre, self.mode)

    @property
    def post_trace(self) -> TraceParams:
        return _trace(self.tau_post, self.mode)

    def window_delta(
        self,
        projection: Projection,
        pre_spikes: Tensor,
        post_spikes: Tensor,
        traces: TraceState | None,
        dt: float,
        reduction: Reduction,
    ) -> tuple[Tensor, TraceState] | None:
        """Event-driven over postsynaptic spikes (:func:`~spikerl.learning.post_events.
        diehl_cook_window`) for dense projections from fresh traces; ``None`` elsewhere."""
        from spikerl.learning.post_events import diehl_cook_window

        return diehl_cook_window(self, projection, pre_spikes, post_spikes, traces, dt, reduction)

    def _delta(
        self,
        projection: Projection,
        activity: Activity,
        modulation: Tensor | None,
        state: Tensor | None,
        reduction: Reduction,
    ) -> RuleOutput:
        a = activity
        # The offset applies to real inputs only, not to the zero padding of a convolution.
        ones = torch.ones(1, *projection.source_shape, dtype=a.pre.dtype, device=a.pre.device)
        real = projection.unfold_pre(ones).unsqueeze(0)  # [1, 1, L, K]
        ltp = projection.fold(outer(a.pre_trace - self.x_tar * real, a.post))
        if self.mu > 0:
            hi = _bound("wmax", self.wmax, projection.wmax, type(self).__name__)
            ltp = ltp * (hi - projection.weight.detach()).clamp_min(0.0) ** self.mu
        d = self.eta_post * ltp
        if self.eta_pre > 0:
            d = d - self.eta_pre * projection.fold(outer(a.pre, a.post_trace_before))
        return RuleOutput(reduce_batch(d, a.batch_size, reduction), None)


def _check_florian(a_plus: float, a_minus: float) -> None:
    if not math.isfinite(a_plus) or a_plus < 0:
        raise ValueError(f"a_plus must be finite and >= 0 (Florian's A+), got {a_plus}")
    if not math.isfinite(a_minus) or a_minus > 0:
        raise ValueError(
            f"a_minus must be finite and <= 0 (Florian's A- is a negative amplitude), got {a_minus}"
        )


@dataclass(frozen=True)
class MSTDP(LearningRule):
    """Modulated STDP (Florian 2007, "Reinforcement learning through modulation of
    spike-timing-dependent synaptic plasticity", Neural Computation 19:1468).

    Continuous time, synapse from ``j`` (pre) to ``i`` (post), spike trains ``Phi``:

        dw_ij/dt  = gamma r(t) zeta_ij(t)
        zeta_ij   = P+_ij(t) Phi_i(t) + P-_ij(t) Phi_j(t)
        dP+_ij/dt = -P+_ij / tau+ + A+ Phi_j(t)        (presynaptic trace, A+ > 0)
        dP-_ij/dt = -P-_ij / tau- + A- Phi_i(t)        (postsynaptic trace, A- < 0)

    Discrete time (step ``dt``; ``P+ = A+ x_pre``, ``P- = A- x_post^-``):

        dw = gamma * sum_t r[t] (A+ x_pre[t] s_post[t] + A- x_post^-[t] s_pre[t])

    ``r`` is the modulation: a reward, a reward-prediction error or a TD error, per batch
    element (``[B]``) or per step (``[T, B]``). Zero modulation changes nothing.

    Attributes:
        gamma: Learning rate (weight units per unit modulation).
        a_plus: ``A+`` (>= 0).
        a_minus: ``A-`` (<= 0).
        tau_plus: ``tau+`` (ms).
        tau_minus: ``tau-`` (ms).
        mode: All-to-all (``ADD``, Florian's) or nearest-spike (``SET``) traces.
    """

    needs_modulation: ClassVar[bool] = True

    gamma: float = 1e-2
    a_plus: float = 1.0
    a_minus: float = -1.0
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    mode: TraceMode = TraceMode.ADD

    def __post_init__(self) -> None:
        _check_florian(self.a_plus, self.a_minus)
        check_positive("tau_plus", self.tau_plus)
        check_positive("tau_minus", self.tau_minus)

    @property
    def pre_trace(self) -> TraceParams:
        return _trace(self.tau_plus, self.mode)

    @property
    def post_trace(self) -> TraceParams:
        return _trace(self.tau_minus, self.mode)

    def _delta(
        self,
        projection: Projection,
        activity: Activity,
        modulation: Tensor | None,
        state: Tensor | None,
        reduction: Reduction,
    ) -> RuleOutput:
        assert modulation is not None
        a = activity
        d = self.a_plus * outer(a.pre_trace, a.post, modulation) + self.a_minus * outer(
            a.pre, a.post_trace_before, modulation
        )
        dw = self.gamma * reduce_batch(projection.fold(d), a.batch_size, reduction)
        return RuleOutput(dw, None)


class EligibilityRule(LearningRule):
    """A three-factor rule with a per-sample eligibility trace ``z`` as its state.

    Besides :meth:`delta`, it can credit a modulation that arrives *now* to the current
    eligibility with :meth:`credit` (a delayed reward).
    """

    needs_modulation: ClassVar[bool] = True

    @abc.abstractmethod
    def credit(
        self,
        projection: Projection,
        state: Tensor,
        modulation: float | Tensor,
        dt: float = 1.0,
        reduction: Reduction = Reduction.MEAN,
    ) -> Tensor:
        """The weight change when modulation ``r`` lasts one step of ``dt`` ms now."""


@dataclass(frozen=True)
class MSTDPET(EligibilityRule):
    """Modulated STDP with an eligibility trace (Florian 2007, MSTDPET).

    Continuous time, with ``zeta_ij`` and ``P+-`` as in :class:`MSTDP`:

        dw_ij/dt      = gamma r(t) z_ij(t)
        tau_z dz_ij/dt = -z_ij + zeta_ij(t)

    Discrete time (step ``dt``, ``a_z = exp(-dt / tau_z)``): the eligibility jumps by
    ``zeta / tau_z`` at each pairing and decays with ``tau_z``:

        z[t]  = a_z z[t-1] + (A+ x_pre[t] s_post[t] + A- x_post^-[t] s_pre[t]) / tau_z
        dw[t] = gamma r[t] z[t] dt

    (``z`` has units 1/ms, so ``dw`` has ``gamma``'s units times the modulation's.) With
    ``per_window`` the eligibility decays once per window instead, and a window's ``T``
    pairings add undiscounted (the R-STDP agent's windowed eligibility: decay ``a_z^T =
    gamma lambda`` per env step, the pairs of the step summed):

        z <- a_z^T z + sum_u zeta[u] / tau_z

    credited only at the window's end (:meth:`credit`; the modulation inside such a window
    must be zero). Over a window the total ``gamma dt sum_t r[t] z[t]`` is computed in one
    product:
    ``sum_u R[u] zeta[u] / tau_z + (sum_t r[t] a_z^(t+1)) z[-1]`` with the reverse-discounted
    modulation ``R[u] = sum_{t>=u} a_z^(t-u) r[t]``. The state is ``z`` per batch element,
    ``[B, *weight.shape]``; a reward arriving later is credited with :meth:`credit`.

    Attributes:
        gamma: Learning rate.
        a_plus: ``A+`` (>= 0).
        a_minus: ``A-`` (<= 0).
        tau_plus: ``tau+`` (ms).
        tau_minus: ``tau-`` (ms).
        tau_z: Eligibility time constant (ms).
        mode: All-to-all (``ADD``) or nearest-spike (``SET``) traces.
        per_window: Decay the eligibility once per window (``a_z^T``) and add the window's
            pairings undiscounted, instead of decaying it every step.
    """

    gamma: float = 1e-2
    a_plus: float = 1.0
    a_minus: float = -1.0
    tau_plus: float = 20.0
    tau_minus: float = 20.0
    tau_z: float = 25.0
    mode: TraceMode = TraceMode.ADD
    per_window: bool = False

    def __post_init__(self) -> None:
        _check_florian(self.a_plus, self.a_minus)
        check_positive("tau_plus", self.tau_plus)
        check_positive("tau_minus", self.tau_minus)
        check_positive("tau_z", self.tau_z)

    @property
    def pre_trace(self) -> TraceParams:
        return _trace(self.tau_plus, self.mode)

    @property
    def post_trace(self) -> TraceParams:
        return _trace(self.tau_minus, self.mode)

    def initial_state(self, projection: Projection, batch_size: int) -> Tensor:
        """Zero eligibility ``[B, *weight.shape]``."""
        w = projection.weight
        return torch.zeros(batch_size, *w.shape, dtype=w.dtype, device=w.device)

    def _check_state(self, projection: Projection, state: Tensor, batch_size: int) -> None:
        want = (batch_size, *projection.weight.shape)
        if tuple(state.shape) != want:
            raise ValueError(
                f"MSTDPET eligibility state: expected shape {list(want)}, got "
                f"{list(state.shape)}; reset the plasticity state when the batch size changes"
            )

    def _delta(
        self,
        projection: Projection,
        activity: Activity,
        modulation: Tensor | None,
        state: Tensor | None,
        reduction: Reduction,
    ) -> RuleOutput:
        assert modulation is not None
        a = activity
        T, B, dt = a.steps, a.batch_size, a.dt
        z0 = self.initial_state(projection, B) if state is None else state
        self._check_state(projection, z0, B)
        r = modulation.to(z0.dtype)
        decay = math.exp(-dt / self.tau_z)
        d = decay_matrix(T, self.tau_z, dt, dtype=z0.dtype, device=z0.device)
        # New eligibility: a^T z0 + sum_u a^(T-1-u) zeta[u] / tau_z (per_window: a^0 = 1).
        if self.per_window:
            if bool(r.any()):
                raise ValueError(
                    "MSTDPET(per_window=True) takes no modulation inside a window: credit "
                    "it at the window's end (Plasticity.deliver / MSTDPET.credit)"
                )
            last = torch.ones(T, B, dtype=z0.dtype, device=z0.device)
        else:
            last = d[-1].unsqueeze(1).expand(T, B)
        zeta_end = self.a_plus * outer_per_sample(a.pre_trace, a.post, last) + (
            self.a_minus * outer_per_sample(a.pre, a.post_trace_before, last)
        )
        z_new = decay**T * z0 + fold_batch(projection, zeta_end) / self.tau_z
        if not bool(r.any()):
            return RuleOutput(torch.zeros_like(projection.weight.detach()), z_new)
        big_r = d.T @ r  # R[u, b] = sum_{t >= u} a^(t-u) r[t, b]
        zeta_r = self.a_plus * outer(a.pre_trace, a.post, big_r) + self.a_minus * outer(
            a.pre, a.post_trace_before, big_r
        )
        powers = torch.tensor(
            [decay ** (t + 1) for t in range(T)], dtype=z0.dtype, device=z0.device
        )
        c = (r * powers.unsqueeze(1)).sum(0)  # [B]
        dw_sum = projection.fold(zeta_r) / self.tau_z + torch.einsum("b,b...->...", c, z0)
        dw = self.gamma * dt * reduce_batch(dw_sum, B, reduction)
        return RuleOutput(dw, z_new)

    def credit(
        self,
        projection: Projection,
        state: Tensor,
        modulation: float | Tensor,
        dt: float = 1.0,
        reduction: Reduction = Reduction.MEAN,
    ) -> Tensor:
        """Credit a modulation that arrives now: ``dw = gamma dt reduce_b(r_b z_b)``.

        Args:
            projection: The learning projection (read only).
            state: Current eligibility ``[B, *weight.shape]``.
            modulation: Reward / RPE / TD error: a float or ``[B]``.
            dt: Duration of the modulation pulse (ms), normally the network step.
            reduction: Batch reduction.
        """
        check_positive("dt", dt)
        B = state.shape[0]
        self._check_state(projection, state, B)
        m = as_modulation(modulation, 1, B, dtype=state.dtype).to(state.device)[0]
        dw_sum = torch.einsum("b,b...->...", m, state)
        return self.gamma * dt * reduce_batch(dw_sum, B, reduction)
