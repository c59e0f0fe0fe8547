"""Spiking MNIST classifiers trained by surrogate gradients (BPTT).

Two architectures built from :class:`~spikerl.learning.surrogate.SurrogateLIF`:

* :class:`SpikingMLP`: 784 -> H LIF -> 10 leaky readout (fully connected).
* :class:`SpikingConvNet`: conv32-BN-pool-LIF -> conv64/2-BN-LIF -> fc LIF -> 10 readout.

Conventions and choices:

* **Time first.** Internal activity is ``[T, B, ...]``. Layers are a DAG, so each layer runs
  over the whole window (one product per layer over ``T*B``, then a scan of the LIF over T);
  spikes reach the next layer in the same step (no synaptic delay inside the window).
* **Direct (repeat) encoding.** :meth:`forward` takes the static image (pixel intensity in
  [0, 1]) and feeds it as a constant input current at every one of the T steps; the first
  weighted layer (a learned encoder) then turns it into spikes. This is deterministic, has no
  sampling noise, and reaches high accuracy with T = 4-8 steps, where Poisson rate coding
  needs tens of steps for the same accuracy; since the current is constant it is computed
  once, not T times. :meth:`forward_window` accepts any time-varying input ``[T, B, ...]``
  (e.g. Poisson spike trains) with the same weights.
* **Readout.** The output layer is a non-spiking leaky integrator
  ``u[t] = u[t-1] * exp(-dt / tau_out) + W s[t] + b`` and the logits are its mean membrane
  over the window, ``mean_t u[t]``. With few steps a spike-count readout has only T + 1 levels
  per class and gives coarse, often tied, logits; the mean membrane is graded and smooth.
* **Loss.** Cross-entropy on those logits; any ``torch.optim`` optimizer.

Hidden neurons use the normalised LIF of :data:`DEFAULT_LIF` (rest = reset = 0, threshold 1,
no refractory period, tau_mem 5 ms at dt = 1 ms, i.e. leak factor ``exp(-1/5) = 0.82``),
whose currents are dimensionless "mV per step".
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from spikerl._checks import check_positive
from spikerl.core.neurons.base import Reset
from spikerl.core.neurons.lif import LIFParams
from spikerl.learning.surrogate import ATan, Surrogate, SurrogateLIF

__all__ = [
    "DEFAULT_LIF",
    "LeakyReadout",
    "SpikingConvNet",
    "SpikingMLP",
    "evaluate",
    "images_to_float",
    "train_epoch",
]

DEFAULT_LIF = LIFParams(
    tau_mem=5.0, v_rest=0.0, v_reset=0.0, v_thresh=1.0, refrac=0.0, reset=Reset.SOFT
)
"""Normalised LIF for deep SNNs: threshold 1, rest/reset 0, tau 5 ms, soft reset."""


def _check_time_steps(time_steps: int) -> int:
    if isinstance(time_steps, bool) or not isinstance(time_steps, int) or time_steps < 1:
        raise ValueError(f"time_steps must be a positive int, got {time_steps!r}")
    return time_steps


class LeakyReadout(nn.Module):
    """Non-spiking leaky integrator readout: logits = mean membrane over the window.

    ``u[t] = u[t-1] * exp(-dt / tau_mem) + x[t]`` with ``u[-1] = 0`` (x in mV per step), and
    the output is ``mean_t u[t]``.

    Args:
        tau_mem: Membrane time constant (ms); ``math.inf`` gives a perfect integrator.
        dt: Time step (ms).
    """

    def __init__(self, tau_mem: float = 20.0, dt: float = 1.0) -> None:
        super().__init__()
        self.tau_mem = tau_mem if tau_mem == math.inf else check_positive("tau_mem", tau_mem)
        self.dt = check_positive("dt", dt)

    def forward(self, x: Tensor) -> Tensor:
        """Integrate ``x [T, B, N]`` and return the mean membrane ``[B, N]``."""
        a = math.exp(-self.dt / self.tau_mem)
        u = torch.zeros_like(x[0])
        total = torch.zeros_like(x[0])
        for t in range(x.shape[0]):
            u = u * a + x[t]
            total = total + u
        return total / x.shape[0]

    def extra_repr(self) -> str:
        return f"tau_mem={self.tau_mem}, dt={self.dt}"


def _repeat(x: Tensor, time_steps: int) -> Tensor:
    """View a static ``[B, ...]`` tensor as ``[T, B, ...]`` without copying."""
    return x.unsqueeze(0).expand(time_steps, *x.shape)


def _per_step(layer: nn.Module, x: Tensor) -> Tensor:
    """Apply a stateless layer to ``x [T, B, ...]`` as one batch of ``T*B``."""
    y: Tensor = layer(x.flatten(0, 1))
    return y.unflatten(0, x.shape[:2])


class SpikingMLP(nn.Module):
    """Fully connected SNN ``784 -> hidden (LIF) -> 10 (leaky readout)``.

    Args:
        time_steps: Simulation steps T per image (direct encoding).
        hidden: Number of hidden LIF neurons.
        n_in: Input size (28 * 28 for MNIST).
        n_out: Number of classes.
        params: Hidden LIF constants (default :data:`DEFAULT_LIF`).
        surrogate: Spike pseudo-derivative (default ``ATan(alpha=2)``).
        dropout: Dropout probability on hidden spikes (same mask at every step).
        tau_out: Readout time constant (ms).
        dt: Time step (ms).
    """

    def __init__(
        self,
        time_steps: int = 6,
        hidden: int = 800,
        n_in: int = 784,
        n_out: int = 10,
        params: LIFParams = DEFAULT_LIF,
        surrogate: Surrogate | None = None,
        dropout: float = 0.2,
        tau_out: float = 20.0,
        dt: float = 1.0,
    ) -> None:
        super().__init__()
        self.time_steps = _check_time_steps(time_steps)
        self.fc1 = nn.Linear(n_in, hidden)
        self.lif1 = SurrogateLIF(hidden, params, dt, surrogate or ATan(2.0))
        self.dropout = dropout
        self.fc2 = nn.Linear(hidden, n_out)
        self.readout = LeakyReadout(tau_out, dt)

    def _dropout_mask(self, like: Tensor) -> Tensor | None:
        if not self.training or self.dropout <= 0:
            return None
        keep = 1.0 - self.dropout
        return torch.bernoulli(torch.full_like(like, keep)) / keep

    def forward_window(self, x: Tensor) -> Tensor:
        """Logits ``[B, n_out]`` for a time-varying input ``x [T, B, ...]`` (e.g. spikes)."""
        return self._from_current(_per_step(self.fc1, x.flatten(2)))

    def forward(self, images: Tensor) -> Tensor:
        """Logits ``[B, n_out]`` for static inputs ``[B, ...]`` (e.g. ``[B, 1, 28, 28]`` in
        [0, 1]) fed as a constant current for ``time_steps`` steps (direct encoding)."""
        return self._from_current(_repeat(self.fc1(images.flatten(1)), self.time_steps))

    def _from_current(self, current: Tensor) -> Tensor:
        spikes = self.lif1.run(current)  # [T, B, H]
        mask = self._dropout_mask(spikes[0])
        if mask is not None:
            spikes = spikes * mask
        return self.readout(_per_step(self.fc2, spikes))


class SpikingConvNet(nn.Module):
    """Convolutional SNN for ``[1, 28, 28]`` images.

    ``conv3x3(1->c1)-BN-maxpool2 -> LIF [c1,14,14] -> conv3x3/stride2(c1->c2)-BN -> LIF
    [c2,7,7] -> fc(->hidden) -> LIF -> fc(->10) -> leaky readout``. The first convolution
    sees the static image, so it (and its pooling, which acts on currents before the LIF)
    runs once, not T times; the second downsamples by its stride instead of a pooling layer,
    which on CPU costs a quarter of the multiply-adds and no pooling pass over the T*B
    feature maps. Every layer talks to the next by spikes only. BatchNorm after the second
    convolution normalises over ``T*B`` (time and batch together).

    Args:
        time_steps: Simulation steps T per image (direct encoding).
        channels: ``(c1, c2)`` output channels of the two convolutions.
        hidden: Size of the fully connected LIF layer.
        n_out: Number of classes.
        params: LIF constants of all spiking layers (default :data:`DEFAULT_LIF`).
        surrogate: Spike pseudo-derivative (default ``ATan(alpha=2)``).
        dropout: Dropout probability on the flattened conv spikes (same mask at every step).
        tau_out: Readout time constant (ms).
        dt: Time step (ms).
    """

    def __init__(
        self,
        time_steps: int = 4,
        channels: Sequence[int] = (32, 64),
        hidden: int = 256,
        n_out: int = 10,
        params: LIFParams = DEFAULT_LIF,
        surrogate: Surrogate | None = None,
        dropout: float = 0.2,
        tau_out: float = 20.0,
        dt: float = 1.0,
    ) -> None:
        super().__init__()
        self.time_steps = _check_time_steps(time_steps)
        c1, c2 = channels
        sg = surrogate or ATan(2.0)
        self.conv1 = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1), nn.MaxPool2d(2)
        )
        self.lif1 = SurrogateLIF((c1, 14, 14), params, dt, sg)
        self.conv2 = nn.Sequential(
            nn.Conv2d(c1, c2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c2)
        )
        self.lif2 = SurrogateLIF((c2, 7, 7), params, dt, sg)
        self.dropout = dropout
        self.fc1 = nn.Linear(c2 * 7 * 7, hidden)
        self.lif3 = SurrogateLIF(hidden, params, dt, sg)
        self.fc2 = nn.Linear(hidden, n_out)
        self.readout = LeakyReadout(tau_out, dt)

    def forward_window(self, x: Tensor) -> Tensor:
        """Logits ``[B, n_out]`` for a time-varying input ``x [T, B, 1, 28, 28]``."""
        return self._from_current(_per_step(self.conv1, x))

    def forward(self, images: Tensor) -> Tensor:
        """Logits ``[B, n_out]`` for static images ``[B, 1, 28, 28]`` in [0, 1] fed as a
        constant current for ``time_steps`` steps (direct encoding; conv1 runs once)."""
        return self._from_current(_repeat(self.conv1(images), self.time_steps))

    def _from_current(self, current: Tensor) -> Tensor:
        s1 = self.lif1.run(current)  # [T, B, c1, 14, 14]
        s2 = self.lif2.run(_per_step(self.conv2, s1)).flatten(2)  # [T, B, c2*49]
        if self.training and self.dropout > 0:
            keep = 1.0 - self.dropout
            s2 = s2 * (torch.bernoulli(torch.full_like(s2[0], keep)) / keep)
        s3 = self.lif3.run(_per_step(self.fc1, s2))  # [T, B, hidden]
        return self.readout(_per_step(self.fc2, s3))


# --------------------------------------------------------------------------- training helpers


def images_to_float(images: Tensor) -> Tensor:
    """``uint8 [N, H, W]`` images to ``float32 [N, 1, H, W]`` pixel intensities in [0, 1]."""
    return images.unsqueeze(1).to(torch.float32) / 255.0


def train_epoch(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    generator: torch.Generator,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    progress: bool = False,
    desc: str = "train",
) -> dict[str, float]:
    """One epoch of minibatch training with cross-entropy on ``model(x)`` logits.

    Args:
        model: Maps ``float [B, 1, H, W]`` images in [0, 1] to logits ``[B, C]``.
        images: ``uint8 [N, H, W]`` on the model's device.
        labels: ``int64 [N]`` on the same device.
        optimizer: Any ``torch.optim`` optimizer over the model's parameters.
        batch_size: Minibatch size (the last, smaller batch is kept).
        generator: CPU generator that draws the shuffling order (reproducible epochs).
        scheduler: Stepped after every minibatch when given.
        progress: Show a tqdm progress bar.
        desc: Progress bar label.

    Returns:
        ``{"loss": mean loss, "accuracy": training accuracy, "seconds": wall time}``.
    """
    model.train()
    n = int(labels.shape[0])
    order = torch.randperm(n, generator=generator).to(labels.device)
    total_loss, correct, start = 0.0, 0, time.perf_counter()
    batches = range(0, n, batch_size)
    bar = tqdm(batches, desc=desc, disable=not progress, leave=False, mininterval=2.0)
    for i in bar:
        idx = order[i : i + batch_size]
        x, y = images_to_float(images[idx]), labels[idx]
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total_loss += float(loss.detach()) * int(y.shape[0])
        correct += int((logits.detach().argmax(1) == y).sum())
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}", refresh=False)
    return {
        "loss": total_loss / n,
        "accuracy": correct / n,
        "seconds": time.perf_counter() - start,
    }


@torch.no_grad()
def evaluate(
    model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000, n_classes: int = 10
) -> tuple[float, list[float]]:
    """Accuracy of ``model`` (in eval mode) on ``images``/``labels``.

    Args:
        model: Maps ``float [B, 1, H, W]`` images in [0, 1] to logits ``[B, n_classes]``.
        images: ``uint8 [N, H, W]`` on the model's device.
        labels: ``int64 [N]`` on the same device.
        batch_size: Evaluation batch size.
        n_classes: Number of classes.

    Returns:
        ``(accuracy, per-class accuracy [n_classes])``; a class absent from ``labels`` gets
        ``nan``.
    """
    model.eval()
    preds = torch.cat(
        [
            model(images_to_float(images[i : i + batch_size])).argmax(1)
            for i in range(0, int(labels.shape[0]), batch_size)
        ]
    )
    hit = (preds == labels).to(torch.float64)
    per_class = []
    for c in range(n_classes):
        sel = labels == c
        per_class.append(float(hit[sel].mean()) if bool(sel.any()) else math.nan)
    return float(hit.mean()), per_class
