"""The presets' actor built from core parts (``rstdp.stack=core``)."""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv

from spikerl.agents import RSTDP
from spikerl.agents.config import LearnConfig, SNNConfig
from spikerl.agents.core_policy import NetworkLearner, NetworkPolicy
from spikerl.agents.presets import resolve
from spikerl.agents.rstdp import RSTDPConfig, Stack, make_features
from spikerl.core import LateralProjection
from spikerl.encoders import FeatureEncoder, GaussianFields, GaussianFieldsConfig
from spikerl.models.rstdp_network import build_population_policy


def _cartpole_config(**snn: object) -> RSTDPConfig:
    cfg = resolve("CartPole").rstdp
    return RSTDPConfig(
        snn=SNNConfig(**{**cfg.snn.__dict__, **snn}),
        learn=cfg.learn,
        features=cfg.features,
        stack=Stack.CORE,
    )


def test_group_inhibition_weights() -> None:
    proj = LateralProjection.group_inhibition(3, 2, 1.5)
    w = proj.weight.detach()
    group = torch.arange(6) // 2
    for k in range(6):
        for n in range(6):
            want = -1.5 if group[k] != group[n] else 0.0
            assert float(w[k, n]) == want, (k, n)
    with pytest.raises(ValueError, match="groups and size"):
        LateralProjection.group_inhibition(0, 2, 1.0)


def test_feature_encoder_rates_and_clip() -> None:
    fmap = GaussianFields(GaussianFieldsConfig(low=(-1.0, -1.0), high=(1.0, 1.0), n_centres=5))
    enc = FeatureEncoder(fmap, (2,), time_steps=4000, max_prob=0.5)
    obs = np.array([[0.0, 0.5], [-1.0, 1.0]])
    p = enc.probabilities(obs)
    np.testing.assert_allclose(p, np.clip(0.5 * fmap(obs), 0.0, 1.0))
    spikes = enc(torch.as_tensor(obs), torch.Generator().manual_seed(0))
    assert spikes.shape == (4000, 2, fmap.n_features)
    # binomial mean over 4000 steps: standard error <= sqrt(0.25 / 4000) = 0.008
    np.testing.assert_allclose(spikes.mean(0).numpy(), p, atol=0.04)
    big = FeatureEncoder(fmap, (2,), time_steps=2, max_prob=5.0)
    assert big.probabilities(obs).max() <= 1.0
    with pytest.raises(ValueError, match="max_prob"):
        FeatureEncoder(fmap, (2,), time_steps=2, max_prob=-1.0)


def test_population_policy_structure_and_rule() -> None:
    cfg = _cartpole_config()
    env = gym.make("CartPole-v1")
    fmap = make_features(cfg.features, env.observation_space)
    parts = build_population_policy(
        cfg.snn, cfg.learn, fmap, env.observation_space, env.action_space, seed=5
    )
    net = parts["network"]
    f, k = fmap.n_features, cfg.snn.n_per_action
    w = net.projection("input->action").weight.detach()
    assert w.shape == (f, 2 * k) and w.dtype == torch.float64
    assert float(w.min()) >= cfg.snn.w_init_low and float(w.max()) <= cfg.snn.w_init
    inh = net.projection("action->action").weight.detach()
    assert float(inh[0, k]) == -cfg.snn.w_inh and float(inh[0, 1]) == 0.0
    rule = parts["rule"]
    t_ms = cfg.snn.sim_steps * cfg.snn.dt
    # the eligibility decays by gamma * lam_actor over one window
    assert math.exp(-t_ms / rule.tau_z) == pytest.approx(cfg.learn.gamma * cfg.learn.lam_actor)
    assert rule.gamma == pytest.approx(rule.tau_z / (cfg.snn.dt * f))
    assert rule.a_minus == pytest.approx(-cfg.snn.a_minus * math.exp(1.0 / cfg.snn.tau_post))
    # same seed, same weights
    again = build_population_policy(
        cfg.snn, cfg.learn, fmap, env.observation_space, env.action_space, seed=5
    )
    assert torch.equal(again["network"].projection("input->action").weight, w)


