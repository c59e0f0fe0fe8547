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

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from gymnasium import spaces

from spikerl.core import LIF, DenseProjection, Input, LateralProjection, Network, Uniform
from spikerl.decoders import PopulationVoteDecoder
from spikerl.decoders.vote import Readout
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


def build_population_policy(
    snn: Any,
    learn: Any,
    feature_map: Any,
    observation_space: spaces.Space,
    action_space: spaces.Space,
    seed: int = 0,
) -> dict[str, Any]:
    """The R-STDP presets' actor as parts of the core: features -> competing populations.

    The network (float64, ``dt = snn.dt``)::

        input  Input(F)                 Bernoulli spikes, p_i = clip(input_rate phi_i, 0, 1)
        action LIF(A k)                 tau_mem, v_rest, v_thresh, v_reset of ``snn``; no
                                        refractory period; noise sigma = snn.noise_std (mV
                                        per step) in stochastic windows, correlated over
                                        snn.noise_tau ms (0: white)
        input -> action                 DenseProjection, W ~ g_n U(w_init_low, w_init) (mV),
                                        bounds [wmin, wmax], plastic
        action -> action                LateralProjection.group_inhibition: -w_inh (mV) from
                                        every neuron of another population, next step

    with ``F = feature_map.n_features``, ``A`` actions, ``k = snn.n_per_action`` and ``g_n``
    the gains of ``snn.gain_spread``. The rule is :class:`~spikerl.learning.MSTDPET` with
    the agent's pair constants and an eligibility that decays by ``gamma lam_actor`` per
    window of ``T = sim_steps`` steps::

        tau_z = -T dt / ln(gamma lam_actor)   (ms)
        A+ = a_plus,   A- = -a_minus exp(dt / tau_post),   tau+ = tau_pre,  tau- = tau_post
        gamma_rule = tau_z / (dt F)

    so that a window's pairs enter ``z`` as ``(A+ x_pre s_post + A- x_post^- s_pre) /
    tau_z`` and ``dw = gamma_rule dt lr delta z`` is ``lr delta / F`` times the window's
    (``a_z``-weighted) pair sum, the scale of the agent's ``dW = lr delta e / F``. With
    ``snn.center`` the eligibility is centred over the action neurons; greedy windows read
    the expected input ``p`` without noise; the critic reads ``p``; ``snn.gap`` ms of
    silence relax the network between windows (``NetworkPolicy(gap=...)``).

    With ``snn.input_lead`` (default) the input population runs one step ahead of the
    window (``NetworkPolicy(input_lead=True)``), so the ``T`` encoded steps reach the action
    neurons at window steps ``0..T-1``, as in the private network; without it an input
    spike arrives one step after its window step (the core's uniform synaptic delay), the
    window's first step receiving the previous window's last input. With
    ``learn.eligibility=step`` the eligibility weighs a window's pairs by ``a_z^(T-1-t)``
    (continuous decay inside the window) instead of equally (``window``, the default, is the
    private network's rule: ``MSTDPET(per_window=True)``). Across a silent gap the last
    step's spikes arrive at the gap's first step, as in the private network.

    Raises:
        ValueError: for spaces it cannot serve (non-``Discrete`` actions).
    """
    from spikerl.agents.config import Eligibility
    from spikerl.core.neurons.lif import LIFParams
    from spikerl.encoders.feature_map import FeatureEncoder
    from spikerl.learning.rules import MSTDPET

    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"the population policy needs Discrete actions, got {action_space}")
    n_actions = int(action_space.n)
    k = int(snn.n_per_action)
    n = n_actions * k
    encoder = FeatureEncoder(
        feature_map,
        tuple(observation_space.shape or (1,)),
        int(snn.sim_steps),
        max_prob=float(snn.input_rate),
        dt=float(snn.dt),
    )
    f = encoder.n_features
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(f, n, generator=g, dtype=torch.float64)
    w = snn.w_init_low + w * (snn.w_init - snn.w_init_low)
    if snn.gain_spread > 0:
        w = w * torch.from_numpy(snn.gains(n_actions))
    params = LIFParams(
        tau_mem=snn.tau_mem,
        v_rest=snn.v_rest,
        v_reset=snn.v_reset,
        v_thresh=snn.v_thresh,
        refrac=0.0,
    )
    net = Network(dt=float(snn.dt))
    net.add_population("input", Input(f, dt=float(snn.dt)))
    net.add_population("action", LIF(n, params, dt=float(snn.dt)))
    net.connect(
        "input", "action", DenseProjection(f, n, w, wmin=float(snn.wmin), wmax=float(snn.wmax))
    )
    net.connect(
        "action", "action", LateralProjection.group_inhibition(n_actions, k, float(snn.w_inh))
    )
    net.to(torch.float64)
    t_ms = snn.sim_steps * snn.dt
    decay = learn.gamma * learn.lam_actor
    tau_z = -t_ms / math.log(decay) if 0.0 < decay < 1.0 else 1e9
    rule = MSTDPET(
        gamma=tau_z / (snn.dt * f),
        a_plus=float(snn.a_plus),
        a_minus=-float(snn.a_minus) * math.exp(snn.dt / snn.tau_post),
        tau_plus=float(snn.tau_pre),
        tau_minus=float(snn.tau_post),
        tau_z=tau_z,
        per_window=learn.eligibility is Eligibility.WINDOW,
    )
    return {
        "network": net,
        "encoder": encoder,
        "decoder": PopulationVoteDecoder(n_actions, k),
        "plastic": ["input->action"],
        "rule": rule,
        "noise": {"action": float(snn.noise_std)},
        "noise_tau": float(snn.noise_tau),
        "greedy_input": "expected",
        "center": ["input->action"] if snn.center else [],
        "critic_input": "probabilities",
        "gap": float(snn.gap),
        "input_lead": bool(snn.input_lead),
        "readout": _readout(snn.readout),
    }


def _readout(value: str) -> Readout:
    """``snn.readout`` as a :class:`~spikerl.decoders.vote.Readout`, or a clear error."""
    try:
        return Readout(value)
    except ValueError:
        raise ValueError(
            f"snn.readout must be one of {[r.value for r in Readout]}, got {value!r}"
        ) from None
