"""Settings of the spiking feature extractors, checked on construction and JSON-able.

A spiking extractor simulates ``T`` steps of LIF layers per environment step. What is fed
in (:class:`Encoding`), what is read out of the last layer (:class:`Readout`) and which
implementation runs the LIF window (:class:`Backend`) are enums, not strings; the neuron
is a :class:`~spikerl.core.neurons.lif.LIFParams` and the surrogate a
:class:`~spikerl.learning.surrogate.Surrogate` object.

:func:`config_to_dict` / :func:`config_from_dict` turn a :class:`SpikingConfig` into plain
JSON values and back, so a saved model's settings never need unpickling.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, fields
from typing import Any

from spikerl._checks import check_positive
from spikerl.core.neurons.base import Reset
from spikerl.core.neurons.lif import LIFParams
from spikerl.learning.surrogate import ATan, FastSigmoid, Sigmoid, Surrogate
from spikerl.models.surrogate import DEFAULT_LIF

__all__ = [
    "Backend",
    "Encoding",
    "Readout",
    "SpikingConfig",
    "config_from_dict",
    "config_to_dict",
]


class Readout(enum.Enum):
    """What the extractor reads out of its last LIF layer (its features).

    ``MEMBRANE`` (default): the mean membrane potential over the window of non-spiking leaky
    integrators fed one-to-one by the last layer's spikes, ``u[t] = u[t-1] exp(-dt/tau_out)
    + s[t]`` (``u[-1] = 0``), features ``mean_t u[t]``. The policy's linear heads (SB3's
    ``action_net``, ``value_net``, ``q_net``) are linear, so the logits, values and
    Q-values are then exactly the mean membrane potentials of leaky output neurons whose
    synapses are the heads' weights (up to the bias, which absorbs a constant).

    ``SPIKE_COUNT``: the spike counts of the last layer over the window, ``sum_t s[t]``
    (integers in ``0..T``); the heads read the counts.
    """

    MEMBRANE = "membrane"
    SPIKE_COUNT = "spike_count"


class Encoding(enum.Enum):
    """How the observation enters the first layer during the ``T`` steps.

    ``CONSTANT`` (default, "direct" coding): the observation is a constant input current
    ``W x + b`` repeated at every step (computed once). ``RATE``: Bernoulli spikes with
    probability ``p = (x - low) / (high - low)`` per step, redrawn at every call (needs a
    bounded observation space; images are already scaled to ``[0, 1]`` by SB3).
    """

    CONSTANT = "constant"
    RATE = "rate"


class Backend(enum.Enum):
    """Implementation of the LIF window.

    ``AUTO`` (default): the fused compiled forward and backward pass
    (:func:`~spikerl.learning.fused_lif.fused_lif_window`) on CPU where it applies
    (refractory-free neurons, float32/float64, numba present), the eager torch scan
    otherwise (GPU). ``FUSED``: the fused window, or an error saying why it cannot run.
    ``EAGER``: always the eager scan of
    :func:`~spikerl.learning.surrogate.surrogate_lif_step`.
    """

    AUTO = "auto"
    FUSED = "fused"
    EAGER = "eager"


_SURROGATES: dict[str, type[Surrogate]] = {
    "FastSigmoid": FastSigmoid,
    "ATan": ATan,
    "Sigmoid": Sigmoid,
}


def _as_enum(name: str, value: Any, kind: type[enum.Enum]) -> Any:
    if isinstance(value, kind):
        return value
    choices = ", ".join(f"{kind.__name__}.{m.name}" for m in kind)
    raise TypeError(f"{name} must be one of {choices}, got {value!r}")


@dataclass(frozen=True)
class SpikingConfig:
    """Simulation settings shared by the spiking extractors.

    Attributes:
        time_steps: Simulation steps ``T`` per environment step (>= 1).
        neuron: LIF constants of every spiking layer (default: the normalised
            :data:`~spikerl.models.surrogate.DEFAULT_LIF`: threshold 1, rest/reset 0,
            tau_mem 5 ms, soft reset, no refractory period; currents in "mV per step").
        surrogate: Pseudo-derivative of the spike (default ``ATan(alpha=2)``, 1/mV).
        readout: What the last layer gives the policy's heads (see :class:`Readout`).
        encoding: How the observation enters the network (see :class:`Encoding`).
        backend: Which implementation runs the LIF window (see :class:`Backend`).
        tau_out: Time constant (ms) of the membrane readout; ``math.inf`` integrates
            perfectly (each spike then counts in proportion to the steps left after it).
        dt: Simulation time step (ms).
        detach_reset: Detach the reset from the graph (Zenke & Vogels 2021).
    """

    time_steps: int = 4
    neuron: LIFParams = field(default_factory=lambda: DEFAULT_LIF)
    surrogate: Surrogate = field(default_factory=lambda: ATan(2.0))
    readout: Readout = Readout.MEMBRANE
    encoding: Encoding = Encoding.CONSTANT
    backend: Backend = Backend.AUTO
    tau_out: float = 20.0
    dt: float = 1.0
    detach_reset: bool = False

    def __post_init__(self) -> None:
        t = self.time_steps
        if isinstance(t, bool) or not isinstance(t, int) or t < 1:
            raise ValueError(f"time_steps must be a positive int (steps per env step), got {t!r}")
        if not isinstance(self.neuron, LIFParams):
            raise TypeError(f"neuron must be a LIFParams, got {self.neuron!r}")
        if not isinstance(self.surrogate, Surrogate):
            raise TypeError(
                "surrogate must be a Surrogate object such as ATan(), FastSigmoid() or "
                f"Sigmoid(), got {self.surrogate!r}"
            )
        _as_enum("readout", self.readout, Readout)
        _as_enum("encoding", self.encoding, Encoding)
        _as_enum("backend", self.backend, Backend)
        if self.tau_out != math.inf:
            check_positive("tau_out", self.tau_out)
        check_positive("dt", self.dt)
        if not isinstance(self.detach_reset, bool):
            raise TypeError(f"detach_reset must be a bool, got {self.detach_reset!r}")

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The names of the settings (the keyword arguments the extractors accept)."""
        return tuple(f.name for f in fields(cls))