def test_potential_readout_builds_and_bad_readouts_are_refused() -> None:
    """``snn.readout=potential`` builds the vote over end-of-window potentials; a readout
    name that does not exist, or the potential readout over a decoder that is not the
    population vote, is one clear error."""
    from spikerl.decoders import FirstToSpikeDecoder

    model = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), _cartpole_config(readout="potential"))
    assert model.policy.readout == "potential"
    with pytest.raises(ValueError, match=r"snn\.readout|readout"):
        RSTDP("SpikingPolicy", gym.make("CartPole-v1"), _cartpole_config(readout="volts"))
    parts = build_population_policy(
        model.config.snn, model.config.learn, make_features(model.config.features,
        gym.make("CartPole-v1").observation_space), gym.make("CartPole-v1").observation_space,
        gym.make("CartPole-v1").action_space, 0,
    )  # fmt: skip
    parts["decoder"] = FirstToSpikeDecoder(2, parts["decoder"].neurons_per_action)
    with pytest.raises(ValueError, match="readout='potential' needs a PopulationVoteDecoder"):
        RSTDP("SpikingPolicy", gym.make("CartPole-v1"), policy_kwargs=parts)


def test_core_stack_learns_centred_eligibility_and_noise() -> None:
    model = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), _cartpole_config(), seed=0)
    assert isinstance(model.policy, NetworkPolicy) and isinstance(model.learner, NetworkLearner)
    w0 = model.policy.network.projection("input->action").weight.detach().clone()
    model.learn(300)
    w1 = model.policy.network.projection("input->action").weight.detach()
    assert not torch.equal(w0, w1) and torch.isfinite(w1).all()
    z = model.learner.plasticities[0].rule_state
    assert z is not None and float(z.abs().max()) > 0
    # centring: the eligibility of every input sums to zero over the action neurons
    torch.testing.assert_close(z.sum(-1), torch.zeros_like(z.sum(-1)), atol=1e-12, rtol=0)
    # weight_norm (CartPole preset): every action neuron's mean weight stays at its start
    torch.testing.assert_close(w1.mean(0), w0.mean(0), atol=1e-9, rtol=0)
    # membrane noise: sigma per neuron and step, only in stochastic windows
    noise = model.policy.noise_currents(2000, 1, torch.Generator().manual_seed(1))["action"]
    assert float(noise.std()) == pytest.approx(model.config.snn.noise_std, rel=0.03)


def test_greedy_windows_are_noise_free_and_use_expected_input() -> None:
    model = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), _cartpole_config(), seed=0)
    policy = model.policy
    assert isinstance(policy, NetworkPolicy)
    obs = np.array([0.1, -0.2, 0.05, 0.3], dtype=np.float32)
    counts = []
    for _ in range(3):
        policy.predict(obs, deterministic=True)
        assert policy.last_output is not None
        counts.append(policy.last_output.counts.copy())
    assert all(np.array_equal(c, counts[0]) for c in counts)  # no sampling, no noise
    x = policy.expected_input(obs[None])
    enc = policy.encoder
    assert isinstance(enc, FeatureEncoder)
    np.testing.assert_allclose(x[0].numpy(), enc.probabilities(obs[None]))
    stochastic = []
    for _ in range(20):
        policy.predict(obs, deterministic=False)
        assert policy.last_output is not None
        stochastic.append(policy.last_output.counts.copy())
    assert any(not np.array_equal(c, stochastic[0]) for c in stochastic)


class _StopAt(BaseCallback):
    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def _on_step(self) -> bool:
        return self.num_timesteps < self.at


