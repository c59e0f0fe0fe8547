"""Projections (connections): weights from a source population to a target population.

A projection owns its weights, bounds, normalisation, mask and sign, and knows nothing of
learning. It maps the source's spikes ``[B, *source_shape]`` to input currents
``[B, *target_shape]`` (mV per step for the LIF family). The network delivers the spikes of
step ``t-1`` at step ``t``.

For learning rules, every projection exposes the same three adapters so that one rule
serves dense, sparse, convolutional and locally connected weights:

* ``unfold_pre(x [B, *source]) -> [B, L, K]``: the presynaptic values seen by each of the
  ``L`` weight-sharing locations through ``K`` inputs;
* ``unfold_post(y [B, *target]) -> [B, L, N]``: the ``N`` postsynaptic units at each location;
* ``fold(dw [L, K, N]) -> weight-shaped``: a per-location outer-product update mapped back
  to the weight tensor (summed over locations where weights are shared).

A rule computes ``dw[l, k, n] = reduce_b f(pre[b, l, k], post[b, l, n])`` and calls ``fold``.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spikerl.core.init import Constant, Initializer, Uniform
from spikerl.core.neurons.base import as_shape


class Propagation(enum.Enum):
    """How spikes are propagated through a dense weight matrix.

    ``DENSE``: one matrix product. ``SPARSE``: event-driven, gather the weight rows of active
    inputs only. ``AUTO``: ``SPARSE`` when at most :data:`SPARSE_ACTIVE_FRACTION` of the
    inputs are active in the rows being propagated, else ``DENSE``.
    """

    DENSE = "dense"
    SPARSE = "sparse"
    AUTO = "auto"


class Sign(enum.Enum):
    """Sign constraint on weights (Dale's principle)."""

    ANY = "any"
    EXCITATORY = "excitatory"
    INHIBITORY = "inhibitory"


#: With ``Propagation.AUTO``, rows of active inputs are gathered when at most this fraction
#: of the inputs is active in the batch (or window); otherwise the dense product runs.
#: Measured crossover on a 2-core CPU, 1 thread (``scripts/bench_crossover.py``,
#: ``results/bench_crossover.json``): gathering wins up to 0.3 (1.0-2.6x) at n = 1000 and
#: 4000, batch 1 and 32, and loses from 0.4-0.7.
SPARSE_ACTIVE_FRACTION = 0.3

#: With ``Propagation.AUTO`` over many rows (a window), the compiled event-driven product
#: (one weight row added per spike) runs when at most this fraction of the entries are
#: non-zero; above it the dense product is faster. Measured crossover (``scripts/
#: bench_crossover.py``, 1000 rows): 0.05-0.075 at n = 1000, ~0.05 at n = 4000.
EVENT_ROWS_MAX_DENSITY = 0.05

WeightInit = Tensor | Initializer | float


def event_matmul(x: Tensor, w: Tensor, max_fraction: float = 1.0) -> Tensor:
    """Event-driven product ``x @ w`` that reads only the weight rows of active inputs.

    The inputs active anywhere in the ``R`` rows are gathered (``a`` of them) and one
    ``[R, a] @ [a, n_out]`` product replaces the full one, saving ``1 - a / n_in`` of the
    multiply-adds and of the weight memory traffic. If ``a > max_fraction * n_in`` the
    plain dense product is used instead (gathering would cost more than it saves).

    Args:
        x: ``[R, n_in]`` inputs, mostly zeros (spikes).
        w: ``[n_in, n_out]`` weights.
        max_fraction: Largest fraction of active inputs for which rows are gathered.

    Returns:
        ``[R, n_out]``, equal to ``x @ w`` up to summation order.
    """
    if x.shape[0] > 1:
        # Many rows (a window): add the weight rows of each row's own events (compiled).
        from spikerl.core import kernels

        limit = 1.0 if max_fraction >= 1.0 else min(max_fraction, EVENT_ROWS_MAX_DENSITY)
        density = float(torch.count_nonzero(x)) / max(1, x.numel())
        if density <= limit:
            out = kernels.event_matmul_rows(x, w)
            if out is not None:
                return out
    active = x.any(dim=0).nonzero().squeeze(1)
    if active.numel() == 0:
        return torch.zeros(x.shape[0], w.shape[1], dtype=w.dtype, device=w.device)
    if active.numel() > max_fraction * x.shape[1]:
        return x @ w
    return x.index_select(1, active) @ w.index_select(0, active)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _make_weight(
    init: WeightInit, shape: tuple[int, ...], generator: torch.Generator | None
) -> Tensor:
    if isinstance(init, Tensor):
        if tuple(init.shape) != shape:
            raise ValueError(f"weight: expected shape {list(shape)}, got {list(init.shape)}")
        # A floating tensor keeps its dtype (as ``nn.Parameter`` would); others become float32.
        w = init.detach().clone()
        return w if w.is_floating_point() else w.float()
    if isinstance(init, int | float):
        return Constant(float(init))(shape, generator)
    if callable(init):
        w = init(shape, generator)
        if tuple(w.shape) != shape:
            raise ValueError(f"initialiser returned shape {list(w.shape)}, expected {list(shape)}")
        return w.float()
    raise TypeError(f"weight must be a Tensor, a float or an initialiser, got {type(init)}")


class Projection(nn.Module):
    """Base class of all projections.

    Args:
        source_shape: Shape of the source population.
        target_shape: Shape of the target population.
        weight: The initial weight tensor (a floating tensor keeps its dtype, others become
            float32), an initialiser or a constant (float32).
        weight_shape: Shape of the weight tensor.
        wmin: Lower weight bound (or ``None``).
        wmax: Upper weight bound (or ``None``).
        norm: If set, the total input weight of each target unit is rescaled to ``norm``
            (``sum_k w[k, n] = norm``) by :meth:`apply_constraints_`.
        sign: Sign constraint.
        mask: Boolean tensor of the weight's shape; ``False`` entries are held at zero.
        trainable: Whether the weight takes gradients (surrogate-gradient training).
        generator: Random source of the initialiser.
    """

    def __init__(
        self,
        source_shape: int | Sequence[int],
        target_shape: int | Sequence[int],
        weight: WeightInit,
        weight_shape: tuple[int, ...],
        *,
        wmin: float | None = None,
        wmax: float | None = None,
        norm: float | None = None,
        sign: Sign = Sign.ANY,
        mask: Tensor | None = None,
        trainable: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.source_shape = as_shape(source_shape)
        self.target_shape = as_shape(target_shape)
        if wmin is not None and wmax is not None and wmin > wmax:
            raise ValueError(f"wmin ({wmin}) must be <= wmax ({wmax})")
        self.wmin = wmin
        self.wmax = wmax
        self.norm = norm
        self.sign = sign
        self.weight = nn.Parameter(
            _make_weight(weight, weight_shape, generator), requires_grad=trainable
        )
        if mask is not None:
            if tuple(mask.shape) != weight_shape:
                raise ValueError(
                    f"mask: expected shape {list(weight_shape)}, got {list(mask.shape)}"
                )
            self.register_buffer("mask", mask.to(torch.bool))
        else:
            self.mask: Tensor | None = None
        self.name = type(self).__name__
        self.apply_constraints_()

    # -- propagation -------------------------------------------------------------------
    def propagate(self, x: Tensor, propagation: Propagation = Propagation.DENSE) -> Tensor:
        """Map flattened-batch source activity ``[R, *source]`` to ``[R, *target]``."""
        raise NotImplementedError

    def forward(self, x: Tensor, propagation: Propagation = Propagation.DENSE) -> Tensor:
        """Input currents ``[B, *target_shape]`` caused by source activity ``[B, *source]``."""
        if x.dim() != len(self.source_shape) + 1 or tuple(x.shape[1:]) != self.source_shape:
            raise ValueError(
                f"projection '{self.name}': expected source activity of shape "
                f"[B, {', '.join(map(str, self.source_shape))}], got {list(x.shape)}"
            )
        return self.propagate(x.to(self.weight.dtype), propagation)

    def forward_window(self, x: Tensor, propagation: Propagation = Propagation.DENSE) -> Tensor:
        """Currents for a whole window, one product: ``[T, B, *source] -> [T, B, *target]``."""
        T, B = x.shape[0], x.shape[1]
        y = self.propagate(x.reshape(T * B, *x.shape[2:]).to(self.weight.dtype), propagation)
        return y.reshape(T, B, *self.target_shape)

    # -- constraints -------------------------------------------------------------------
    def fan_in_sums(self) -> Tensor:
        """Total input weight of each target unit (what ``norm`` fixes)."""
        raise NotImplementedError

    def _scale_fan_in_(self, factor: Tensor) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def normalize_(self, total: float | None = None) -> None:
        """Rescale weights so that every target unit's input weights sum to ``total``.

        ``w[:, n] <- w[:, n] * total / sum_k w[k, n]``; units whose sum is zero are left.
        """
        total = self.norm if total is None else total
        if total is None:
            return
        sums = self.fan_in_sums()
        factor = torch.where(sums != 0, total / sums, torch.ones_like(sums))
        self._scale_fan_in_(factor)

    @torch.no_grad()
    def apply_constraints_(self) -> None:
        """Apply, in order: normalisation, mask, sign, bounds (bounds are never violated)."""
        w = self.weight
        if self.norm is not None:
            self.normalize_()
        if self.mask is not None:
            w.mul_(self.mask.to(w.dtype))
        if self.sign is Sign.EXCITATORY:
            w.clamp_(min=0.0)
        elif self.sign is Sign.INHIBITORY:
            w.clamp_(max=0.0)
        if self.wmin is not None or self.wmax is not None:
            w.clamp_(min=self.wmin, max=self.wmax)

    # -- learning adapters -------------------------------------------------------------
    def unfold_pre(self, x: Tensor) -> Tensor:
        """Presynaptic values per location: ``[B, *source] -> [B, L, K]``."""
        raise NotImplementedError

    def unfold_post(self, y: Tensor) -> Tensor:
        """Postsynaptic values per location: ``[B, *target] -> [B, L, N]``."""
        raise NotImplementedError

    def fold(self, dw: Tensor) -> Tensor:
        """Map a per-location update ``[L, K, N]`` to the weight's shape."""
        raise NotImplementedError

    def dense_weight(self) -> Tensor:
        """The weights as a dense ``[n_source, n_target]`` matrix (for analysis and tests)."""
        eye = torch.eye(_numel(self.source_shape), dtype=self.weight.dtype)
        eye = eye.to(self.weight.device).reshape(-1, *self.source_shape)
        with torch.no_grad():
            return self.propagate(eye, Propagation.DENSE).reshape(eye.shape[0], -1)

    def extra_repr(self) -> str:
        return (
            f"{self.source_shape} -> {self.target_shape}, weight={list(self.weight.shape)}, "
            f"wmin={self.wmin}, wmax={self.wmax}, norm={self.norm}, sign={self.sign.value}"
        )


class DenseProjection(Projection):
    """All-to-all weights ``w [n_source, n_target]``: ``I[b, n] = sum_k x[b, k] w[k, n]``.

    Args:
        source: Source population shape.
        target: Target population shape.
        weight: Initial weights (tensor ``[n_source, n_target]``, initialiser or constant);
            default ``U(0, 0.3)``.
        **kwargs: Bounds, norm, sign, mask, trainable, generator (see :class:`Projection`).
    """

    def __init__(
        self,
        source: int | Sequence[int],
        target: int | Sequence[int],
        weight: WeightInit | None = None,
        **kwargs: object,
    ) -> None:
        n_src, n_tgt = _numel(as_shape(source)), _numel(as_shape(target))
        init: WeightInit = Uniform(0.0, 0.3) if weight is None else weight
        super().__init__(source, target, init, (n_src, n_tgt), **kwargs)  # type: ignore[arg-type]

    def propagate(self, x: Tensor, propagation: Propagation = Propagation.DENSE) -> Tensor:
        x2 = x.reshape(x.shape[0], -1)
        if propagation is Propagation.SPARSE:
            y = event_matmul(x2, self.weight)
        elif propagation is Propagation.AUTO:
            y = event_matmul(x2, self.weight, SPARSE_ACTIVE_FRACTION)
        else:
            y = x2 @ self.weight
        return y.reshape(x.shape[0], *self.target_shape)

    def fan_in_sums(self) -> Tensor:
        return self.weight.sum(0)

    def _scale_fan_in_(self, factor: Tensor) -> None:
        self.weight.mul_(factor.unsqueeze(0))

    def unfold_pre(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], 1, -1)

    def unfold_post(self, y: Tensor) -> Tensor:
        return y.reshape(y.shape[0], 1, -1)

    def fold(self, dw: Tensor) -> Tensor:
        return dw.sum(0)

    def dense_weight(self) -> Tensor:
        return self.weight.detach()


class LateralProjection(DenseProjection):
    """Recurrent weights within one population, without self-connections by default.

    Use :meth:`inhibition` for all-to-all competitive inhibition and :meth:`cooperation`
    for excitation between grid neighbours.
    """

    def __init__(
        self,
        shape: int | Sequence[int],
        weight: WeightInit | None = None,
        *,
        self_connections: bool = False,
        mask: Tensor | None = None,
        **kwargs: object,
    ) -> None:
        n = _numel(as_shape(shape))
        if not self_connections:
            no_self = ~torch.eye(n, dtype=torch.bool)
            mask = no_self if mask is None else (mask.to(torch.bool) & no_self)
        super().__init__(shape, shape, weight, mask=mask, **kwargs)

    @classmethod
    def inhibition(cls, shape: int | Sequence[int], strength: float) -> LateralProjection:
        """All-to-all inhibition: ``w[k, n] = -strength`` for ``k != n``."""
        return cls(shape, -abs(strength), sign=Sign.INHIBITORY)

    @classmethod
    def group_inhibition(cls, groups: int, size: int, strength: float) -> LateralProjection:
        """Inhibition between groups of ``size`` consecutive neurons (action populations).

        ``w[k, n] = -strength`` (mV per spike) where ``k // size != n // size``, and no
        synapse inside a group: a group's spikes suppress every other group, not itself.

        Raises:
            ValueError: ``groups`` or ``size`` below 1.
        """
        if groups < 1 or size < 1:
            raise ValueError(f"groups and size must be >= 1, got {groups} and {size}")
        group = torch.arange(groups * size) // size
        mask = group[:, None] != group[None, :]
        return cls(groups * size, -abs(strength), mask=mask, sign=Sign.INHIBITORY)

    @classmethod
    def cooperation(
        cls, shape: int | Sequence[int], strength: float, radius: float = 1.0
    ) -> LateralProjection:
        """Excitation ``strength`` between units within Euclidean ``radius`` on the grid."""
        dims = as_shape(shape)
        coords = torch.tensor(list(itertools.product(*(range(d) for d in dims))), dtype=torch.float)
        near = torch.cdist(coords, coords) <= radius
        return cls(shape, abs(strength), mask=near, sign=Sign.EXCITATORY)


class SparseProjection(Projection):
    """Weights on a fixed set of synapses (torch sparse layout), ``nnz`` values.

    ``I[b, n] = sum_{(k, n) in synapses} x[b, k] w_kn``.

    Args:
        source: Source population shape.
        target: Target population shape.
        connectivity: Boolean ``[n_source, n_target]`` of existing synapses, or a float
            probability of each synapse (drawn with ``generator``).
        weight: Initial values (tensor ``[nnz]``, initialiser or constant); default U(0, 0.3).
        **kwargs: Bounds, norm, sign, trainable, generator.
    """

    def __init__(
        self,
        source: int | Sequence[int],
        target: int | Sequence[int],
        connectivity: Tensor | float,
        weight: WeightInit | None = None,
        *,
        generator: torch.Generator | None = None,
        **kwargs: object,
    ) -> None:
        n_src, n_tgt = _numel(as_shape(source)), _numel(as_shape(target))
        if isinstance(connectivity, Tensor):
            if tuple(connectivity.shape) != (n_src, n_tgt):
                raise ValueError(
                    f"connectivity: expected shape [{n_src}, {n_tgt}], "
                    f"got {list(connectivity.shape)}"
                )
            conn = connectivity.to(torch.bool)
        else:
            if not 0.0 < float(connectivity) <= 1.0:
                raise ValueError(f"connectivity probability must be in (0, 1], got {connectivity}")
            conn = torch.rand(n_src, n_tgt, generator=generator) < float(connectivity)
        idx = conn.nonzero().T.contiguous()
        init: WeightInit = Uniform(0.0, 0.3) if weight is None else weight
        norm = kwargs.pop("norm", None)
        super().__init__(
            source,
            target,
            init,
            (idx.shape[1],),
            generator=generator,
            **kwargs,  # type: ignore[arg-type]
        )
        self.indices: Tensor
        self.register_buffer("indices", idx)
        self.n_source, self.n_target = n_src, n_tgt
        self.norm = norm  # type: ignore[assignment]
        self.apply_constraints_()

    def _load_from_state_dict(  # type: ignore[no-untyped-def]
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errors
    ) -> None:
        """Adopt the saved connectivity (its ``nnz`` may differ from this instance's)."""
        idx = state_dict.get(prefix + "indices")
        if isinstance(idx, Tensor) and idx.shape != self.indices.shape:
            self.indices = torch.empty_like(idx, device=self.indices.device)
            self.weight.data = torch.empty(
                idx.shape[1], dtype=self.weight.dtype, device=self.weight.device
            )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, errors
        )

    def to_sparse(self) -> Tensor:
        """The weights as a torch sparse COO tensor ``[n_source, n_target]``."""
        return torch.sparse_coo_tensor(
            self.indices, self.weight, (self.n_source, self.n_target), check_invariants=False
        ).coalesce()

    def propagate(self, x: Tensor, propagation: Propagation = Propagation.DENSE) -> Tensor:
        x2 = x.reshape(x.shape[0], -1)
        w_t = torch.sparse_coo_tensor(
            self.indices.flip(0),
            self.weight,
            (self.n_target, self.n_source),
            check_invariants=False,
        )
        y = torch.sparse.mm(w_t, x2.T).T
        return y.reshape(x.shape[0], *self.target_shape)

    def fan_in_sums(self) -> Tensor:
        sums = torch.zeros(self.n_target, dtype=self.weight.dtype, device=self.weight.device)
        return sums.index_add_(0, self.indices[1], self.weight)

    def _scale_fan_in_(self, factor: Tensor) -> None:
        self.weight.mul_(factor[self.indices[1]])

    def unfold_pre(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], 1, -1)

    def unfold_post(self, y: Tensor) -> Tensor:
        return y.reshape(y.shape[0], 1, -1)

    def fold(self, dw: Tensor) -> Tensor:
        d = dw.sum(0)
        return d[self.indices[0], self.indices[1]]

    def dense_weight(self) -> Tensor:
        return self.to_sparse().to_dense().detach()


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _conv_out(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


class Conv2dProjection(Projection):
    """2-D convolution: source ``(C_in, H, W)`` to target ``(C_out, H', W')``.

    ``I[b, c, i, j] = sum_{c', u, v} w[c, c', u, v] x[b, c', s*i + u - p, s*j + v - p]``.
    Weights ``[C_out, C_in, kh, kw]`` are shared over locations; ``norm`` fixes each output
    channel's kernel sum.
    """

    def __init__(
        self,
        source: Sequence[int],
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        weight: WeightInit | None = None,
        **kwargs: object,
    ) -> None:
        src = as_shape(source)
        if len(src) != 3:
            raise ValueError(f"Conv2dProjection: source shape must be (C, H, W), got {src}")
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        c_in, h, w = src
        kh, kw = self.kernel_size
        ho = _conv_out(h, kh, self.stride[0], self.padding[0])
        wo = _conv_out(w, kw, self.stride[1], self.padding[1])
        if ho <= 0 or wo <= 0:
            raise ValueError(f"Conv2dProjection: kernel {self.kernel_size} too large for {src}")
        init: WeightInit = Uniform(0.0, 0.3) if weight is None else weight
        super().__init__(
            src,
            (out_channels, ho, wo),
            init,
            (out_channels, c_in, kh, kw),
            **kwargs,  # type: ignore[arg-type]
        )

    def propagate(self, x: Tensor, propagation: Propagation = Propagation.DENSE) -> Tensor:
        return F.conv2d(x, self.weight, stride=self.stride, padding=self.padding)

    def fan_in_sums(self) -> Tensor:
        return self.weight.sum(dim=(1, 2, 3))

    def _scale_fan_in_(self, factor: Tensor) -> None:
        self.weight.mul_(factor.view(-1, 1, 1, 1))

    def unfold_pre(self, x: Tensor) -> Tensor:
        cols = F.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)
        return cols.transpose(1, 2)

    def unfold_post(self, y: Tensor) -> Tensor:
        return y.flatten(2).transpose(1, 2)

    def fold(self, dw: Tensor) -> Tensor:
        return dw.sum(0).T.reshape(self.weight.shape)