def _surrogate_to_dict(s: Surrogate) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": type(s).__name__}
    out.update({f.name: getattr(s, f.name) for f in fields(s)})
    return out


def _surrogate_from_dict(d: dict[str, Any]) -> Surrogate:
    kind = d.get("kind")
    if kind not in _SURROGATES:
        raise ValueError(f"surrogate kind must be one of {sorted(_SURROGATES)}, got {kind!r}")
    return _SURROGATES[str(kind)](**{k: v for k, v in d.items() if k != "kind"})


def config_to_dict(config: SpikingConfig) -> dict[str, Any]:
    """Plain JSON values of ``config`` (enums by value, ``inf`` as the string ``"inf"``)."""
    n = config.neuron
    neuron = {f.name: getattr(n, f.name) for f in fields(n)}
    neuron["reset"] = n.reset.value
    return {
        "time_steps": config.time_steps,
        "neuron": neuron,
        "surrogate": _surrogate_to_dict(config.surrogate),
        "readout": config.readout.value,
        "encoding": config.encoding.value,
        "backend": config.backend.value,
        "tau_out": "inf" if config.tau_out == math.inf else config.tau_out,
        "dt": config.dt,
        "detach_reset": config.detach_reset,
    }


def config_from_dict(d: dict[str, Any]) -> SpikingConfig:
    """Inverse of :func:`config_to_dict`; missing keys take their defaults.

    Raises:
        ValueError: An unknown key or value, naming it.
    """
    unknown = set(d) - set(SpikingConfig.keys())
    if unknown:
        raise ValueError(
            f"unknown spiking settings {sorted(unknown)}; expected some of "
            f"{list(SpikingConfig.keys())}"
        )
    kw: dict[str, Any] = dict(d)
    if "neuron" in kw:
        neuron = dict(kw["neuron"])
        if "reset" in neuron:
            neuron["reset"] = Reset(neuron["reset"])
        kw["neuron"] = LIFParams(**neuron)
    if "surrogate" in kw:
        kw["surrogate"] = _surrogate_from_dict(dict(kw["surrogate"]))
    for key, kind in (("readout", Readout), ("encoding", Encoding), ("backend", Backend)):
        if key in kw:
            kw[key] = kind(kw[key])
    if kw.get("tau_out") == "inf":
        kw["tau_out"] = math.inf
    return SpikingConfig(**kw)
