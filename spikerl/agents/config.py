"""Settings of the R-STDP agent's actor and rule, and the update's diagnostics.

:class:`SNNConfig` holds the actor's network constants (``T`` steps of ``dt`` ms per
environment step, LIF action populations with group inhibition, the STDP traces and pair
amplitudes); :class:`LearnConfig` the three-factor rule's (discount, eligibility and
critic traces, learning rates, the third factor). The actor they describe is built from
core parts by :func:`spikerl.models.rstdp_network.build_population_policy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from spikerl.decoders.vote import Readout
from spikerl.learning.critic import TDLambdaCritic


class Modulation(StrEnum):
    """Third factor of the actor's rule."""

    TD_ERROR = "td_error"
    REWARD = "reward"


class Eligibility(StrEnum):
    """How the actor's eligibility decays within a window (``learn.eligibility``)."""

    WINDOW = "window"  # once per env step by gamma lambda; a window's pairs summed
    STEP = "step"  # every simulation step by (gamma lambda)^(1/T) (the core's MSTDPET)


@dataclass(frozen=True)
class SNNConfig:
    """Actor network and plasticity constants.

    Attributes:
        n_per_action: LIF neurons per action population.
        sim_steps: Simulation steps ``T`` per environment step.
        dt: Simulation step (ms).
        tau_mem: Membrane time constant (ms).
        v_rest: Resting potential (mV).
        v_reset: Potential after a spike (mV).
        v_thresh: Threshold (mV).
        input_rate: Spike probability per step of an input feature at value 1.
        w_init: Initial weights are uniform in ``[w_init_low, w_init]`` (mV per spike).
        w_init_low: Lower end of the initial weights (a narrow range keeps the neurons of
            a population alike, so the population, not one neuron, decides).
        w_inh: Inhibition (mV) per spike of another population, delivered next step.
        noise_std: Membrane noise (mV per step) in stochastic mode: exploration.
        noise_tau: Correlation time of that noise (ms): 0 (default) draws it afresh every
            step (white); > 0 makes it an Ornstein-Uhlenbeck current of the same spread
            whose sign persists for about ``noise_tau`` ms, across windows and gaps, so
            exploration pushes one way for many env steps (``NetworkPolicy(noise_tau=)``).
        tau_pre: Pre-synaptic trace time constant (ms).
        tau_post: Post-synaptic trace time constant (ms).
        a_plus: LTP amplitude.
        a_minus: LTD amplitude.
        center: Subtract the mean eligibility over action neurons.
        wmin: Lower weight bound (mV).
        wmax: Upper weight bound (mV).
        gap: Silent interval (ms) between two environment steps' windows: the last
            spikes are delivered, then potentials and traces decay without input for
            ``gap`` ms. It stops a winning population from carrying over into the next
            decision (hysteresis); 0 chains the windows back to back.
        readout: What the decoder reads from each action population: spike ``counts``
            (ties broken by a seeded draw) or the summed membrane ``potential`` at the end
            of the window.
        gain_spread: Heterogeneous excitability inside each population: the ``k``-th of its
            ``n = n_per_action`` neurons has gain ``g_k = 1 + gain_spread (k / (n - 1) -
            1/2)`` (``g = 1`` for ``n = 1``); its initial weights are ``g_k`` times the
            uniform draw and, with ``learn.weight_norm``, its mean weight is held at
            ``g_k (w_init_low + w_init) / 2`` (mV). Neurons of one population then reach
            threshold at different drives, so the population's spike count grows step by
            step with its drive (a graded vote) instead of all of its neurons switching on
            together; 0 (the default) gives identical gains.
        input_lead: (``rstdp.stack=core``) the input population fires one step ahead of
            the window, so the window's ``T`` input steps drive its ``T`` neuron steps
            through the core's one-step synaptic delay (this network's own timing, the only
            one it has); ``false``: each input step arrives one step late.
    """

    n_per_action: int = 8
    sim_steps: int = 4
    dt: float = 1.0
    tau_mem: float = 20.0
    v_rest: float = -65.0
    v_reset: float = -65.0
    v_thresh: float = -52.0
    input_rate: float = 1.0
    w_init: float = 1.0
    w_init_low: float = 0.0
    w_inh: float = 4.0
    noise_std: float = 2.0
    noise_tau: float = 0.0
    tau_pre: float = 5.0
    tau_post: float = 5.0
    a_plus: float = 1.0
    a_minus: float = 0.5
    center: bool = True
    wmin: float = -20.0
    wmax: float = 20.0
    gap: float = 100.0
    readout: Readout = Readout.COUNTS
    gain_spread: float = 0.0
    input_lead: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.gain_spread < 2.0:
            raise ValueError(
                f"snn.gain_spread must be in [0, 2) (gains 1 +- gain_spread / 2 stay "
                f"positive), got {self.gain_spread}"
            )

    def gains(self, n_actions: int) -> np.ndarray:
        """Gain ``g [A * n_per_action]`` of every action neuron (see ``gain_spread``)."""
        n = self.n_per_action
        k = np.arange(n, dtype=np.float64)
        g = 1.0 + self.gain_spread * (k / (n - 1) - 0.5) if n > 1 else np.ones(1)
        return np.tile(g, n_actions)