class LocalConnected2dProjection(Projection):
    """Locally connected 2-D layer: like a convolution, but no weight sharing.

    Weights ``[L, K, C_out]`` with ``L = H' W'`` locations and ``K = C_in kh kw`` inputs:
    ``I[b, n, l] = sum_k patch[b, l, k] w[l, k, n]``. ``norm`` fixes each (location,
    channel) unit's input sum.
    """

    def __init__(
        self,
        source: Sequence[int],
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        weight: WeightInit | None = None,
        **kwargs: object,
    ) -> None:
        src = as_shape(source)
        if len(src) != 3:
            raise ValueError(
                f"LocalConnected2dProjection: source shape must be (C, H, W), got {src}"
            )
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        c_in, h, w = src
        kh, kw = self.kernel_size
        ho = _conv_out(h, kh, self.stride[0], self.padding[0])
        wo = _conv_out(w, kw, self.stride[1], self.padding[1])
        if ho <= 0 or wo <= 0:
            raise ValueError(f"LocalConnected2dProjection: kernel too large for {src}")
        init: WeightInit = Uniform(0.0, 0.3) if weight is None else weight
        super().__init__(
            src,
            (out_channels, ho, wo),
            init,
            (ho * wo, c_in * kh * kw, out_channels),
            **kwargs,  # type: ignore[arg-type]
        )

    def propagate(self, x: Tensor, propagation: Propagation = Propagation.DENSE) -> Tensor:
        patches = self.unfold_pre(x)
        y = torch.einsum("blk,lkn->bnl", patches, self.weight)
        return y.reshape(x.shape[0], *self.target_shape)

    def fan_in_sums(self) -> Tensor:
        return self.weight.sum(1)

    def _scale_fan_in_(self, factor: Tensor) -> None:
        self.weight.mul_(factor.unsqueeze(1))

    def unfold_pre(self, x: Tensor) -> Tensor:
        cols = F.unfold(x, self.kernel_size, padding=self.padding, stride=self.stride)
        return cols.transpose(1, 2)

    def unfold_post(self, y: Tensor) -> Tensor:
        return y.flatten(2).transpose(1, 2)

    def fold(self, dw: Tensor) -> Tensor:
        return dw
