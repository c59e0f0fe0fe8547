"""Ready-made policy networks for the R-STDP agent, built from the core (no private copy).

:func:`build_hidden_layer_policy` returns the parts of a policy (``network``, ``encoder``,
``decoder``, ``plastic``) that ``RSTDP`` trains through
:class:`~spikerl.agents.core_policy.NetworkPolicy`::

    population-coded observation (Gaussian fields, D x n inputs)
      -> hidden LIF layer (H neurons)
      -> action LIF populations (A x k neurons) with lateral inhibition inside the layer
    both feed-forward projections plastic (MSTDPET, TD-error modulated)

Setting ``rstdp.network`` in a preset or ``--config`` file selects it, so the network is
plain data in the saved config and a saved model loads without extra arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from gymnasium import spaces

from spikerl.core import LIF, DenseProjection, Input, LateralProjection, Network, Uniform
from spikerl.decoders import PopulationVoteDecoder
from spikerl.encoders import GaussianPopulationEncoder


@dataclass(frozen=True)
class HiddenLayerNetworkConfig:
    """A three-layer spiking policy (input -> hidden -> action populations).

    Attributes:
        hidden: Hidden LIF neurons ``H``.
        per_action: LIF neurons per action population ``k``.
        time_steps: Simulation steps ``T`` per env step (``dt`` = 1 ms).
        neurons_per_dim: Gaussian receptive fields per observation dimension.
        max_rate: Input rate at a field's preferred value (Hz).
        low: Declared lower ends of the observation ranges (None: the space's bounds;
            unbounded dimensions are standardised by running statistics).
        high: Declared upper ends.
        w_hidden: Initial input -> hidden weights are uniform in ``[0, w_hidden]`` (mV).
        w_action: Initial hidden -> action weights are uniform in ``[0, w_action]`` (mV).
        wmax: Upper bound of both plastic projections (mV); the lower bound is ``-wmax``.
        inhibition: Lateral inhibition (mV per spike) between action neurons.
    """

    hidden: int = 64
    per_action: int = 16
    time_steps: int = 16
    neurons_per_dim: int = 16
    max_rate: float = 250.0
    low: Sequence[float] | None = None
    high: Sequence[float] | None = None
    w_hidden: float = 4.0
    w_action: float = 4.0
    wmax: float = 20.0
    inhibition: float = 2.0


def build_hidden_layer_policy(
    config: HiddenLayerNetworkConfig,
    observation_space: spaces.Space,
    action_space: spaces.Space,
    seed: int = 0,
) -> dict[str, Any]:
    """The parts of a :class:`HiddenLayerNetworkConfig` policy for these spaces.

    Returns:
        ``policy_kwargs`` for ``RSTDP``: ``network``, ``encoder``, ``decoder``, ``plastic``.

    Raises:
        ValueError: for a non-flat ``Box`` observation or a non-``Discrete`` action space.
    """
    if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
        raise ValueError(
            f"the hidden-layer network needs a flat Box observation, got {observation_space}"
        )
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"the hidden-layer network needs Discrete actions, got {action_space}")
    c = config
    low = c.low if c.low is not None else observation_space.low.tolist()
    high = c.high if c.high is not None else observation_space.high.tolist()
    encoder = GaussianPopulationEncoder.from_space(
        low, high, c.neurons_per_dim, c.time_steps, max_rate=c.max_rate
    )
    n_in = encoder.output_size
    n_act = int(action_space.n) * c.per_action
    g = torch.Generator().manual_seed(seed)
    net = Network(dt=1.0)
    net.add_population("input", Input(n_in))
    net.add_population("hidden", LIF(c.hidden))
    net.add_population("action", LIF(n_act))
    net.connect(
        "input",
        "hidden",
        DenseProjection(
            n_in, c.hidden, Uniform(0.0, c.w_hidden), wmin=-c.wmax, wmax=c.wmax, generator=g
        ),
    )
    net.connect(
        "hidden",
        "action",
        DenseProjection(
            c.hidden, n_act, Uniform(0.0, c.w_action), wmin=-c.wmax, wmax=c.wmax, generator=g
        ),
    )
    net.connect("action", "action", LateralProjection.inhibition(n_act, strength=c.inhibition))
    return {
        "network": net,
        "encoder": encoder,
        "decoder": PopulationVoteDecoder(int(action_space.n), c.per_action),
        "plastic": ["input->hidden", "hidden->action"],
    }