@pytest.mark.parametrize(("noise_tau", "novelty"), [(0.0, 0.0), (200.0, 0.0), (0.0, 0.5)])
def test_core_stack_save_load_and_resume_exactly(
    tmp_path: Path, noise_tau: float, novelty: float
) -> None:
    """Interrupted, saved, loaded and resumed = run straight (with correlated noise and the
    novelty bonus too: the noise's carried value and the visit counts are saved state)."""

    def venv() -> VecEnv:
        return make_vec_env("CartPole-v1", 1, seed=4)

    def config() -> RSTDPConfig:
        cfg = _cartpole_config(noise_tau=noise_tau)
        learn = LearnConfig(**{**cfg.learn.__dict__, "novelty_bonus": novelty})
        return RSTDPConfig(snn=cfg.snn, learn=learn, features=cfg.features, stack=Stack.CORE)

    straight = RSTDP("SpikingPolicy", venv(), config(), seed=2)
    straight.learn(300)
    first = RSTDP("SpikingPolicy", venv(), config(), seed=2)
    first.learn(300, callback=_StopAt(150))  # interrupted half-way (same lr schedule)
    assert first.num_timesteps == 150
    first.save(tmp_path / "half.zip")
    loaded = RSTDP.load(tmp_path / "half.zip", env=venv())
    assert loaded.config.stack is Stack.CORE and isinstance(loaded.policy, NetworkPolicy)
    w_first = first.policy.network.projection("input->action").weight.detach()
    assert torch.equal(loaded.policy.network.projection("input->action").weight, w_first)
    obs = np.array([0.0, 0.1, -0.02, 0.0], dtype=np.float32)
    first.policy.predict(obs, deterministic=True)
    loaded.policy.predict(obs, deterministic=True)
    assert first.policy.last_output is not None and loaded.policy.last_output is not None
    assert np.array_equal(first.policy.last_output.counts, loaded.policy.last_output.counts)
    resumed = RSTDP.load(tmp_path / "half.zip", env=first.get_env(), force_reset=False)
    resumed.learn(150, reset_num_timesteps=False)
    a = straight.policy.network.projection("input->action").weight.detach()
    b = resumed.policy.network.projection("input->action").weight.detach()
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(straight.learner.critic, resumed.learner.critic, rtol=0, atol=1e-12)


def test_learn_config_rule_follows_lambda() -> None:
    cfg = _cartpole_config()
    learn = LearnConfig(**{**cfg.learn.__dict__, "lam_actor": 0.5})
    env = gym.make("CartPole-v1")
    fmap = make_features(cfg.features, env.observation_space)
    rule = build_population_policy(cfg.snn, learn, fmap, env.observation_space, env.action_space)[
        "rule"
    ]
    t_ms = cfg.snn.sim_steps * cfg.snn.dt
    assert math.exp(-t_ms / rule.tau_z) == pytest.approx(learn.gamma * 0.5)


