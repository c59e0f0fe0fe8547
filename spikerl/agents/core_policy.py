"""A policy made of parts: a user's core ``Network``, an encoder, a decoder, plastic projections.

``RSTDP("SpikingPolicy", env, policy_kwargs=dict(network=net, encoder=enc, decoder=dec,
plastic=["input->hidden", "hidden->action"]))`` trains any :class:`spikerl.core.Network`
(any number of layers, lateral connections, any core neuron model) with the toolkit's own
pieces and nothing private:

* the encoder (:mod:`spikerl.encoders`) turns an observation batch ``[B, *obs]`` into input
  spikes ``[T, B, n_in]`` for the population ``input``;
* the network runs the window on a plan of :mod:`spikerl.core.backends` (the compiled numba
  plan where the backend supports the network, else the eager torch reference; made once
  per batch size and cached on the policy) with one :class:`~spikerl.learning.Plasticity`
  binding of :class:`~spikerl.learning.MSTDPET` per plastic projection (window mode), which
  accumulates each synapse's eligibility ``z`` (inside the compiled window);
* the decoder (:mod:`spikerl.decoders`) reads the action population ``output`` (spike
  counts per action group, ties by a seeded draw);
* a linear TD(lambda) critic (:class:`spikerl.learning.critic.TDLambdaCritic`, the one
  the private agent uses too) on the input firing rates ``f = mean_t s_in[t]`` gives the
  third factor ``delta = r~ + gamma V(s') - V(s)``, ``V(s) = w_c . f(s)``, with the shaped
  reward ``r~ = clip(reward_scale r, +-reward_clip)``, credited to every plastic projection
  by ``Plasticity.deliver(lr * delta)`` (``dw = gamma_rule dt lr delta z``).

The critic is updated by ``z_c <- gamma lam_critic z_c + f``,
``w_c += lr_critic delta z_c / max(sum f, 1e-8)`` (batch mean). All draws come from one
``torch.Generator`` seeded by the agent.

With ``learn.weight_norm`` every plastic projection ``W [n_pre, n_post]`` is normalised after
each update by :class:`~spikerl.learning.pieces.ColumnMean`, holding each post neuron's
mean incoming weight at its value when the policy was built:

    W[:, n] <- clip(W[:, n] + mu0[n] - mean_k W[k, n], wmin, wmax),
    mu0[n] = mean_k W0[k, n]

(``W0`` the weights at construction; the clip, the projection's bounds, can leave a column
off ``mu0[n]`` only where weights sit at a bound). ``mu0`` is a buffer of the policy, saved
and loaded with the weights, so a loaded or resumed model keeps its construction targets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy

from spikerl.agents.config import LearnConfig, Modulation, UpdateStats
from spikerl.agents.finite import check_observation
from spikerl.core import kernels
from spikerl.core.backends import BACKEND_NAMES, WindowPlan, compile_plan
from spikerl.core.network import Network, NetworkState
from spikerl.core.neurons import Input
from spikerl.core.noise import ou_decay, ou_filter
from spikerl.core.projections import DenseProjection, LateralProjection, Projection, Sign
from spikerl.decoders.argmax import PopulationVoteDecoder
from spikerl.decoders.base import DiscreteDecoder, TieBreak
from spikerl.decoders.vote import Readout, group_scores, vote
from spikerl.encoders.base import Encoder
from spikerl.encoders.feature_map import FeatureEncoder
from spikerl.encoders.population import GaussianPopulationEncoder
from spikerl.learning import actor
from spikerl.learning.critic import count_features, novelty
from spikerl.learning.pieces import ColumnMean
from spikerl.learning.plasticity import Plasticity
from spikerl.learning.rules import MSTDPET

NETWORK_POLICY_KWARGS = frozenset(
    {
        "network",
        "encoder",
        "decoder",
        "plastic",
        "input",
        "output",
        "rule",
        "backend",
        "noise",
        "noise_tau",
        "greedy_input",
        "center",
        "critic_input",
        "gap",
        "input_lead",
        "readout",
    }
)

#: ``greedy_input`` values: sampled spikes, or the encoder's expected input ``p``.
GREEDY_INPUTS = ("spikes", "expected")
#: ``critic_input`` values: the window's input firing rates, or the encoder's ``p``.
CRITIC_INPUTS = ("spikes", "probabilities")

#: What ``learn.weight_norm`` can normalise: the kinds of projection ColumnMean supports.
WEIGHT_NORM_SUPPORTED = (
    "a DenseProjection (weights [n_pre, n_post]) without mask, sign constraint or norm"
)


def _check_weight_norm(name: str, proj: Projection) -> None:
    """Refuse a plastic projection whose columns ``learn.weight_norm`` cannot hold."""
    why = None
    if not isinstance(proj, DenseProjection):
        why = f"it is a {type(proj).__name__}"
    elif isinstance(proj, LateralProjection) or proj.mask is not None:
        why = "it has a connection mask (the shift would change masked weights)"
    elif proj.sign is not Sign.ANY:
        why = f"it has the sign constraint {proj.sign.name} (the shift can cross it)"
    elif proj.norm is not None:
        why = f"it has its own norm={proj.norm} (sum of each column), which the shift undoes"
    if why is not None:
        raise ValueError(
            f"learn.weight_norm cannot normalise plastic projection {name!r}: {why}; "
            f"supported: {WEIGHT_NORM_SUPPORTED} (set learn.weight_norm=false, or make "
            f"{name!r} not plastic)"
        )


@dataclass
class WindowOutput:
    """What one window of a parts policy produced (the learner's ``last``).

    Attributes:
        actions: Chosen actions ``[B]``.
        counts: Spike counts per action ``[B, A]``.
        rate: Mean firing rate of the action population per step ``[B]``.
        tied: Where the best count was shared ``[B]``.
        margin: Best minus second-best count ``[B]``.
        slots: Neuron-steps behind each action's count, ``T * n_out / A`` (the window's
            steps times the neurons of one action group), so ``counts / slots`` is each
            group's firing rate in spikes per neuron per step.
        spikes: The output population's spikes ``[T, B, n_out]`` (a copy; rasters, tie
            anatomy).
    """

    actions: np.ndarray
    counts: np.ndarray
    rate: np.ndarray
    tied: np.ndarray
    margin: np.ndarray
    slots: float = 1.0
    spikes: np.ndarray | None = None


def _rates(spikes: torch.Tensor) -> np.ndarray:
    """Firing rates per step ``[B, n]`` of spikes ``[T, B, n]``: ``sum_t s[t] / T`` in float64
    (``ndarray.mean``'s own sum and division, without its Python wrapper)."""
    return np.add.reduce(spikes.numpy(), axis=0, dtype=np.float64) / spikes.shape[0]


def _check_noise(net: Network, noise: Mapping[str, float] | None) -> dict[str, float]:
    """``noise`` as ``{population: sigma}`` with sigma > 0, refusing unknown or input
    populations and negative or non-finite values."""
    out: dict[str, float] = {}
    for name, sigma in (noise or {}).items():
        pop = net.population(name)
        if isinstance(pop, Input):
            raise ValueError(
                f"noise: {name!r} is an Input population (noise is a membrane current)"
            )
        if not math.isfinite(float(sigma)) or float(sigma) < 0:
            raise ValueError(f"noise[{name!r}] must be a finite number >= 0 (mV), got {sigma!r}")
        if float(sigma) > 0:
            out[name] = float(sigma)
    return out


def _output_population(net: Network, decoder: DiscreteDecoder, output: str | None) -> str:
    """The population the decoder reads: ``output``, else the only sink of its size."""
    if output is not None:
        net.population(output)
        return output
    # a sink projects to nothing but itself (lateral connections allowed)
    feeds = {src for tgt in net.populations for _, src in net.incoming(tgt) if src != tgt}
    sinks = [n for n in net.populations if n not in feeds]
    fits = [n for n in sinks if int(np.prod(net.population(n).shape)) == decoder.n_inputs]
    if len(fits) != 1:
        raise ValueError(
            f"cannot tell the action population: pass output=NAME (populations of "
            f"{decoder.n_inputs} neurons with no outgoing projection: {fits})"
        )
    return fits[0]


class NetworkPolicy(BasePolicy):
    """An SB3 policy holding a user's core network, encoder and decoder.

    Args:
        observation_space: Environment observation space.
        action_space: A ``Discrete`` space with ``decoder.n_actions`` actions.
        network: The core network (its weights are the policy's parameters).
        encoder: Observation encoder; ``encoder.output_size`` must match ``input``.
        decoder: Discrete decoder of the action population.
        plastic: Names ``"src->dst"`` of the projections that learn.
        input: Name of the input population (default ``"input"``).
        output: Name of the action population (default: the sink of the decoder's size).
        rule: The three-factor rule of every plastic projection (default ``MSTDPET()``
            with ``tau_z`` matching the agent's eligibility decay per env step).
        seed: Seed of the policy's own draws (encoding, tie-breaks) in ``predict``.
        backend: Window backend: ``"auto"`` (compiled where supported, else eager),
            ``"compiled"`` or ``"eager"`` (:func:`spikerl.core.backends.compile_plan`).
        weight_norm: Hold each plastic projection's column means at their values now
            (``learn.weight_norm``, set by the agent from its config): the targets
            ``mu0[n] = mean_k W[k, n]`` become buffers ``column_mean_<i>`` (``i`` the index
            in ``plastic``, float64) of the policy's state dict, applied by the learner
            through :class:`~spikerl.learning.pieces.ColumnMean` after every update.
        noise: Membrane noise per population, ``{name: sigma}`` (mV per step): in
            stochastic windows (learning, ``predict(deterministic=False)``) population
            ``name`` gets an extra current ``sigma * N(0, 1)`` per neuron and step
            (exploration); none in deterministic ones.
        noise_tau: Correlation time of that noise (ms; 0, the default: white, drawn afresh
            at every step). With ``noise_tau > 0`` the current is an Ornstein-Uhlenbeck
            process of the same ``sigma`` (:func:`spikerl.core.noise.ou_filter`, lag-``k``
            correlation ``exp(-k dt / noise_tau)``), carried by the learner from window to
            window (across the silent ``gap`` too), so exploration pushes one way for about
            ``noise_tau`` ms; ``predict(deterministic=False)`` starts it afresh each call.
        greedy_input: ``"spikes"`` (default): ``predict`` always samples input spikes;
            ``"expected"``: ``predict(deterministic=True)`` feeds the encoder's per-step
            probabilities ``p`` as input values at every step (needs an encoder with
            ``probabilities``, e.g. :class:`~spikerl.encoders.FeatureEncoder`), the mean
            of the input spikes without their sampling noise.
        center: Plastic projections whose eligibility is centred over their post neurons
            after every learning window, ``z[b, k, n] -= mean_m z[b, k, m]``
            (:func:`spikerl.learning.actor.centre`): a TD error then moves the winning and
            losing action neurons in opposite directions.
        critic_input: What the TD critic reads: ``"spikes"`` (default), the window's input
            firing rates ``mean_t s_in[t]``, or ``"probabilities"``, the encoder's ``p``
            (noise-free; needs ``probabilities``).
        gap: Silent interval (ms) before every window that continues a state: the network
            relaxes without input (:meth:`Network.relax_state
            <spikerl.core.network.Network.relax_state>`: the last step's spikes arrive at
            the gap's first step without firing, then potentials decay to rest) and the
            plastic traces decay (:meth:`Plasticity.relax
            <spikerl.learning.Plasticity.relax>`), so one decision does not carry over
            into the next; 0 (default) chains the windows back to back.
        input_lead: The input population runs one step ahead of the window: the encoder's
            first step ``s_in[0]`` is placed in flight (as the input's spikes of the step
            before the window) and the window is fed ``s_in[1:]`` then silence, so with the
            core's one-step synaptic delay the ``T`` encoded steps reach the next layer at
            window steps ``0..T-1``, the observation's own window. Off (default): step
            ``t``'s input arrives at ``t + 1``, and the first step of a window receives what
            was in flight from the previous one (nothing after a silent ``gap``).
        readout: What a :class:`~spikerl.decoders.PopulationVoteDecoder` reads from each
            action group: ``"counts"`` (default), its spike count in the window, or
            ``"potential"``, the summed membrane potential of its neurons at the window's
            end (mV above rest, :func:`spikerl.decoders.vote.group_scores`; the output
            population must be LIF-like, with ``v`` and ``v_rest``). Ties by a seeded draw
            either way; ``tied`` and ``margin`` (mV) are of the readout's scores.

    Raises:
        TypeError, ValueError: parts of the wrong type or sizes that do not fit; a
            ``ValueError`` naming a plastic projection ``weight_norm`` cannot normalise.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        network: Network,
        encoder: Encoder,
        decoder: DiscreteDecoder,
        plastic: Sequence[str],
        input: str = "input",
        output: str | None = None,
        rule: MSTDPET | None = None,
        seed: int = 0,
        backend: str = "auto",
        weight_norm: bool = False,
        noise: Mapping[str, float] | None = None,
        noise_tau: float = 0.0,
        greedy_input: str = "spikes",
        center: Sequence[str] = (),
        critic_input: str = "spikes",
        gap: float = 0.0,
        input_lead: bool = False,
        readout: Readout | str = Readout.COUNTS,
    ) -> None:
        super().__init__(observation_space, action_space)
        if not isinstance(network, Network):
            raise TypeError(f"network must be a spikerl.core.Network, got {type(network)}")
        if not isinstance(encoder, Encoder):
            raise TypeError(f"encoder must be a spikerl.encoders Encoder, got {type(encoder)}")
        if not isinstance(decoder, DiscreteDecoder):
            raise TypeError(f"decoder must be a spikerl.decoders DiscreteDecoder, got {decoder}")
        if not isinstance(action_space, spaces.Discrete) or action_space.n != decoder.n_actions:
            raise ValueError(
                f"the decoder chooses among {decoder.n_actions} actions; the env's action "
                f"space is {action_space}"
            )
        n_in = int(np.prod(network.population(input).shape))
        if encoder.output_size != n_in:
            raise ValueError(
                f"encoder gives {encoder.output_size} inputs, population {input!r} has {n_in}"
            )
        if not plastic:
            raise ValueError("plastic: name at least one projection 'src->dst' that learns")
        for name in plastic:
            network.projection(name)
        if rule is not None and not isinstance(rule, MSTDPET):
            raise TypeError(f"rule must be an MSTDPET rule, got {type(rule).__name__}")
        self.network = network
        self.encoder = encoder
        self.decoder = decoder
        self.plastic = list(plastic)
        self.input = input
        self.output = _output_population(network, decoder, output)
        self.rule = rule
        if backend not in BACKEND_NAMES:
            raise ValueError(f"backend must be one of {list(BACKEND_NAMES)}, got {backend!r}")
        self.backend = backend
        self.generator = torch.Generator().manual_seed(seed + 7919)
        self.last_output: WindowOutput | None = None
        self._plans: dict[tuple[int, bool], WindowPlan] = {}
        self._plan_hooks: dict[tuple[int, bool], Sequence[Plasticity]] = {}
        self._input_shape = network.population(input).shape
        self.plans_built = 0
        self.noise = _check_noise(network, noise)
        if not (math.isfinite(float(noise_tau)) and float(noise_tau) >= 0):
            raise ValueError(f"noise_tau must be a finite number of ms >= 0, got {noise_tau!r}")
        self.noise_tau = float(noise_tau)
        if greedy_input not in GREEDY_INPUTS:
            raise ValueError(f"greedy_input must be one of {GREEDY_INPUTS}, got {greedy_input!r}")
        if critic_input not in CRITIC_INPUTS:
            raise ValueError(f"critic_input must be one of {CRITIC_INPUTS}, got {critic_input!r}")
        if greedy_input == "expected" or critic_input == "probabilities":
            if not callable(getattr(encoder, "probabilities", None)):
                raise ValueError(
                    f"greedy_input={greedy_input!r} / critic_input={critic_input!r} need an "
                    f"encoder with probabilities(obs) (e.g. spikerl.encoders.FeatureEncoder); "
                    f"{type(encoder).__name__} has none"
                )
        self.greedy_input = greedy_input
        self.critic_input = critic_input
        if not math.isfinite(float(gap)) or float(gap) < 0:
            raise ValueError(f"gap must be a finite number of ms >= 0, got {gap!r}")
        self.gap = float(gap)
        self.input_lead = bool(input_lead)
        try:
            self.readout = Readout(readout)
        except ValueError:
            raise ValueError(
                f"readout must be one of {[r.value for r in Readout]}, got {readout!r}"
            ) from None
        if self.readout is Readout.POTENTIAL:
            out_pop = network.population(self.output)
            if type(decoder) is not PopulationVoteDecoder or not hasattr(out_pop, "params"):
                raise ValueError(
                    "readout='potential' needs a PopulationVoteDecoder over a population "
                    f"with membrane potentials (LIF-like), got {type(decoder).__name__} over "
                    f"{type(out_pop).__name__}"
                )
            self._v_rest = float(getattr(out_pop.params, "v_rest", 0.0))
        if self.gap > 0:  # every population must relax in closed form: fail now, not later
            network.relax_state(network.initial_state(1), self.gap)
        unknown_center = [c for c in center if c not in self.plastic]
        if unknown_center:
            raise ValueError(
                f"center: {unknown_center} are not plastic projections (plastic: {self.plastic})"
            )
        self.center = [self.plastic.index(c) for c in center]
        self.weight_norm = bool(weight_norm)
        if self.weight_norm:
            for i, name in enumerate(self.plastic):
                proj = network.projection(name)
                _check_weight_norm(name, proj)
                mu0 = proj.weight.detach().to(torch.float64).mean(dim=0)
                self.register_buffer(f"column_mean_{i}", mu0)

    def column_means(self, max_std: float | None = None) -> list[ColumnMean]:
        """The ``learn.weight_norm`` pieces, one per plastic projection in ``plastic``
        order (empty when off): each holds the post neurons' construction means
        ``mu0`` (the buffer itself, so loading a state dict changes what it applies) and,
        with ``max_std`` (``learn.weight_std_max``), caps the spread of each column."""
        if not self.weight_norm:
            return []
        return [
            ColumnMean(getattr(self, f"column_mean_{i}"), max_std=max_std)
            for i in range(len(self.plastic))
        ]

    def load_state_dict(  # type: ignore[override]
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """``nn.Module.load_state_dict``; a state dict saved before the weight-norm targets
        were kept (no ``column_mean_<i>``) gets them from its own weights."""
        if self.weight_norm:
            state_dict = dict(state_dict)
            keys = {id(v): k for k, v in self.state_dict(keep_vars=True).items()}
            for i, name in enumerate(self.plastic):
                key = f"column_mean_{i}"
                w_key = keys.get(id(self.network.projection(name).weight))
                if key not in state_dict and w_key in state_dict:
                    w = torch.as_tensor(state_dict[w_key])
                    state_dict[key] = w.detach().to(torch.float64).mean(dim=0)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def plan(self, batch_size: int, hooks: Sequence[Plasticity] = ()) -> WindowPlan:
        """The window plan for ``batch_size`` (with ``hooks`` when learning), made once and
        kept until the network (structure, dtype, weight storage), the batch size or the
        hooks change."""
        key = (int(batch_size), bool(hooks))
        plan = self._plans.get(key)
        if plan is not None and self._plan_hooks.get(key) is hooks and plan.valid():
            return plan  # the same hook sequence object as when it was made
        if (
            plan is None
            or not plan.valid()
            or len(plan.hooks) != len(hooks)
            or any(a is not b for a, b in zip(plan.hooks, hooks, strict=True))
        ):
            plan = compile_plan(self.network, int(batch_size), hooks, self.backend)
            self._plans[key] = plan
            self.plans_built += 1
        self._plan_hooks[key] = hooks
        return plan

    def encode(self, obs: np.ndarray, generator: torch.Generator) -> torch.Tensor:
        """Input spikes ``[T, B, n_in]`` for observations ``[B, *obs]``."""
        return self.encode_with_probabilities(obs, generator)[0]

    def encode_with_probabilities(
        self, obs: np.ndarray, generator: torch.Generator
    ) -> tuple[torch.Tensor, np.ndarray | None]:
        """Input spikes ``[T, B, n_in]`` and, where the encoder gives them, the per-step
        probabilities ``p [B, n_in]`` the spikes were drawn with (else ``None``).

        A :class:`~spikerl.encoders.GaussianPopulationEncoder` is sampled here from its own
        ``activation`` with the draws its ``forward`` makes (``torch.rand((T, B, D, n))``
        from the generator, spike where ``u < p``): the same spikes without the module
        call and the in-place sign arithmetic (tested against ``encoder(x, generator)``).
        A :class:`~spikerl.encoders.FeatureEncoder` is sampled from its ``probabilities``
        as its ``forward`` does.
        """
        enc = self.encoder
        if type(enc) is FeatureEncoder:
            p = enc.probabilities(np.asarray(obs))
            return enc.sample(p, enc.time_steps, generator), p
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32)
        if type(enc) is GaussianPopulationEncoder:
            q = enc.activation(x) * (enc.max_rate * enc.dt / 1000.0)
            u = torch.rand((enc.time_steps, *q.shape), generator=generator, dtype=q.dtype)
            spikes = torch.lt(u, q).to(q.dtype)
        else:
            spikes = enc(x, generator)
        return spikes.reshape(enc.time_steps, x.shape[0], -1), None

    def expected_input(self, obs: np.ndarray) -> torch.Tensor:
        """The encoder's probabilities as input values at every step ``[T, B, n_in]``
        (``greedy_input="expected"``)."""
        p = np.asarray(self.encoder.probabilities(np.asarray(obs)), dtype=np.float64)  # type: ignore[operator]
        p = p.reshape(p.shape[0], -1)
        t = self.encoder.time_steps
        return torch.from_numpy(np.array(np.broadcast_to(p, (t, *p.shape))))  # a writable copy

    def noise_currents(
        self,
        steps: int,
        batch: int,
        generator: torch.Generator,
        scale: float = 1.0,
        carry: dict[str, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Membrane noise currents ``{population: scale sigma N(0, 1) [T, B, *shape]}``
        (``scale``: the exploration schedule's fraction, ``learn.noise_final_fraction``).

        With ``noise_tau > 0`` the draws are filtered into an OU sequence
        (:func:`spikerl.core.noise.ou_filter`) that continues from ``carry[population]``
        (the last step of the previous window, ``dt + gap`` ms before this window's first;
        absent: a stationary start), and ``carry`` is updated to this window's last step.
        """
        out = {}
        dtype = self._dtype()
        for name, sigma in self.noise.items():
            pop = self.network.population(name)
            z = torch.randn((steps, batch, *pop.shape), generator=generator, dtype=dtype)
            out[name] = z.mul_(sigma * scale)
            if self.noise_tau > 0:
                dt = float(self.network.dt)
                prev = None if carry is None else carry.get(name)
                if prev is not None and tuple(prev.shape) != tuple(z.shape[1:]):
                    prev = None  # another batch size: start afresh
                ou_filter(
                    z, prev, ou_decay(dt, self.noise_tau), ou_decay(dt + self.gap, self.noise_tau)
                )
                if carry is not None:
                    carry[name] = z[-1].clone()
        return out

    def _dtype(self) -> torch.dtype:
        for name in self.plastic:
            return self.network.projection(name).weight.dtype
        return torch.get_default_dtype()

    def window(
        self,
        spikes_in: torch.Tensor,
        state: NetworkState | None,
        generator: torch.Generator,
        hooks: Sequence[Plasticity] = (),
        stochastic: bool = True,
    ) -> tuple[WindowOutput, NetworkState]:
        """Run one window from ``state`` (``None``: fresh) on input spikes and decode the
        action population; returns the decision and a copy of the state after it."""
        plan = self.plan(spikes_in.shape[1], hooks)
        plan.load_state(state)
        if state is not None and self.gap > 0:
            plan.relax(self.gap)
        out = self.run_plan(plan, spikes_in, generator, learn=bool(hooks), stochastic=stochastic)
        kept = plan.state
        new = NetworkState(
            {n: type(st)(*(x.clone() for x in st)) for n, st in kept.neurons.items()},
            {n: x.clone() for n, x in kept.spikes.items()},
            {n: x.clone() for n, x in kept.traces.items()},
        )
        return out, new

    def run_plan(
        self,
        plan: WindowPlan,
        spikes_in: torch.Tensor,
        generator: torch.Generator,
        learn: bool,
        stochastic: bool = True,
        noise_scale: float = 1.0,
        noise_carry: dict[str, torch.Tensor] | None = None,
    ) -> WindowOutput:
        """One window of ``plan`` (state kept in the plan) on spikes ``[T, B, n_in]``,
        decoded; a stochastic window adds the membrane noise times ``noise_scale`` (drawn
        before the decision's tie-break; ``noise_carry``: the correlated noise's state,
        see :meth:`noise_currents`)."""
        T, B = spikes_in.shape[0], spikes_in.shape[1]
        x = spikes_in.reshape(T, B, *self._input_shape)
        if self.input_lead:  # s_in[0] in flight, then s_in[1:], then silence
            first = x[0]
            shifted = torch.zeros_like(x)
            shifted[:-1] = x[1:]
            x = shifted
            plan.set_spikes(self.input, first)
        inputs: dict[str, torch.Tensor] = {self.input: x}
        if stochastic and self.noise:
            inputs.update(self.noise_currents(T, B, generator, noise_scale, noise_carry))
        record = plan.run_window(inputs, learn=learn)
        out = record[self.output].reshape(T, B, -1)
        if self.readout is Readout.POTENTIAL:
            v_end = plan.state.neurons[self.output].v.reshape(B, -1)
            return self.decode_potential(out, v_end, generator)
        return self.decode(out, generator)

    def decode_potential(
        self, out: torch.Tensor, v_end: torch.Tensor, generator: torch.Generator
    ) -> WindowOutput:
        """Decision by the summed end-of-window potential of each action group
        (``readout="potential"``): scores ``sum_{n in group a} (v_n - v_rest)`` (mV), ties
        by the draws ``torch.rand(B, generator)``; counts and rates are still reported."""
        dec = self.decoder
        assert isinstance(dec, PopulationVoteDecoder)
        spikes = out.detach().cpu().to(torch.float64).numpy()
        T, B, n = spikes.shape
        counts = spikes.sum(axis=0).reshape(B, dec.n_actions, -1).sum(axis=2)
        v = v_end.detach().cpu().to(torch.float64).numpy() - self._v_rest
        scores = group_scores(Readout.POTENTIAL, counts, v, n // dec.n_actions)
        d = vote(scores, torch.rand(B, generator=generator).numpy())
        rate = spikes.mean(axis=(0, 2)).astype(np.float32)
        slots = T * n / dec.n_actions
        return WindowOutput(d.actions, counts, rate, d.tied, d.margin, slots, spikes.copy())

    def decode(self, out: torch.Tensor, generator: torch.Generator) -> WindowOutput:
        """Decision from the action population's spikes ``[T, B, n_out]``.

        A :class:`~spikerl.decoders.PopulationVoteDecoder` with random tie-breaks is decided
        by :func:`spikerl.decoders.vote.vote` on NumPy counts, with the tie-break draws
        ``torch.rand(B, generator)`` that :func:`~spikerl.decoders.pick_max` makes (the same
        rule, the same draws); any other decoder by its own ``action_counts`` / ``select``.
        """
        dec = self.decoder
        if type(dec) is PopulationVoteDecoder and dec.tie_break is TieBreak.RANDOM:
            fast = kernels.group_counts(out, dec.n_actions)
            if fast is not None:
                c, rate = fast
                u = torch.rand(out.shape[1], generator=generator).numpy()
                d = vote(c, u)
                slots = out.shape[0] * out.shape[2] / dec.n_actions
                spikes = out.detach().cpu().numpy().copy()
                return WindowOutput(
                    d.actions, c, rate.astype(np.float32), d.tied, d.margin, slots, spikes
                )
        counts = dec.action_counts(out)
        actions = dec.select(counts, generator)
        c = counts.numpy().astype(np.float64)
        best = c.max(axis=1, keepdims=True)
        n_best = (c == best).sum(axis=1)
        second = np.where(c == best, -np.inf, c).max(axis=1) if c.shape[1] > 1 else best[:, 0]
        margin = np.where(n_best > 1, 0.0, best[:, 0] - second)
        rate = out.float().mean(dim=(0, 2)).numpy()
        slots = out.shape[0] * out.shape[2] / c.shape[1]
        spikes = out.detach().cpu().numpy().copy()
        return WindowOutput(
            actions.numpy().astype(np.int64), c, rate, n_best > 1, margin, slots, spikes
        )

    def _predict(
        self, observation: torch.Tensor | dict[str, torch.Tensor], deterministic: bool = False
    ) -> torch.Tensor:
        if isinstance(observation, dict):
            raise TypeError("NetworkPolicy does not take dict observations")
        actions, _ = self.predict(observation.cpu().numpy(), None, None, deterministic)
        return torch.as_tensor(actions)

    def predict(  # type: ignore[override]
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """Actions for observations; ``state`` is the network's :class:`NetworkState`.

        Raises:
            ValueError: An observation shape other than the observation space's.
            NonFiniteError: A NaN or inf observation (naming the env).

        Spiking encoders and the decoder's tie-break draw from the policy's generator in
        both modes. ``deterministic`` turns the membrane ``noise`` off and, with
        ``greedy_input="expected"``, feeds the expected input instead of sampled spikes.
        """
        obs = np.asarray(observation)
        single = obs.shape == self.observation_space.shape
        if single:
            obs = obs[None]
        check_observation(obs, self.observation_space)
        if isinstance(state, NetworkState) and episode_start is not None:
            starts = torch.as_tensor(episode_start).reshape(-1)
            if starts.shape[0] != state.batch_size or bool(starts.any()):  # else: kept as is
                state = self.network.reset_state(state, starts)
        st = state if isinstance(state, NetworkState) else None
        if deterministic and self.greedy_input == "expected":
            x = self.expected_input(obs)
        else:
            x = self.encode(obs, self.generator)
        out, new = self.window(x, st, self.generator, stochastic=not deterministic)
        self.last_output = out
        return (out.actions[0] if single else out.actions), new


class NetworkLearner:
    """Act-and-learn loop state of a :class:`NetworkPolicy`: ``act`` (encode, window,
    decision; eligibility accumulates), ``update`` (TD error -> three-factor update).

    Args:
        policy: The parts policy (weights change in place).
        learn: Three-factor constants (gamma, lambdas, learning rates, clips).
        n_envs: Batch size.
        seed: Seed of the learner's draws.
    """

    def __init__(self, policy: NetworkPolicy, learn: LearnConfig, n_envs: int, seed: int) -> None:
        self.policy = policy
        self.learn = learn
        self.n_envs = n_envs
        self.generator = torch.Generator().manual_seed(seed + 104729)
        t_ms = policy.encoder.time_steps * policy.network.dt
        decay = learn.gamma * learn.lam_actor
        tau_z = -t_ms / math.log(decay) if 0.0 < decay < 1.0 else 1e9
        rule = policy.rule or MSTDPET(gamma=1.0, tau_z=tau_z)
        self.plasticities = [Plasticity.bind(policy.network, name, rule) for name in policy.plastic]
        # learn.weight_norm: applied after each delivery, outside the bindings, so their
        # windows and credit stay on the compiled path (the same order as a piece's
        # constraint: change, the projection's bounds, then the column shift)
        max_std = learn.weight_std_max if learn.weight_std_max > 0 else None
        self.column_means = policy.column_means(max_std) if learn.weight_norm else []
        if learn.weight_norm and not self.column_means:
            raise ValueError(
                "learn.weight_norm is on but the policy was built without weight_norm=True "
                "(no column-mean targets); build NetworkPolicy(..., weight_norm=True)"
            )
        for p in self.plasticities:
            p.set_modulation(0.0)  # eligibility only inside a window; delivered at its end
        self.td = learn.critic()
        self.critic, self.z_critic = self.td.initial_state(policy.encoder.output_size, n_envs)
        #: Pseudo-counts of the critic's features (``learn.novelty_bonus``).
        self.visits = np.zeros_like(self.critic)
        self._plan: WindowPlan | None = None
        self._started = False
        self._phi: np.ndarray | None = None
        self._x_next: torch.Tensor | None = None
        self._p_next: np.ndarray | None = None  # the encoder's p of _x_next (critic_input)
        self._stale: np.ndarray | None = None
        #: Fraction of the policy's noise sigmas in learning windows (the exploration
        #: schedule, ``learn.noise_final_fraction``; set per step by the loop).
        self.noise_scale = 1.0
        #: The correlated noise's last value per population (``policy.noise_tau > 0``).
        self.noise_carry: dict[str, torch.Tensor] = {}
        self.last: WindowOutput | None = None

    @property
    def plan(self) -> WindowPlan:
        """The policy's learning plan for this batch size and these bindings (cached)."""
        plan = self.policy.plan(self.n_envs, self.plasticities)
        if plan is not self._plan:
            if self._plan is not None and self._started:
                plan.load_state(self._plan.state)  # the network changed: carry the state over
            self._plan = plan
        return plan

    @property
    def state(self) -> NetworkState | None:
        """The network state kept between windows (``None`` before the first window)."""
        return self.plan.state if self._started else None

    @state.setter
    def state(self, value: NetworkState | None) -> None:
        self.plan.load_state(value)
        self._started = value is not None

    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs besides the weights, as tensors and arrays (no pickle):
        RNG states, network state, each binding's traces and eligibility, critic and
        cached encodings."""
        out: dict[str, Any] = {
            "kind": "network",
            "n_envs": self.n_envs,
            "generator": self.generator.get_state(),
            "policy_generator": self.policy.generator.get_state(),
            "critic": self.critic.copy(),
            "z_critic": self.z_critic.copy(),
        }
        if self.learn.novelty_bonus > 0:
            out["visits"] = self.visits.copy()
        state = self.state
        if state is not None:
            out["network_state"] = {k: v.clone() for k, v in state.to_dict().items()}
        for i, p in enumerate(self.plasticities):
            if p.traces is not None:
                out[f"plastic{i}_pre"] = p.traces.pre.clone()
                out[f"plastic{i}_post"] = p.traces.post.clone()
            if p.rule_state is not None:
                out[f"plastic{i}_eligibility"] = p.rule_state.clone()
        for name in ("_phi", "_stale", "_p_next"):
            value = getattr(self, name)
            if value is not None:
                out[name.lstrip("_")] = np.asarray(value)
        if self._x_next is not None:
            out["x_next"] = self._x_next
        for name, value in self.noise_carry.items():
            out[f"noise_carry.{name}"] = value.clone()
        return out

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` wrote (same network, same batch size)."""
        from spikerl.learning.activity import TraceState

        if saved.get("kind") != "network" or saved.get("n_envs") != self.n_envs:
            raise ValueError("saved learner state is not this network learner's (or batch)")
        self.generator.set_state(torch.as_tensor(saved["generator"], dtype=torch.uint8))
        self.policy.generator.set_state(
            torch.as_tensor(saved["policy_generator"], dtype=torch.uint8)
        )
        self.critic[:] = np.asarray(saved["critic"])
        self.z_critic[:] = np.asarray(saved["z_critic"])
        if "visits" in saved:
            self.visits[:] = np.asarray(saved["visits"])
        flat = saved.get("network_state")
        if flat is not None:
            fresh = self.policy.network.initial_state(self.n_envs)
            neurons = {
                name: type(st)(*(torch.as_tensor(flat[f"neurons.{name}.{f}"]) for f in st._fields))
                for name, st in fresh.neurons.items()
            }
            spikes = {name: torch.as_tensor(flat[f"spikes.{name}"]) for name in fresh.spikes}
            traces = {name: torch.as_tensor(flat[f"traces.{name}"]) for name in fresh.traces}
            self.state = NetworkState(neurons, spikes, traces)
        for i, p in enumerate(self.plasticities):
            if f"plastic{i}_pre" in saved:
                p.traces = TraceState(
                    torch.as_tensor(saved[f"plastic{i}_pre"]),
                    torch.as_tensor(saved[f"plastic{i}_post"]),
                )
            if f"plastic{i}_eligibility" in saved:
                p.rule_state = torch.as_tensor(saved[f"plastic{i}_eligibility"])
        self._phi = np.asarray(saved["phi"]) if "phi" in saved else None
        self._stale = np.asarray(saved["stale"], dtype=bool) if "stale" in saved else None
        self._x_next = torch.as_tensor(saved["x_next"]) if "x_next" in saved else None
        self._p_next = np.asarray(saved["p_next"]) if "p_next" in saved else None
        self.noise_carry = {
            k.split(".", 1)[1]: torch.as_tensor(v)
            for k, v in saved.items()
            if k.startswith("noise_carry.")
        }

    def forget_observations(self) -> None:
        """Drop cached encodings (the environments were reset from outside)."""
        self._x_next = None
        self._p_next = None
        self._stale = None

    def reset(self, episode_start: np.ndarray) -> None:
        """Fresh network state, traces and eligibility where an episode starts."""
        starts = np.asarray(episode_start, dtype=bool).reshape(-1)
        if not starts.any():
            return
        m = torch.as_tensor(starts)
        if self._started:
            self.plan.reset(m)
        for p in self.plasticities:
            p.reset(m)
        self.td.reset(self.z_critic, starts)

    def features(self, obs: np.ndarray) -> np.ndarray:
        """The encoder's input spikes ``[T, B, n_in]`` for observations ``[B, *obs]`` (the
        Pipeline's encode stage)."""
        return self.policy.encode(obs, self.generator).numpy()

    def act(self, obs: np.ndarray, *, learn: bool = True) -> np.ndarray:
        """Choose actions (eligibility accumulates in the plasticity bindings)."""
        x, p = self._x_next, self._p_next
        if x is None or self._stale is None or self._stale.all():
            x, p = self.policy.encode_with_probabilities(obs, self.generator)
        elif self._stale.any():
            rows = torch.as_tensor(self._stale)
            fresh, p_fresh = self.policy.encode_with_probabilities(
                np.asarray(obs)[self._stale], self.generator
            )
            x = x.clone()
            x[:, rows] = fresh
            if p is not None and p_fresh is not None:
                p = p.copy()
                p[self._stale] = p_fresh
        self._x_next = None
        self._p_next = None
        return self._window(x, learn, p).actions

    def run_window(
        self,
        spikes_in: np.ndarray,
        *,
        deterministic: bool,
        learn: bool,
        probabilities: np.ndarray | None = None,
    ) -> WindowOutput:
        """Run the network on input spikes ``[T, B, n_in]``; when learning, the plasticity
        bindings accumulate eligibility and the critic trace decays and adds the critic's
        features (``deterministic``: no membrane noise). ``probabilities`` ``[B, n_in]``:
        what the spikes were drawn with, which a ``critic_input="probabilities"`` critic
        reads (it needs them)."""
        x = torch.as_tensor(spikes_in)
        return self._window(x, learn, probabilities, stochastic=not deterministic)

    def _critic_features(self, x: torch.Tensor, p: np.ndarray | None) -> np.ndarray:
        """What the critic reads for a window: the encoder's ``p`` (``critic_input=
        "probabilities"``) or the input firing rates of its spikes ``x``."""
        if self.policy.critic_input == "probabilities":
            if p is None:
                raise RuntimeError(
                    "critic_input='probabilities' needs the encoder's p: learn through "
                    "act(obs) / update(...), not run_window(spikes)"
                )
            return p.reshape(p.shape[0], -1)
        return _rates(x)

    def _window(
        self, x: torch.Tensor, learn: bool, p: np.ndarray | None = None, stochastic: bool = True
    ) -> WindowOutput:
        plan = self.plan
        if not self._started:
            plan.load_state(None)
            self._started = True
        elif self.policy.gap > 0:  # silent gap since the last window
            plan.relax(self.policy.gap)
            for p_ in self.plasticities:
                p_.relax(self.policy.gap)
        out = self.policy.run_plan(
            plan, x, self.generator, learn=learn, stochastic=stochastic,
            noise_scale=self.noise_scale, noise_carry=self.noise_carry,
        )  # fmt: skip
        if learn:
            for i in self.policy.center:  # z[b, k, n] -= mean_m z[b, k, m]
                z = self.plasticities[i].rule_state
                if z is not None:
                    actor.centre(z.reshape(z.shape[0], -1, z.shape[-1]).numpy())
            self._phi = self._critic_features(x, p)
            self.td.accumulate(self.z_critic, self._phi)
        elif p is not None or self.policy.critic_input == "spikes":
            self._phi = self._critic_features(x, p)
        self.last = out
        return out

    def update(
        self,
        rewards: np.ndarray,
        bootstrap_obs: np.ndarray,
        terminated: np.ndarray,
        lr_fraction: float = 1.0,
        stale: np.ndarray | None = None,
        mask: np.ndarray | None = None,
    ) -> Any:
        """TD error of the critic, credited to every plastic projection's eligibility."""

        if self._phi is None:
            raise RuntimeError("update() called before act()")
        lc = self.learn
        x_next, p_next = self.policy.encode_with_probabilities(bootstrap_obs, self.generator)
        phi_next = self._critic_features(x_next, p_next)
        if lc.novelty_bonus > 0:  # r + beta nu(s'): a count-based exploration bonus
            count_features(self.visits, phi_next)
            bonus = lc.novelty_bonus * novelty(self.visits, phi_next)
            rewards = np.asarray(rewards, dtype=np.float64) + bonus
        td, v, r = self.td.td_error(self.critic, self._phi, phi_next, rewards, terminated, mask)
        mod = actor.third_factor(
            td, r, mask, td_error=lc.modulation is Modulation.TD_ERROR, clip=lc.delta_clip
        )
        b = len(r)
        self.td.update(self.critic, self.z_critic, self._phi, td, lr_fraction)
        signal = torch.from_numpy(np.asarray(lr_fraction * lc.lr_actor * mod, dtype=np.float64))
        dw = 0.0
        for p in self.plasticities:
            p.deliver(signal.to(p.projection.weight.dtype))
            dw += p.last_mean_abs_change
        if self.column_means:  # learn.weight_norm: W[:, n] += mu0[n] - mean_k W[k, n]
            # (and, with learn.weight_std_max, the column's spread capped)
            for p, piece in zip(self.plasticities, self.column_means, strict=True):
                piece.constrain_(p.projection)
        self._x_next = x_next
        self._p_next = p_next
        self._stale = np.ones(b, dtype=bool) if stale is None else np.asarray(stale, dtype=bool)
        return UpdateStats(
            float(mod.sum()) / mod.size, dw / len(self.plasticities), float(v.sum()) / v.size
        )