@dataclass(frozen=True)
class LearnConfig:
    """Three-factor learning constants (per environment step).

    Attributes:
        gamma: Discount factor.
        lam_actor: Eligibility decay per env step (times gamma).
        lam_critic: Critic trace decay per env step (times gamma).
        lr_actor: Actor learning rate (scaled by 1 / number of features).
        lr_critic: Critic learning rate (scaled by 1 / sum of features).
        lr_final_fraction: Learning rates decay linearly to this fraction of their start.
        noise_final_fraction: The exploration noise (every ``noise`` population's sigma,
            ``snn.noise_std`` for the presets' actor) decays linearly over the run to this
            fraction of its start, ``sigma(t) = sigma (f + (1 - f) (1 - t / N))`` (1: no
            decay, the default); greedy windows have none either way.
        modulation: TD error of the critic or the raw reward.
        delta_clip: Clip of the modulatory signal.
        reward_clip: Clip rewards to ``[-reward_clip, reward_clip]`` (0: no clip).
        life_loss_terminal: For learning only, treat a lost life (``info["lives"]``
            drops) as the end of the value chain (no bootstrap); the game goes on.
        reward_scale: Rewards are multiplied by this before clipping and TD errors (a
            per-task unit: e.g. Pendulum's -16..0 per step scaled to about -1..0).
        weight_norm: After every update shift each action neuron's weights so that their
            mean stays ``(w_init_low + w_init) / 2`` (homeostasis of the neuron's input:
            stops both populations saturating together, which makes the vote tie). A parts
            policy (:mod:`spikerl.agents.core_policy`) holds each post neuron of every plastic
            projection at its own mean when the policy was built, and refuses projections it
            cannot normalise.
        weight_std_max: With ``weight_norm``, also cap the spread of each action neuron's
            weights at this standard deviation (mV; 0: no cap): a neuron whose weights
            spread more is shrunk about its mean, ``W[:, n] <- mu0 + min(1, s_max /
            std_f W[f, n]) (W[:, n] - mu0)``. Unbounded spread lets the weights diffuse
            to the bounds, where every action neuron is either always on or always off and
            the vote ties; the cap keeps each neuron's drive in a graded range.
        novelty_bonus: Exploration bonus ``beta`` (reward units per step; 0, the default:
            none). Learning sees ``r + beta nu(s')``, with ``nu`` the pseudo-count novelty
            of the next state's critic features (:func:`spikerl.learning.critic.novelty`:
            1 for unseen features, falling as ``1 / sqrt(visits)``; the counts are part
            of the learner's saved state). As visited states lose their bonus the critic
            over-values them, the TD error of the actions taken there turns negative, and
            a policy that has settled on one action without reaching a sparse reward is
            pushed back to exploring. Evaluation and the logged returns see the env's
            reward only.
        eligibility: ``window``: the eligibility decays by ``gamma lambda`` once per env
            step and a window's STDP pairs add undiscounted (the private network's rule);
            ``step`` (``rstdp.stack=core`` only): it decays every simulation step by
            ``(gamma lambda)^(1/T)``, so a pair at step ``t`` of the window counts
            ``(gamma lambda)^((T-1-t)/T)`` (the core's continuous-time MSTDPET).
    """

    gamma: float = 0.99
    lam_actor: float = 0.8
    lam_critic: float = 0.8
    lr_actor: float = 0.5
    lr_critic: float = 0.1
    lr_final_fraction: float = 0.05
    noise_final_fraction: float = 1.0
    modulation: Modulation = Modulation.TD_ERROR
    delta_clip: float = 10.0
    reward_clip: float = 0.0
    life_loss_terminal: bool = False
    reward_scale: float = 1.0
    weight_norm: bool = False
    weight_std_max: float = 0.0
    novelty_bonus: float = 0.0
    eligibility: Eligibility = Eligibility.WINDOW

    def __post_init__(self) -> None:
        if not (math.isfinite(self.weight_std_max) and self.weight_std_max >= 0.0):
            raise ValueError(
                f"learn.weight_std_max must be a finite number >= 0 (mV; 0: no cap), got "
                f"{self.weight_std_max}"
            )
        if not (math.isfinite(self.novelty_bonus) and self.novelty_bonus >= 0.0):
            raise ValueError(
                f"learn.novelty_bonus must be a finite number >= 0 (reward units per step; "
                f"0: none), got {self.novelty_bonus}"
            )
        if self.weight_std_max > 0 and not self.weight_norm:
            raise ValueError(
                "learn.weight_std_max caps the spread that learn.weight_norm holds the mean "
                "of: set learn.weight_norm=true too (or weight_std_max=0)"
            )

    def critic(self) -> TDLambdaCritic:
        """The TD(lambda) critic these constants describe (every learner builds its
        critic here, so ``reward_scale`` and the clips hold on every path)."""
        return TDLambdaCritic(
            gamma=self.gamma,
            lam=self.lam_critic,
            lr=self.lr_critic,
            reward_scale=self.reward_scale,
            reward_clip=self.reward_clip,
            delta_clip=self.delta_clip,
        )


@dataclass
class UpdateStats:
    """Diagnostics of one plasticity update.

    Attributes:
        modulation: Mean third factor (TD error or reward) over the batch.
        mean_abs_dw: Mean absolute actor weight change.
        value: Mean critic value of the states acted in.
    """

    modulation: float
    mean_abs_dw: float
    value: float
