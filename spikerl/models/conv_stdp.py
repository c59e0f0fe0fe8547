"""Convolutional features learned by STDP under winner-take-all, with an R-STDP readout.

After Kheradpisheh et al. (2018, "STDP-based spiking deep convolutional neural networks for
object recognition", Neural Networks 99:56) and Mozafari et al. (2019, "Bio-inspired digit
recognition using reward-modulated spike-timing-dependent plasticity in deep convolutional
networks", Pattern Recognition 94:87), on the core's pieces:

1. On/off difference-of-Gaussians (DoG) front end: ``on = relu(I * DoG)``,
   ``off = relu(-(I * DoG))`` with ``DoG = G(sigma_c) - G(sigma_s)`` (both normalised to
   sum 1), each image scaled to its maximum.
2. Intensity-to-latency input (:class:`~spikerl.encoders.latency.TimeToFirstSpikeEncoder`):
   one spike per input at ``t = round((1 - u) (T - 1))``.
3. Per layer a :class:`~spikerl.core.projections.Conv2dProjection` onto non-leaky
   integrate-and-fire neurons that fire once: ``V[t] = sum_{s <= t} W * x[s]`` (one batched
   convolution of the cumulative input over all ``T`` steps), first spike at the first ``t``
   with ``V[t] >= theta``.
4. Lateral inhibition across feature maps (k-WTA per location, ``k = 1``): at each location
   only the earliest map fires (ties: the larger potential). For learning, ``k`` winners per
   image, each in a different map, each inhibiting the other maps within ``radius``.
5. Pooling in time: a pooled unit fires at the earliest spike of its window (max pooling).
6. STDP layer by layer through :class:`~spikerl.learning.plasticity.Plasticity` with the
   core's :class:`~spikerl.learning.rules.WeightDependentPostPre` (nearest-spike traces of
   very long time constant): ``dw = a+ (1 - w)`` if the input fired at or before the winner,
   ``dw = -a- w`` if it fired after it (inputs that stay silent fire at the last step).
7. A readout of ``10 x P`` integrate-and-fire neurons (10 label populations) trained by
   reward-modulated STDP (:class:`~spikerl.learning.rules.MSTDP`); the decision is the
   population with most spikes (ties by a seeded draw), only the winning population learns
   (lateral inhibition between populations), with reward ``+miss rate`` when right and
   ``-hit rate`` when wrong (Mozafari's adaptive rates). A logistic-regression readout of
   the same features is given for reference (:func:`linear_readout`).

:class:`ConvSTDPFeatures` is usable as an encoder of any grey images ``[B, H, W]`` in
``[0, 1]`` (e.g. Atari frames): ``features(images)`` returns ``[B, F]`` values in ``[0, 1]``
(``1 - t / T`` of each pooled unit's spike, 0 if silent).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from spikerl.core.init import Normal
from spikerl.core.projections import Conv2dProjection, DenseProjection
from spikerl.encoders.latency import TimeToFirstSpikeEncoder
from spikerl.learning.activity import Reduction
from spikerl.learning.pieces import SoftBounds
from spikerl.learning.plasticity import Plasticity
from spikerl.learning.rules import MSTDP, WeightDependentPostPre
from spikerl.learning.traces import TraceMode

__all__ = [
    "ConvSTDPConfig",
    "ConvSTDPFeatures",
    "Decision",
    "Learner",
    "RSTDPReadout",
    "ReadoutConfig",
    "conv_if_times",
    "dog_kernel",
    "inhibit_across_maps",
    "k_winners",
    "linear_readout",
    "on_off_dog",
    "pool_times",
    "stdp_rasters",
]

#: Time constant (ms) of the nearest-spike STDP traces: long against the window, so a trace
#: is ~1 from its spike on (the order of pre and post decides, not their distance).
LONG_TAU = 1.0e6


@dataclass(frozen=True)
class ConvSTDPConfig:
    """Settings of :class:`ConvSTDPFeatures`.

    Attributes:
        time_steps: Window ``T`` (steps of 1 ms) of the latency code.
        dog_size: DoG kernel side (pixels, odd).
        dog_sigmas: ``(sigma_centre, sigma_surround)`` of the DoG (pixels).
        maps: Feature maps per convolutional layer.
        kernels: Kernel side per layer.
        thresholds: Firing threshold per layer (weight units; weights lie in ``[0, 1]``).
        pools: ``(kernel, stride)`` of the time pooling after each layer.
        taps: Per layer, ``(kernel, stride)`` of a further pooling of its output into the
            readout's features, or ``None`` (not read out).
        winners: STDP winners per image per layer (``k``).
        radius: Inhibition radius of a winner per layer (locations).
        a_plus: Initial potentiation rate per layer.
        a_minus_ratio: ``a- / a+``.
        a_plus_max: Largest potentiation rate (the rate doubles every ``rate_every`` images).
        rate_every: Training images between doublings of the rates.
        init_mean: Mean of the initial weights (normal, clipped to ``[0, 1]``).
        init_std: Standard deviation of the initial weights.
    """

    time_steps: int = 8
    dog_size: int = 7
    dog_sigmas: tuple[float, float] = (1.0, 2.0)
    maps: tuple[int, ...] = (30, 64)
    kernels: tuple[int, ...] = (5, 3)
    thresholds: tuple[float, ...] = (15.0, 10.0)
    pools: tuple[tuple[int, int], ...] = ((2, 2), (2, 2))
    taps: tuple[tuple[int, int] | None, ...] = ((3, 3), (1, 1))
    winners: tuple[int, ...] = (5, 8)
    radius: tuple[int, ...] = (2, 1)
    a_plus: float = 0.004
    a_minus_ratio: float = 0.75
    a_plus_max: float = 0.15
    rate_every: int = 500
    init_mean: float = 0.8
    init_std: float = 0.05

    def __post_init__(self) -> None:
        n = len(self.maps)
        for name in ("kernels", "thresholds", "pools", "taps", "winners", "radius"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"ConvSTDPConfig.{name}: expected {n} entries (one per layer)")
        if self.time_steps < 2:
            raise ValueError(f"time_steps must be >= 2, got {self.time_steps}")
        if self.dog_size % 2 != 1:
            raise ValueError(f"dog_size must be odd, got {self.dog_size}")
        for name in ("maps", "kernels", "winners"):
            if min(getattr(self, name)) < 1:
                raise ValueError(f"{name}: every entry must be >= 1, got {getattr(self, name)}")
        if min(self.radius) < 0:
            raise ValueError(f"radius: every entry must be >= 0, got {self.radius}")
        if not all(th > 0 and math.isfinite(th) for th in self.thresholds):
            raise ValueError(
                f"thresholds: every entry must be finite and > 0, got {self.thresholds}"
            )
        pairs = [*self.pools, *(t for t in self.taps if t is not None)]
        if any(len(p) != 2 or min(p) < 1 for p in pairs):
            raise ValueError(f"pools and taps: (kernel, stride) pairs >= 1, got {pairs}")
        if not 0 < self.a_plus <= self.a_plus_max or self.a_minus_ratio < 0:
            raise ValueError("need 0 < a_plus <= a_plus_max and a_minus_ratio >= 0")
        if self.rate_every < 1:
            raise ValueError(f"rate_every must be >= 1, got {self.rate_every}")


def dog_kernel(size: int, sigma_centre: float, sigma_surround: float) -> Tensor:
    """Difference-of-Gaussians kernel ``[size, size]``: ``G_c / sum G_c - G_s / sum G_s``.

    ``G(r) = exp(-r^2 / (2 sigma^2))`` (pixels); the kernel sums to zero.
    """
    if not 0.0 < sigma_centre < sigma_surround:
        raise ValueError(
            f"need 0 < sigma_centre < sigma_surround, got {sigma_centre}, {sigma_surround}"
        )
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    d2 = r.view(-1, 1) ** 2 + r.view(1, -1) ** 2
    gc = torch.exp(-d2 / (2 * sigma_centre**2))
    gs = torch.exp(-d2 / (2 * sigma_surround**2))
    return gc / gc.sum() - gs / gs.sum()


def on_off_dog(images: Tensor, kernel: Tensor) -> Tensor:
    """On/off DoG channels ``[B, 2, H, W]`` in ``[0, 1]`` of grey images ``[B, H, W]``.

    ``c = I * DoG`` (same padding); ``on = relu(c)``, ``off = relu(-c)``; both divided by
    the image's largest response (images with none stay zero).
    """
    if images.dim() != 3:
        raise ValueError(f"on_off_dog: expected images [B, H, W], got {list(images.shape)}")
    k = kernel.to(images.dtype).view(1, 1, *kernel.shape)
    c = F.conv2d(images.unsqueeze(1), k, padding=kernel.shape[-1] // 2)
    x = torch.cat([c.clamp(min=0.0), (-c).clamp(min=0.0)], dim=1)
    peak = x.flatten(1).amax(1).clamp(min=1e-12).view(-1, 1, 1, 1)
    return x / peak


def conv_if_times(
    times: Tensor, projection: Conv2dProjection, threshold: float, time_steps: int
) -> tuple[Tensor, Tensor]:
    """First-spike times of non-leaky integrate-and-fire neurons behind a convolution.

    ``V[t] = conv(1[t_in <= t], W)`` (every input spike adds its weight once and stays),
    ``t_out = min{t : V[t] >= theta}``.

    Args:
        times: Input spike times ``[B, C, H, W]`` (long; ``>= T``: silent).
        projection: The convolution.
        threshold: ``theta`` (weight units).
        time_steps: ``T``.

    Returns:
        ``(t_out [B, C', H', W']`` long with ``T`` for silent units, ``V`` at the firing step
        (at the last step for silent units)``)``.
    """
    B = times.shape[0]
    steps = torch.arange(time_steps, device=times.device).view(-1, 1, 1, 1, 1)
    cum = (times.unsqueeze(0) <= steps).to(projection.weight.dtype)
    v = projection.propagate(cum.reshape(time_steps * B, *times.shape[1:]))
    v = v.reshape(time_steps, B, *v.shape[1:])
    silent_until = (v < threshold).to(torch.int64).cumprod(0)
    t_out = silent_until.sum(0)
    v_at = v.gather(0, t_out.clamp(max=time_steps - 1).unsqueeze(0)).squeeze(0)
    return t_out, v_at


def _score(t: Tensor, v: Tensor, time_steps: int) -> Tensor:
    """Order of firing: earlier first, then larger potential; ``-inf`` for silent units."""
    vmax = v.abs().amax().clamp(min=1.0)
    s = -t.to(v.dtype) + 0.5 * v / vmax
    return torch.where(t < time_steps, s, torch.full_like(s, -math.inf))


def inhibit_across_maps(t: Tensor, v: Tensor, time_steps: int) -> Tensor:
    """k-WTA per location with ``k = 1``: only the first map to fire at a location fires.

    Ties in time go to the larger potential (then to the lower map index).

    Args:
        t: Spike times ``[B, C, H, W]`` (``T``: silent).
        v: Potentials at the firing step, same shape.
        time_steps: ``T``.

    Returns:
        Spike times after inhibition (losers set to ``T``).
    """
    s = _score(t, v, time_steps)
    win = s.argmax(1, keepdim=True)
    keep = torch.zeros_like(t, dtype=torch.bool).scatter_(1, win, True) & (t < time_steps)
    return torch.where(keep, t, torch.full_like(t, time_steps))


def k_winners(t: Tensor, v: Tensor, k: int, radius: int, time_steps: int) -> Tensor:
    """The STDP winners of each image: up to ``k`` neurons, each in a different map.

    Repeatedly the first neuron to fire (ties: larger potential) wins; its map is then
    inhibited everywhere, and every other map within ``radius`` locations of it.

    Args:
        t: Spike times ``[B, C, H, W]``.
        v: Potentials at the firing step.
        k: Winners per image.
        radius: Inhibition radius (Chebyshev distance, locations).
        time_steps: ``T``.

    Returns:
        Boolean winner mask ``[B, C, H, W]``.
    """
    B, C, H, W = t.shape
    s = _score(t, v, time_steps).clone()
    win = torch.zeros(B, C * H * W, dtype=torch.bool, device=t.device)
    ii = torch.arange(H, device=t.device).view(1, 1, H, 1)
    jj = torch.arange(W, device=t.device).view(1, 1, 1, W)
    chans = torch.arange(C, device=t.device).view(1, C, 1, 1)
    for _ in range(k):
        flat = s.view(B, -1)
        best, idx = flat.max(1)
        ok = torch.isfinite(best)
        if not bool(ok.any()):
            break
        win[ok, idx[ok]] = True
        c = (idx // (H * W)).view(B, 1, 1, 1)
        i = ((idx // W) % H).view(B, 1, 1, 1)
        j = (idx % W).view(B, 1, 1, 1)
        near = ((ii - i).abs() <= radius) & ((jj - j).abs() <= radius)
        block = (chans == c) | near
        s = torch.where(block & ok.view(B, 1, 1, 1), torch.full_like(s, -math.inf), s)
    return win.view(B, C, H, W)


def pool_times(t: Tensor, kernel: int, stride: int) -> Tensor:
    """Time pooling: a pooled unit fires at the earliest spike of its window."""
    return (-F.max_pool2d(-t.to(torch.float32), kernel, stride)).to(torch.int64)


def stdp_rasters(
    t_in: Tensor, winners: Tensor, t_out: Tensor, time_steps: int
) -> tuple[Tensor, Tensor]:
    """Spike rasters of one layer's STDP window, ``T + 1`` steps.

    Inputs fire at their latency; inputs silent in the window fire at the extra last step
    ``T`` (after every winner, so they are depressed). Only winners fire in the output.

    Returns:
        ``(pre [T+1, B, C, H, W], post [T+1, B, C', H', W'])`` float.
    """
    steps = torch.arange(time_steps + 1, device=t_in.device).view(-1, 1, 1, 1, 1)
    pre = (steps == t_in.clamp(max=time_steps).unsqueeze(0)).to(torch.float32)
    post = ((steps == t_out.unsqueeze(0)) & winners.unsqueeze(0)).to(torch.float32)
    return pre, post


class ConvSTDPFeatures(nn.Module):
    """DoG front end, latency code and convolutional IF layers learned by STDP.

    Args:
        config: Settings.
        input_shape: ``(H, W)`` of the grey images.
        generator: Random source of the initial weights.
    """

    def __init__(
        self,
        config: ConvSTDPConfig | None = None,
        input_shape: tuple[int, int] = (28, 28),
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.config = cfg = config if config is not None else ConvSTDPConfig()
        self.input_shape = input_shape
        self.dog: Tensor
        self.register_buffer("dog", dog_kernel(cfg.dog_size, *cfg.dog_sigmas))
        self.encoder = TimeToFirstSpikeEncoder((2, *input_shape), cfg.time_steps)
        layers = []
        shape: tuple[int, int, int] = (2, *input_shape)
        self.shapes: list[tuple[int, int, int]] = [shape]
        init = Normal(cfg.init_mean, cfg.init_std)
        for maps, k, (pk, ps) in zip(cfg.maps, cfg.kernels, cfg.pools, strict=True):
            proj = Conv2dProjection(
                shape, maps, k, weight=init, wmin=0.0, wmax=1.0, generator=generator
            )
            layers.append(proj)
            _, h, w = proj.target_shape
            shape = (maps, (h - pk) // ps + 1, (w - pk) // ps + 1)
            self.shapes.append(shape)
        self.layers = nn.ModuleList(layers)

    def conv(self, layer: int) -> Conv2dProjection:
        """The convolution of layer ``layer``."""
        proj = self.layers[layer]
        assert isinstance(proj, Conv2dProjection)
        return proj

    @property
    def n_features(self) -> int:
        """Length ``F`` of the feature vector (sum over the tapped layers)."""
        n = 0
        for shape, tap in zip(self.shapes[1:], self.config.taps, strict=True):
            if tap is not None:
                c, h, w = shape
                n += c * ((h - tap[0]) // tap[1] + 1) * ((w - tap[0]) // tap[1] + 1)
        return n

    def input_times(self, images: Tensor) -> Tensor:
        """Latency of the on/off DoG channels: ``[B, H, W]`` -> ``[B, 2, H, W]`` (``T``: silent)."""
        x = on_off_dog(images.to(torch.float32), self.dog)
        times, fires = self.encoder.spike_times(x)
        return torch.where(fires, times, torch.full_like(times, self.config.time_steps))

    def layer_times(self, layer: int, times: Tensor) -> tuple[Tensor, Tensor]:
        """Layer ``layer``'s spike times before inhibition and pooling, and potentials."""
        cfg = self.config
        return conv_if_times(times, self.conv(layer), cfg.thresholds[layer], cfg.time_steps)

    def layer_outputs(self, images: Tensor, upto: int | None = None) -> list[Tensor]:
        """Spike times after each layer up to ``upto`` (inhibited and pooled)."""
        return self.outputs_from_times(self.input_times(images), upto)

    def outputs_from_times(self, t: Tensor, upto: int | None = None) -> list[Tensor]:
        """:meth:`layer_outputs` from the input spike times ``[B, 2, H, W]`` (``T``: silent).

        Each layer fires (:func:`conv_if_times`), lets one map fire per location
        (:func:`inhibit_across_maps`) and pools (:func:`pool_times`).
        """
        cfg = self.config
        last = len(self.layers) if upto is None else upto + 1
        outs = []
        for i in range(last):
            t_out, v = self.layer_times(i, t)
            t_out = inhibit_across_maps(t_out, v, cfg.time_steps)
            t = pool_times(t_out, *cfg.pools[i])
            outs.append(t)
        return outs

    def forward_times(self, images: Tensor, upto: int | None = None) -> Tensor:
        """Spike times after layer ``upto`` (inhibited and pooled); ``None``: the last layer."""
        return self.layer_outputs(images, upto)[-1]

    def _tap(self, layer: int, t: Tensor) -> Tensor:
        tap = self.config.taps[layer]
        assert tap is not None
        return pool_times(t, *tap).flatten(1)

    @torch.no_grad()
    def feature_times(self, images: Tensor, batch_size: int = 500) -> Tensor:
        """The readout's feature spike times ``[B, F]`` (long; ``T``: silent).

        Each layer with a tap (``config.taps``) contributes its output pooled once more
        (earliest spike per window), flattened; the taps are concatenated.
        """
        out = []
        for i in range(0, images.shape[0], batch_size):
            outs = self.layer_outputs(images[i : i + batch_size])
            taps = [self._tap(k, t) for k, t in enumerate(outs) if self.config.taps[k] is not None]
            out.append(torch.cat(taps, 1))
        return torch.cat(out) if out else torch.empty(0, self.n_features, dtype=torch.int64)

    @torch.no_grad()
    def features(self, images: Tensor, batch_size: int = 500) -> Tensor:
        """The encoder's output ``[B, F]``: ``1 - t / T`` per pooled unit, 0 where silent.

        Args:
            images: Grey images ``[B, H, W]`` with values in ``[0, 1]`` (or ``uint8``,
                divided by 255).
            batch_size: Images per batched convolution.
        """
        x = images.to(torch.float32) / 255.0 if images.dtype == torch.uint8 else images
        if tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(
                f"ConvSTDPFeatures: expected images [B, {self.input_shape[0]}, "
                f"{self.input_shape[1]}], got {list(images.shape)}"
            )
        t = self.feature_times(x, batch_size).to(torch.float32)
        return (1.0 - t / self.config.time_steps).clamp(min=0.0)

    def plasticity(self, layer: int) -> Plasticity:
        """The STDP binding of layer ``layer`` (core rule through :class:`Plasticity`)."""
        cfg = self.config
        rule = WeightDependentPostPre(
            a_plus=cfg.a_plus,
            a_minus=cfg.a_plus * cfg.a_minus_ratio,
            tau_plus=LONG_TAU,
            tau_minus=LONG_TAU,
            mode=TraceMode.SET,
        )
        return Plasticity(
            self.conv(layer),
            rule,
            source=f"layer{layer}_in",
            target=f"layer{layer}",
            reduction=Reduction.SUM,
        )

    @torch.no_grad()
    def stdp_step(self, layer: int, images: Tensor, plasticity: Plasticity) -> Tensor:
        """One STDP update of layer ``layer`` from a batch of images; returns ``dw``."""
        t_in = self.forward_times(images, upto=layer - 1) if layer > 0 else self.input_times(images)
        return self.learn_from_times(layer, t_in, plasticity)

    @torch.no_grad()
    def learn_from_times(self, layer: int, t_in: Tensor, plasticity: Plasticity) -> Tensor:
        """STDP of layer ``layer`` from its input spike times ``[B, C, H, W]``; returns ``dw``.

        The layer fires (:func:`conv_if_times`), :func:`k_winners` picks the winners, and
        ``plasticity`` learns from :func:`stdp_rasters` (traces reset: images are
        independent).
        """
        cfg = self.config
        t_out, v = self.layer_times(layer, t_in)
        win = k_winners(t_out, v, cfg.winners[layer], cfg.radius[layer], cfg.time_steps)
        pre, post = stdp_rasters(t_in, win, t_out, cfg.time_steps)
        plasticity.reset()
        return plasticity.update(pre, post)

    @torch.no_grad()
    def train_layer(
        self,
        layer: int,
        images: Tensor,
        batch_size: int = 16,
        epochs: int = 1,
        generator: torch.Generator | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """STDP on layer ``layer`` (earlier layers fixed) over ``images`` ``[N, H, W]``.

        The rates start at ``a_plus`` and double every ``rate_every`` images up to
        ``a_plus_max`` (Kheradpisheh et al. 2018).
        """
        cfg = self.config
        x = images.to(torch.float32) / 255.0 if images.dtype == torch.uint8 else images
        plast = self.plasticity(layer)
        seen = 0
        for _ in range(epochs):
            order = torch.randperm(x.shape[0], generator=generator)
            for i in range(0, x.shape[0], batch_size):
                a_plus = min(cfg.a_plus_max, cfg.a_plus * 2.0 ** (seen // cfg.rate_every))
                plast.rule = dataclasses.replace(
                    plast.rule,  # type: ignore[type-var]
                    a_plus=a_plus,
                    a_minus=a_plus * cfg.a_minus_ratio,
                )
                self.stdp_step(layer, x[order[i : i + batch_size]], plast)
                seen += min(batch_size, x.shape[0] - i)
                if progress is not None:
                    progress(seen)

    @torch.no_grad()
    def reconstructions(self) -> list[Tensor]:
        """Each layer's features drawn back into pixel space: ``[maps, h, w]`` per layer.

        Layer 1: ``(w_on - w_off)`` transposed-convolved with the DoG kernel (the image
        patch whose DoG response matches the kernel). Layer ``l > 1``: its kernel minus its
        mean is spread over the pooling window of the layer below (weight ``1 / k^2`` each)
        and every map of the layer below is replaced by its own drawing, placed at that
        layer's spacing in pixels (the product of the pooling strides so far). Weighted
        sums: a sketch of what each feature responds to, not an exact preimage (inhibition
        and thresholds are left out).
        """
        cfg = self.config
        w0 = self.conv(0).weight.detach()
        dog = self.dog.view(1, 1, *self.dog.shape)
        pix = F.conv_transpose2d(w0[:, :1] - w0[:, 1:2], dog)  # [C, 1, h, w]
        out = [pix[:, 0]]
        spacing = 1
        for layer in range(1, len(self.layers)):
            w = self.conv(layer).weight.detach()  # [C', C, k, k]
            w = w - w.mean((1, 2, 3), keepdim=True)  # what it prefers over its mean input
            pk, ps = cfg.pools[layer - 1]
            c = w.shape[1]
            spread = torch.full((c, 1, pk, pk), 1.0 / pk**2, dtype=w.dtype)
            up = F.conv_transpose2d(w, spread, stride=ps, groups=c)  # in layer-below units
            pix = F.conv_transpose2d(up, pix, stride=spacing)  # [C', 1, H, W]
            spacing *= ps
            out.append(pix[:, 0])
        return out

    def convergence(self, layer: int) -> float:
        """Kheradpisheh's convergence ``C = mean w (1 - w)`` (0 when weights are binary)."""
        w = self.conv(layer).weight.detach()
        return float((w * (1 - w)).mean())


class Decision(enum.Enum):
    """How the readout's spikes decide the label.

    ``SUM``: the population with most spikes in all (a population vote). ``MAX``: the
    population of the single neuron with most spikes.
    """

    SUM = "sum"
    MAX = "max"


class Learner(enum.Enum):
    """Which readout neurons keep their spikes for learning (lateral inhibition).

    ``POPULATION``: every neuron of the winning population. ``NEURON``: only its neuron
    with most spikes (ties by a seeded draw).
    """

    POPULATION = "population"
    NEURON = "neuron"


@dataclass(frozen=True)
class ReadoutConfig:
    """Settings of :class:`RSTDPReadout`.

    The defaults were chosen on a validation split of the training set (features of the
    first 50,000 training images for learning, the last 10,000 for validation; see
    ``docs/mnist.md``): decisions by the most active neuron, soft bounds, dropout 0.3,
    ``gamma`` 1e-3 decaying by 0.85 per epoch and initial weights 0.5 +- 0.05 gave 96.8%
    there after 10 epochs; the earlier defaults (population vote, additive changes, no
    dropout, ``gamma`` 2e-3 fixed) 95.8% after 8.

    Attributes:
        per_class: Neurons per label population ``P``.
        threshold: IF threshold (weight units; reset by subtraction).
        gamma: MSTDP learning rate.
        norm: Each readout neuron's total input weight (``None``: free).
        init_mean: Mean initial weight.
        init_std: Standard deviation of the initial weights.
        a_minus: MSTDP's ``A-`` (<= 0; ``A+ = 1``): pairs in which a feature fires after
            a readout spike.
        gamma_decay: ``gamma`` is multiplied by this after every epoch.
        decision: How spikes decide (:class:`Decision`).
        learner: Which neurons learn (:class:`Learner`).
        batch_size: Images per update (changes summed, weights fixed within a batch).
        input_norm: Divisive input normalisation (feedforward inhibition): each image's
            feature spikes count ``input_norm / n`` each, ``n`` its number of feature
            spikes, so every image brings the same total drive (``None``: each counts 1).
        soft_bounds: Soft weight bounds (:class:`~spikerl.learning.pieces.SoftBounds`):
            potentiation scales with ``1 - w``, depression with ``w`` (as in Mozafari et
            al. 2019); otherwise changes are additive and clipped to ``[0, 1]``.
        current_synapses: Each feature spike opens a synaptic current that lasts to the
            end of the window (synaptic time constant much longer than ``T``), so a
            feature that fires at ``t_j`` drives the neuron for ``T - t_j`` steps: spike
            counts then read the latency code (earlier spikes weigh more). Otherwise a
            spike adds its weight to the potential once.
        rate_window: Images over which the hit rate of the reward is averaged: ``0``, the
            previous epoch (Mozafari et al. 2019); ``N > 0``, a running mean with
            weight ``batch / N`` per batch (it follows the hit rate within an epoch).
        dropout: During training each feature spike is left out with this probability
            (drawn from the readout's generator; Mozafari et al. 2018); decisions on
            test images see every spike.
        margin_baseline: A state-dependent reward baseline (a critic of the decision):
            the reward is ``R - p(m)``, ``R`` 1 if right and 0 if wrong, ``p(m)`` the
            running hit rate of past decisions whose spike-count margin fell in the same
            bin as this one's, ``m = (c1 - c2) / sqrt(c1 + 1)`` with ``c1, c2`` the two
            largest population counts (bins :data:`MARGIN_EDGES`; the running sums decay
            by ``1 - batch / rate_window`` per batch, ``rate_window`` 10,000 when 0). Sure
            right decisions then change little and sure wrong ones much. Otherwise the
            baseline is the hit rate (``rate_window``).
    """

    per_class: int = 10
    threshold: float = 1.0
    gamma: float = 1e-3
    norm: float | None = None
    init_mean: float = 0.5
    init_std: float = 0.05
    a_minus: float = 0.0
    gamma_decay: float = 0.85
    decision: Decision = Decision.MAX
    learner: Learner = Learner.NEURON
    batch_size: int = 100
    input_norm: float | None = None
    soft_bounds: bool = True
    current_synapses: bool = False
    rate_window: int = 0
    dropout: float = 0.3
    margin_baseline: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.rate_window < 0:
            raise ValueError(f"rate_window must be >= 0, got {self.rate_window}")
        for name in ("per_class", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("threshold", "gamma_decay", "input_norm", "norm"):
            v = getattr(self, name)
            if v is not None and not (v > 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a finite number > 0, got {v}")
        if self.a_minus > 0:
            raise ValueError(f"a_minus must be <= 0, got {self.a_minus}")


#: Bin edges of the spike-count margin ``(c1 - c2) / sqrt(c1 + 1)`` of
#: ``ReadoutConfig.margin_baseline``.
MARGIN_EDGES = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)


class RSTDPReadout:
    """10 label populations of IF neurons on feature spikes, trained by MSTDP.

    Feature unit ``j`` spikes once at ``t_j`` (``T``: silent). Readout neuron ``n`` (reset
    by subtraction, no leak) has ``V_n[t] = c sum_{j: t_j <= t} w_jn`` (``c = 1``, or
    ``input_norm / n_spikes`` with divisive normalisation) and ``floor(V_n[t] / theta)``
    spikes up to step ``t``. The decision is the population with most spikes
    (:class:`Decision`; ties by a draw from ``generator``). Lateral inhibition between
    populations leaves only the winner's spikes for learning (:class:`Learner`); MSTDP
    (Florian 2007) then changes ``dw = gamma r sum_t (A+ x_pre[t] s_post[t] + A- x_post^-[t]
    s_pre[t])`` with ``r = +miss rate`` if the decision was right and ``r = -hit rate`` if
    wrong (Mozafari et al. 2019; running rates over the previous epoch, 0.5 at the start).

    Args:
        n_features: ``F``.
        time_steps: ``T``.
        config: Settings.
        n_classes: Number of label populations.
        generator: Random source of initial weights and tie draws.
    """

    def __init__(
        self,
        n_features: int,
        time_steps: int,
        config: ReadoutConfig | None = None,
        n_classes: int = 10,
        generator: torch.Generator | None = None,
    ) -> None:
        self.config = cfg = config if config is not None else ReadoutConfig()
        self.time_steps = time_steps
        self.n_classes = n_classes
        self.generator = generator
        n = n_classes * cfg.per_class
        self.projection = DenseProjection(
            n_features,
            n,
            weight=Normal(cfg.init_mean, cfg.init_std),
            wmin=0.0,
            wmax=1.0,
            norm=cfg.norm,
            generator=generator,
        )
        self.plasticity = Plasticity(
            self.projection,
            MSTDP(gamma=cfg.gamma, a_minus=cfg.a_minus),
            source="features",
            target="readout",
            reduction=Reduction.SUM,
            pieces=[SoftBounds()] if cfg.soft_bounds else (),
        )
        self.hit_rate = 0.5
        self.epochs_done = 0
        # Running reward sums and counts per margin bin (prior: one decision at 0.5).
        self.margin_hits = torch.full((len(MARGIN_EDGES) + 1,), 0.5, dtype=torch.float64)
        self.margin_count = torch.ones(len(MARGIN_EDGES) + 1, dtype=torch.float64)

    def margin_bins(self, post: Tensor) -> Tensor:
        """Margin bin ``[B]`` of each decision (see ``ReadoutConfig.margin_baseline``)."""
        top = self._population_counts(post).topk(2, dim=1).values
        m = (top[:, 0] - top[:, 1]) / torch.sqrt(top[:, 0] + 1.0)
        edges = torch.tensor(MARGIN_EDGES, dtype=m.dtype, device=m.device)
        return torch.bucketize(m, edges).cpu()

    def _raster(self, times: Tensor) -> Tensor:
        steps = torch.arange(self.time_steps, device=times.device).view(-1, 1, 1)
        return (steps == times.unsqueeze(0)).to(self.projection.weight.dtype)

    @torch.no_grad()
    def spikes(self, times: Tensor) -> tuple[Tensor, Tensor]:
        """Input raster ``[T, B, F]`` and readout spikes per step ``[T, B, N]``."""
        pre = self._raster(times)
        drive = pre.cumsum(0)
        if self.config.current_synapses:
            drive = drive.cumsum(0)
        v = drive @ self.projection.weight
        if self.config.input_norm is not None:
            n = pre.sum((0, 2)).clamp(min=1.0).view(1, -1, 1)
            v = v * (self.config.input_norm / n)
        count = torch.floor(v.clamp(min=0.0) / self.config.threshold)
        post = torch.diff(count, dim=0, prepend=torch.zeros_like(count[:1]))
        return pre, post

    def _draw_argmax(self, counts: Tensor) -> Tensor:
        """Index of the largest entry per row; ties by a draw from the generator."""
        noise = torch.rand(counts.shape, generator=self.generator).to(counts.device)
        best = counts.amax(1, keepdim=True)
        return torch.where(counts == best, noise, torch.full_like(noise, -1.0)).argmax(1)

    def _population_counts(self, post: Tensor) -> Tensor:
        counts = post.sum(0).view(post.shape[1], self.n_classes, -1)
        return counts.sum(2) if self.config.decision is Decision.SUM else counts.amax(2)

    def _decide(self, post: Tensor) -> Tensor:
        return self._draw_argmax(self._population_counts(post))

    @torch.no_grad()
    def predict(self, times: Tensor, batch_size: int = 1000) -> Tensor:
        """Decisions ``[B]`` for feature spike times ``[B, F]``."""
        out = [
            self._decide(self.spikes(times[i : i + batch_size])[1])
            for i in range(0, times.shape[0], batch_size)
        ]
        return torch.cat(out) if out else torch.empty(0, dtype=torch.int64)

    @torch.no_grad()
    def train_epoch(self, times: Tensor, labels: Tensor) -> float:
        """One epoch of R-STDP over ``times [N, F]``; returns the training hit rate."""
        cfg = self.config
        batch_size = cfg.batch_size
        rule = self.plasticity.rule
        assert isinstance(rule, MSTDP)
        gamma = cfg.gamma * cfg.gamma_decay**self.epochs_done
        self.plasticity.rule = dataclasses.replace(rule, gamma=gamma)
        self.epochs_done += 1
        order = torch.randperm(times.shape[0], generator=self.generator)
        hits = 0
        hit_rate = self.hit_rate
        P = self.config.per_class
        for i in range(0, times.shape[0], batch_size):
            idx = order[i : i + batch_size]
            batch = times[idx]
            if cfg.dropout > 0:
                drop = torch.rand(batch.shape, generator=self.generator) < cfg.dropout
                batch = batch.masked_fill(drop.to(batch.device), self.time_steps)
            pre, post = self.spikes(batch)
            pred = self._decide(post)
            right = pred == labels[idx]
            hits += int(right.sum())
            mask = (torch.arange(self.n_classes * P).view(1, -1) // P) == pred.view(-1, 1)
            if self.config.learner is Learner.NEURON:
                counts = post.sum(0).masked_fill(~mask, -1.0)
                mask = torch.zeros_like(mask).scatter_(1, self._draw_argmax(counts)[:, None], True)
            post = post * mask.unsqueeze(0).to(post.dtype)
            reward = torch.where(right, 1.0 - hit_rate, -hit_rate).to(post.dtype)
            if cfg.margin_baseline:
                bins = self.margin_bins(post)
                p = (self.margin_hits / self.margin_count)[bins]
                reward = (right.cpu().double() - p).to(post.dtype).to(post.device)
                keep = 1.0 - min(1.0, idx.shape[0] / (cfg.rate_window or 10000))
                self.margin_hits *= keep
                self.margin_count *= keep
                self.margin_hits.index_add_(0, bins, right.cpu().double())
                self.margin_count.index_add_(0, bins, torch.ones_like(bins, dtype=torch.float64))
            if cfg.rate_window > 0:
                k = min(1.0, idx.shape[0] / cfg.rate_window)
                hit_rate += k * (float(right.double().mean()) - hit_rate)
            self.plasticity.reset()
            self.plasticity.set_modulation(reward)
            self.plasticity.update(pre, post)
        self.hit_rate = hit_rate if cfg.rate_window > 0 else hits / max(1, times.shape[0])
        return hits / max(1, times.shape[0])


def linear_readout(
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    n_classes: int = 10,
    weight_decay: float = 1e-4,
    iterations: int = 200,
) -> Tensor:
    """Reference readout: multinomial logistic regression (L-BFGS) of the same features.

    Minimises ``mean_i CE(softmax(x_i W + b), y_i) + weight_decay |W|^2 / 2`` on
    standardised features; returns the test predictions ``[N_test]``.
    """
    mu = train_x.mean(0)
    sd = train_x.std(0).clamp(min=1e-3)
    xs = (train_x - mu) / sd
    w = torch.zeros(train_x.shape[1], n_classes, requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iterations, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(xs @ w + b, train_y) + 0.5 * weight_decay * (w**2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    with torch.no_grad():
        return (((test_x - mu) / sd) @ w + b).argmax(1)