def test_feature_encoder_sample_is_bernoulli_train() -> None:
    from spikerl.encoders import bernoulli_train

    p = np.random.default_rng(0).random((3, 7))
    a = FeatureEncoder.sample(p, 5, torch.Generator().manual_seed(4))
    b = bernoulli_train(torch.from_numpy(p), 5, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_input_lead_delivers_every_encoded_step_in_its_own_window() -> None:
    """One input neuron, one LIF neuron that fires on every arriving spike: with the lead
    the T encoded spikes are answered at window steps 0..T-1; without it, one step late."""
    from spikerl.core import LIF, DenseProjection, Input, LIFParams, Network
    from spikerl.decoders import PopulationVoteDecoder
    from spikerl.encoders import BernoulliEncoder

    def policy(lead: bool) -> NetworkPolicy:
        net = Network()
        net.add_population("input", Input(1))
        net.add_population("action", LIF(2, LIFParams(tau_mem=20.0, refrac=0.0)))
        w = torch.tensor([[20.0, 0.0]])
        net.connect("input", "action", DenseProjection(1, 2, w))
        enc = BernoulliEncoder(1, 4)
        return NetworkPolicy(
            gym.spaces.Box(0.0, 1.0, (1,)),
            gym.spaces.Discrete(2),
            net,
            enc,
            PopulationVoteDecoder(2, 1),
            ["input->action"],
            input_lead=lead,
        )

    x = torch.tensor([1.0, 0.0, 1.0, 1.0]).reshape(4, 1, 1)
    g = torch.Generator().manual_seed(0)
    # lead: spikes at window steps 0, 2, 3 in both windows; without it the first window
    # sees x[0], x[2] at steps 1, 3 (x[3] still in flight), the second also x[3] at step 0
    for lead, want in ((True, [3, 3]), (False, [2, 3])):
        for backend in ("compiled", "eager"):
            pol = policy(lead)
            pol.backend = backend
            plan = pol.plan(1)
            plan.load_state(None)
            got = [
                int(pol.run_plan(plan, x, g, learn=False, stochastic=False).counts[0, 0])
                for _ in range(2)
            ]
            assert got == want, (lead, backend)


def test_removed_private_stack_is_refused_with_the_reason() -> None:
    """``rstdp.stack=private`` (configs written before the private network went) is one
    error that says it was removed and which settings give its timing and rule."""
    from spikerl.config import ConfigError

    cfg = resolve("CartPole").rstdp
    assert cfg.stack is Stack.CORE
    with pytest.raises(
        ConfigError,
        match=r"rstdp\.stack: 'private' is no longer a value: .*"
        r"removed.*snn\.input_lead=true and learn\.eligibility=window",
    ):
        resolve("CartPole", "rstdp", None, {"rstdp": {"stack": "private"}})


def test_exploration_noise_follows_its_schedule() -> None:
    """``learn.noise_final_fraction = f``: the noise of each learning step is
    ``sigma (f + (1 - f) r)`` with ``r`` the progress remaining after the step (SB3's, as
    for the learning rates), so it ends at ``f sigma``; the currents scale exactly."""
    import dataclasses

    cfg = resolve("CartPole").rstdp
    cfg = dataclasses.replace(cfg, learn=dataclasses.replace(cfg.learn, noise_final_fraction=0.2))
    model = RSTDP("SpikingPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=0), cfg, seed=0)
    seen: list[float] = []

    class Spy(BaseCallback):
        def _on_step(self) -> bool:
            seen.append(model.learner.noise_scale)
            return True

    model.learn(500, callback=Spy())
    t = np.arange(1, 501)
    np.testing.assert_allclose(seen, 0.2 + 0.8 * (1.0 - t / 500), rtol=0, atol=1e-12)
    policy = model.policy
    g = torch.Generator().manual_seed(5)
    full = policy.noise_currents(4, 2, g)["action"]
    g = torch.Generator().manual_seed(5)
    part = policy.noise_currents(4, 2, g, 0.25)["action"]
    assert float(full.abs().max()) > 0.5 and torch.allclose(part, 0.25 * full, rtol=0, atol=1e-12)
    # the default keeps the noise: no schedule
    assert RSTDPConfig().learn.noise_final_fraction == 1.0


def test_correlated_noise_continues_from_the_learners_carry() -> None:
    """``snn.noise_tau = tau``: a learning window's noise is the white draws filtered by
    :func:`spikerl.core.noise.ou_filter` from the previous window's last value, with
    ``a = exp(-dt / tau)`` inside the window and ``exp(-(dt + gap) / tau)`` across the gap;
    ``noise_tau = 0`` draws white noise and carries nothing."""
    from spikerl.core.noise import ou_filter

    tau, gap = 50.0, 10.0
    model = RSTDP(
        "SpikingPolicy",
        make_vec_env("CartPole-v1", n_envs=2, seed=0),
        _cartpole_config(noise_tau=tau, gap=gap),
        seed=0,
    )
    policy, carry = model.policy, model.learner.noise_carry
    assert policy.noise_tau == tau and carry == {}
    sigma = policy.noise["action"]
    g = torch.Generator().manual_seed(3)
    first = policy.noise_currents(4, 2, g, carry=carry)["action"]
    assert torch.equal(carry["action"], first[-1])
    second = policy.noise_currents(4, 2, g, carry=carry)["action"]
    g = torch.Generator().manual_seed(3)
    white = [torch.randn((4, 2, 16), generator=g, dtype=torch.float64) * sigma for _ in range(2)]
    a, a_gap = math.exp(-1.0 / tau), math.exp(-(1.0 + gap) / tau)
    torch.testing.assert_close(first, ou_filter(white[0].clone(), None, a), rtol=0, atol=1e-12)
    want = ou_filter(white[1].clone(), first[-1], a, a_first=a_gap)
    torch.testing.assert_close(second, want, rtol=0, atol=1e-12)
    # within a window consecutive steps are nearly equal (a = 0.98), unlike white noise
    assert float((second[1:] - second[:-1]).abs().mean()) < 0.5 * float(white[1].abs().mean())
    # learning carries the last value from window to window
    model.learn(20)
    assert set(model.learner.noise_carry) == {"action"}
    white_model = RSTDP(
        "SpikingPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), _cartpole_config(), seed=0
    )
    white_model.learn(20)
    assert white_model.policy.noise_tau == 0.0 and white_model.learner.noise_carry == {}
    g = torch.Generator().manual_seed(3)
    torch.testing.assert_close(
        white_model.policy.noise_currents(4, 2, g)["action"], white[0], rtol=0, atol=0
    )


def test_noise_tau_is_checked() -> None:
    from spikerl.config import ConfigError

    with pytest.raises(ConfigError, match="noise_tau"):
        resolve("CartPole", "rstdp", None, {"rstdp": {"snn": {"noise_tau": -1.0}}})
    env = gym.make("CartPole-v1")
    cfg = _cartpole_config()
    parts = build_population_policy(
        cfg.snn, cfg.learn, make_features(cfg.features, env.observation_space),
        env.observation_space, env.action_space,
    )  # fmt: skip
    parts["noise_tau"] = math.nan
    with pytest.raises(ValueError, match="noise_tau must be a finite number of ms >= 0"):
        NetworkPolicy(env.observation_space, env.action_space, **parts)


def test_novelty_bonus_adds_the_pseudo_count_novelty_to_the_reward() -> None:
    """``learn.novelty_bonus = beta``: every update counts the next states' critic features
    and the critic sees ``r + beta nu(s')`` (:func:`spikerl.learning.critic.novelty` of the
    counts so far, this step's included); 0 passes the env's rewards and counts nothing."""
    from spikerl.learning.critic import novelty

    cfg = _cartpole_config()
    learn = LearnConfig(**{**cfg.learn.__dict__, "novelty_bonus": 0.5})
    cfg = RSTDPConfig(snn=cfg.snn, learn=learn, features=cfg.features, stack=Stack.CORE)
    model = RSTDP("SpikingPolicy", make_vec_env("CartPole-v1", 2, seed=0), cfg, seed=0)
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    td = model.learner.td
    original = td.td_error

    def spy(w, phi, phi_next, rewards, terminated, mask=None):  # type: ignore[no-untyped-def]
        seen.append((np.array(phi_next), np.array(rewards, dtype=np.float64)))
        return original(w, phi, phi_next, rewards, terminated, mask)

    object.__setattr__(td, "td_error", spy)
    model.learn(60)
    counts = np.zeros_like(model.learner.visits)
    for phi_next, rewards in seen:
        counts += phi_next.sum(axis=0)
        want = 1.0 + 0.5 * novelty(counts, phi_next)  # CartPole pays 1 per step
        np.testing.assert_allclose(rewards, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.learner.visits, counts, rtol=0, atol=1e-9)
    assert len(seen) == 30 and float(counts.sum()) > 0
    plain = RSTDP("SpikingPolicy", make_vec_env("CartPole-v1", 2, seed=0), _cartpole_config())
    plain.learn(20)
    assert not plain.learner.visits.any()


def test_novelty_golden_values_and_checks() -> None:
    """By hand: counts (0, 3, 8), so 1 / sqrt(1 + n) = (1, 1/2, 1/3); a state on field 0
    only: 1; on fields 1 and 2: (1/2 + 1/3) / 2 = 5/12; half on fields 0 and 1: 3/4."""
    from spikerl.config import ConfigError
    from spikerl.learning.critic import count_features, novelty

    counts = np.array([0.0, 3.0, 8.0])
    phi = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(novelty(counts, phi), [1.0, 5.0 / 12.0, 0.75], atol=1e-15)
    count_features(counts, phi)
    np.testing.assert_allclose(counts, [1.5, 4.5, 9.0], atol=1e-15)
    assert novelty(counts, np.zeros((1, 3)))[0] == 0.0  # no activity, no bonus
    with pytest.raises(ConfigError, match="novelty_bonus"):
        resolve("CartPole", "rstdp", None, {"rstdp": {"learn": {"novelty_bonus": -0.1}}})
    with pytest.raises(ValueError, match=r"learn\.novelty_bonus must be a finite number"):
        LearnConfig(novelty_bonus=math.inf)
