"""The small policy made of parts that the parts-policy tests share."""

from __future__ import annotations

from typing import Any

import torch

from spikerl.core import LIF, DenseProjection, Input, LateralProjection, Network, Uniform
from spikerl.decoders import PopulationVoteDecoder
from spikerl.encoders import GaussianPopulationEncoder


def small_parts(seed: int = 0) -> dict[str, Any]:
    """``policy_kwargs`` of a CartPole policy: Gaussian population code (4 x 8 inputs) ->
    16 hidden LIF -> 2 x 4 action LIF with lateral inhibition, both projections plastic;
    initial weights drawn from a generator seeded with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    enc = GaussianPopulationEncoder(
        [-2.4, -3.0, -0.21, -3.5], [2.4, 3.0, 0.21, 3.5], neurons_per_dim=8, time_steps=8
    )
    net = Network(dt=1.0)
    net.add_population("input", Input(enc.output_size))
    net.add_population("hidden", LIF(16))
    net.add_population("action", LIF(8))
    net.connect(
        "input", "hidden", DenseProjection(enc.output_size, 16, Uniform(0, 4.0), generator=g)
    )
    net.connect("hidden", "action", DenseProjection(16, 8, Uniform(0, 8.0), generator=g))
    net.connect("action", "action", LateralProjection.inhibition(8, strength=2.0))
    return dict(
        network=net,
        encoder=enc,
        decoder=PopulationVoteDecoder(2, 4),
        plastic=["input->hidden", "hidden->action"],
    )


def window_preset(env: str = "CartPole") -> Any:
    """The R-STDP preset for ``env`` with the former private network's timing and rule
    (input in the window it was encoded for, ``snn.input_lead=true``; eligibility decaying
    once per window, ``learn.eligibility=window``), whatever the shipped preset sets: the
    settings under which the core actor equals the NumPy reference
    (``tests/agents/private_reference.py``)."""
    import dataclasses

    from spikerl.agents.config import Eligibility
    from spikerl.agents.presets import load_agent_preset

    cfg = load_agent_preset("rstdp", env)
    return dataclasses.replace(
        cfg,
        snn=dataclasses.replace(cfg.snn, input_lead=True),
        learn=dataclasses.replace(cfg.learn, eligibility=Eligibility.WINDOW),
    )
