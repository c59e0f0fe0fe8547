"""Spiking SB3 policies: registration, training under PPO/A2C/DQN, save/load, gradients."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv
from torch import Tensor

import spikerl.agents  # noqa: F401  (registers the policy names)
from spikerl.agents.persistence import load_model, save_model
from spikerl.agents.sb3 import (
    Backend,
    Encoding,
    Readout,
    SpikingActorCriticCnnPolicy,
    SpikingActorCriticPolicy,
    SpikingCnnExtractor,
    SpikingConfig,
    SpikingDQNCnnPolicy,
    SpikingDQNPolicy,
    SpikingMlpExtractor,
    config_from_dict,
    config_to_dict,
)
from spikerl.agents.sb3.extractors import membrane_weights
from spikerl.agents.sb3.factory import (
    load_sb3_preset,
    make_sb3_model,
    policy_kwargs_from_dict,
    policy_kwargs_to_dict,
    sb3_vec_env,
)
from spikerl.core.neurons.base import Reset
from spikerl.core.neurons.lif import LIFParams
from spikerl.learning.surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, sigmoid_derivative
from spikerl.models.surrogate import LeakyReadout

CARTPOLE_OBS = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)


def _cartpole(n: int = 2, seed: int = 0) -> VecEnv:
    return make_vec_env("CartPole-v1", n_envs=n, seed=seed)


def _breakout(n: int = 1, seed: int = 0) -> VecEnv:
    return sb3_vec_env("Breakout", n, seed, {"atari.frame_stack": 4})


def _params(model: BaseAlgorithm) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.policy.state_dict().items()}


def _first_layer(model: BaseAlgorithm) -> str:
    names = [k for k in model.policy.state_dict() if "features_extractor" in k and "weight" in k]
    return names[0]


# --------------------------------------------------------------------------- registration


def test_policy_names_are_registered_with_sb3() -> None:
    assert PPO.policy_aliases["SpikingMlpPolicy"] is SpikingActorCriticPolicy
    assert A2C.policy_aliases["SpikingMlpPolicy"] is SpikingActorCriticPolicy
    assert PPO.policy_aliases["SpikingCnnPolicy"] is SpikingActorCriticCnnPolicy
    assert DQN.policy_aliases["SpikingMlpPolicy"] is SpikingDQNPolicy
    assert DQN.policy_aliases["SpikingCnnPolicy"] is SpikingDQNCnnPolicy
    # SB3's own names are untouched
    assert PPO.policy_aliases["MlpPolicy"].__name__ == "ActorCriticPolicy"


def test_policy_class_can_be_passed_directly() -> None:
    model = PPO(SpikingActorCriticPolicy, _cartpole(), policy_kwargs={"layers": [8]})
    assert isinstance(model.policy.pi_features_extractor, SpikingMlpExtractor)
    assert model.policy.pi_features_extractor is not model.policy.vf_features_extractor


# --------------------------------------------------------------------------- training


def _learns(model: BaseAlgorithm, steps: int) -> None:
    before = _params(model)
    first = _first_layer(model)
    model.learn(total_timesteps=steps)
    after = _params(model)
    assert model.num_timesteps >= steps
    # every trainable tensor of the spiking layers moved (gradients reached the first layer)
    assert not torch.equal(before[first], after[first])
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any("features_extractor" in k for k in changed)


@pytest.mark.parametrize(
    ("algo", "kwargs"),
    [
        (PPO, {"n_steps": 64, "batch_size": 64, "n_epochs": 2}),
        (A2C, {"n_steps": 8}),
        (DQN, {"learning_starts": 64, "train_freq": 8, "batch_size": 32, "buffer_size": 1000}),
    ],
)
def test_spiking_mlp_policy_trains_under_each_algorithm(
    algo: type[BaseAlgorithm], kwargs: dict[str, Any]
) -> None:
    env = _cartpole(2 if algo is not DQN else 1)
    model = algo("SpikingMlpPolicy", env, seed=0, policy_kwargs={"layers": [16, 16]}, **kwargs)
    _learns(model, 300)


@pytest.mark.parametrize(
    ("algo", "kwargs"),
    [
        (PPO, {"n_steps": 64, "batch_size": 32, "n_epochs": 1}),
        (A2C, {"n_steps": 16}),
        (DQN, {"learning_starts": 100, "train_freq": 16, "batch_size": 16, "buffer_size": 400}),
    ],
)
def test_spiking_cnn_policy_trains_on_breakout(
    algo: type[BaseAlgorithm], kwargs: dict[str, Any]
) -> None:
    model = algo(
        "SpikingCnnPolicy",
        _breakout(),
        seed=0,
        policy_kwargs={"features_dim": 32, "time_steps": 2},
        **kwargs,
    )
    extractor = model.policy.features_extractor
    if algo is DQN:
        extractor = model.policy.q_net.features_extractor
    assert isinstance(extractor, SpikingCnnExtractor)
    _learns(model, 200)


# --------------------------------------------------------------------------- save / load


@pytest.mark.parametrize("algo", [PPO, A2C, DQN])
def test_save_load_round_trip_gives_identical_actions(
    algo: type[BaseAlgorithm], tmp_path: Path
) -> None:
    env = _cartpole(1)
    pk = {"layers": [16, 8], "time_steps": 3, "surrogate": FastSigmoid(10.0)}
    pk |= {
        "readout": Readout.SPIKE_COUNT,
        "neuron": LIFParams(
            tau_mem=4.0, v_rest=0.0, v_reset=0.0, v_thresh=0.5, refrac=0.0, reset=Reset.HARD
        ),
    }
    model = algo("SpikingMlpPolicy", env, seed=3, policy_kwargs=pk)
    model.learn(200)
    save_model(model, tmp_path / "m.zip")
    loaded = load_model(algo, tmp_path / "m.zip", env=env)
    obs = np.random.default_rng(0).normal(0.0, 1.0, size=(200, 4)).astype(np.float32)
    a1, _ = model.predict(obs, deterministic=True)
    a2, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    assert len(set(a1.tolist())) == 2  # a real decision, not one constant action
    policy: Any = loaded.policy
    ex = policy.q_net.features_extractor if algo is DQN else policy.pi_features_extractor
    assert ex.config.surrogate == FastSigmoid(10.0)
    assert ex.config.readout is Readout.SPIKE_COUNT
    assert ex.config.neuron.reset is Reset.HARD


def test_factory_model_with_schedules_saves_and_loads(tmp_path: Path) -> None:
    preset = load_sb3_preset("ppo", "CartPole")
    env = _cartpole(8)
    model = make_sb3_model(
        "ppo",
        env,
        0,
        "SpikingMlpPolicy",
        preset["sb3"]["hyperparams"],
        preset["sb3"]["policy_kwargs"],
    )
    assert model.n_steps == 32 and model.n_epochs == 20
    assert model.learning_rate(0.5) == pytest.approx(5e-4)
    save_model(model, tmp_path / "p.zip")
    loaded = load_model(PPO, tmp_path / "p.zip", env=env)
    obs = np.random.default_rng(1).normal(size=(64, 4)).astype(np.float32)
    np.testing.assert_array_equal(
        model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0]
    )


# --------------------------------------------------------------------------- policy_kwargs


def test_unknown_policy_kwargs_are_refused() -> None:
    with pytest.raises(TypeError, match="tme_steps"):
        PPO("SpikingMlpPolicy", _cartpole(), policy_kwargs={"tme_steps": 4})
    with pytest.raises(TypeError, match="bogus"):
        DQN(
            "SpikingMlpPolicy",
            _cartpole(1),
            policy_kwargs={"features_extractor_kwargs": {"bogus": 1}},
        )
    with pytest.raises(TypeError, match="features_dim"):
        PPO("SpikingMlpPolicy", _cartpole(), policy_kwargs={"features_dim": 4})
    with pytest.raises(TypeError, match="given both"):
        PPO(
            "SpikingMlpPolicy",
            _cartpole(),
            policy_kwargs={"time_steps": 2, "features_extractor_kwargs": {"time_steps": 3}},
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"time_steps": 0}, ValueError, "time_steps"),
        ({"surrogate": "atan"}, TypeError, "Surrogate object"),
        ({"readout": "membrane"}, TypeError, "Readout.MEMBRANE"),
        ({"layers": []}, ValueError, "layer sizes"),
        ({"encoding": Encoding.RATE}, ValueError, "finite bounds"),
    ],
)
def test_bad_settings_raise_clear_errors(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        SpikingMlpExtractor(CARTPOLE_OBS, **kwargs)


def test_cnn_extractor_refuses_vectors() -> None:
    with pytest.raises(ValueError, match="image observation space"):
        SpikingCnnExtractor(CARTPOLE_OBS)


def test_fused_backend_says_why_it_cannot_run() -> None:
    ex = SpikingMlpExtractor(CARTPOLE_OBS, backend=Backend.FUSED, neuron=LIFParams())
    with pytest.raises(RuntimeError, match="refractory"):
        ex(torch.zeros(2, 4))


def test_config_and_policy_kwargs_round_trip_through_plain_values() -> None:
    config = SpikingConfig(
        time_steps=7,
        surrogate=Sigmoid(3.0),
        readout=Readout.SPIKE_COUNT,
        encoding=Encoding.RATE,
        backend=Backend.EAGER,
        tau_out=math.inf,
        detach_reset=True,
    )
    plain = config_to_dict(config)
    assert plain["surrogate"] == {"kind": "Sigmoid", "slope": 3.0}
    assert plain["tau_out"] == "inf" and plain["readout"] == "spike_count"
    assert config_from_dict(plain) == config
    pk = {"layers": [8, 4], "surrogate": ATan(1.5), "net_arch": [], "time_steps": 2}
    assert policy_kwargs_from_dict(policy_kwargs_to_dict(pk)) == pk
    with pytest.raises(ValueError, match="surrogate kind"):
        config_from_dict({"surrogate": {"kind": "Magic"}})


# --------------------------------------------------------------------------- semantics


def test_membrane_weights_hand_computed_and_equal_to_leaky_readout() -> None:
    a = math.exp(-1.0 / 20.0)
    w = membrane_weights(2, 20.0, 1.0)
    # u0 = s0, u1 = a s0 + s1 -> mean = s0 (1 + a) / 2 + s1 / 2
    torch.testing.assert_close(w, torch.tensor([(1 + a) / 2, 0.5], dtype=torch.float64))
    torch.testing.assert_close(
        membrane_weights(3, math.inf, 1.0), torch.tensor([1.0, 2 / 3, 1 / 3], dtype=torch.float64)
    )
    spikes = torch.bernoulli(
        torch.full((5, 3, 6), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(0)
    )
    ref = LeakyReadout(7.0, 1.0)(spikes)
    torch.testing.assert_close(torch.tensordot(membrane_weights(5, 7.0, 1.0), spikes, dims=1), ref)


def test_heads_read_mean_membrane_of_leaky_output_neurons() -> None:
    """Linear head on the membrane features == LeakyReadout of the head's per-step output
    (minus the bias, which the readout integrates as a constant)."""
    torch.manual_seed(0)
    ex = SpikingMlpExtractor(
        CARTPOLE_OBS, layers=[12], time_steps=5, tau_out=6.0, backend=Backend.EAGER
    ).double()
    head = torch.nn.Linear(12, 2).double()
    obs = torch.randn(7, 4, dtype=torch.float64) * 3
    spikes: list[Tensor] = []
    hook = ex.lifs[0].register_forward_hook(lambda m, i, o: spikes.append(o[0]))
    feats = ex(obs)
    hook.remove()
    s = torch.stack(spikes)  # [T, B, 12]
    assert s.sum() > 0
    membrane = LeakyReadout(6.0, 1.0)(s @ head.weight.T)  # output neurons without bias
    torch.testing.assert_close(feats @ head.weight.T, membrane)


def test_spike_count_readout_counts_spikes() -> None:
    ex = SpikingMlpExtractor(CARTPOLE_OBS, layers=[32], time_steps=6, readout=Readout.SPIKE_COUNT)
    out = ex(torch.randn(10, 4) * 4)
    assert torch.equal(out, out.round()) and out.min() >= 0 and out.max() <= 6 and out.max() > 0


def test_state_resets_per_call_and_batch_rows_are_independent() -> None:
    torch.manual_seed(1)
    ex = SpikingMlpExtractor(CARTPOLE_OBS, layers=[16, 16], time_steps=4)
    obs = torch.randn(6, 4) * 3
    with torch.no_grad():
        first, again = ex(obs), ex(obs)
        rows = torch.cat([ex(obs[i : i + 1]) for i in range(6)])
    assert torch.equal(first, again)
    torch.testing.assert_close(first, rows)


def test_rate_encoding_on_a_bounded_space_is_seeded() -> None:
    space = gym.spaces.Box(0.0, 2.0, (5,), np.float32)
    ex = SpikingMlpExtractor(space, layers=[8], time_steps=8, encoding=Encoding.RATE)
    obs = torch.full((3, 5), 2.0)
    torch.manual_seed(0)
    a = ex(obs)
    torch.manual_seed(0)
    b = ex(obs)
    assert torch.equal(a, b)
    # p = 1 at the upper bound: the first layer sees the same input at every step
    torch.manual_seed(5)
    torch.testing.assert_close(ex(obs), a)


# --------------------------------------------------------------------------- gradients


@dataclass(frozen=True)
class SmoothSpike(Surrogate):
    """A smooth spike ``sigma(k x)`` in the forward pass too: the network is then a smooth
    function whose exact gradient finite differences can check. Its backward is the
    :class:`Sigmoid` surrogate's ``g``, so the extractor's BPTT plumbing (time, layers,
    resets, readout) is what the check tests."""

    slope: float = 2.0

    def derivative(self, x: Tensor) -> Tensor:
        return sigmoid_derivative(x, self.slope)

    def spike(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.slope * x)


@pytest.mark.parametrize("readout", [Readout.MEMBRANE, Readout.SPIKE_COUNT])
@pytest.mark.parametrize("reset", [Reset.SOFT, Reset.HARD])
def test_extractor_gradients_match_finite_differences(readout: Readout, reset: Reset) -> None:
    torch.manual_seed(0)
    neuron = LIFParams(tau_mem=3.0, v_rest=0.0, v_reset=0.0, v_thresh=1.0, refrac=0.0, reset=reset)
    ex = SpikingMlpExtractor(
        CARTPOLE_OBS,
        layers=[4, 3],
        time_steps=3,
        neuron=neuron,
        surrogate=SmoothSpike(2.0),
        readout=readout,
    ).double()
    obs = (torch.randn(2, 4, dtype=torch.float64) * 2).requires_grad_()
    params = tuple(ex.parameters())
    inputs = (obs, *(p.detach().clone().requires_grad_() for p in params))
    assert torch.autograd.gradcheck(
        lambda x, *ps: torch.func.functional_call(
            ex, {n: v for (n, _), v in zip(ex.named_parameters(), ps, strict=True)}, (x,)
        ),
        inputs,
        eps=1e-6,
        atol=1e-6,
    )


def test_fused_surrogate_gradient_golden_value() -> None:
    """With the Heaviside forward, the gradient of a one-step, one-layer extractor is
    ``g(v - thresh) * w_readout * x`` by hand (golden value for the fused path)."""
    ex = SpikingMlpExtractor(
        gym.spaces.Box(-1, 1, (1,), np.float32),
        layers=[1],
        time_steps=1,
        surrogate=Sigmoid(4.0),
        readout=Readout.SPIKE_COUNT,
        backend=Backend.FUSED,
    ).double()
    with torch.no_grad():
        ex.linears[0].weight.fill_(0.7)
        ex.linears[0].bias.fill_(0.2)
    x = torch.tensor([[1.5]], dtype=torch.float64)
    out = ex(x)  # v = 0.7 * 1.5 + 0.2 = 1.25 >= 1 -> one spike
    out.sum().backward()
    g = float(sigmoid_derivative(torch.tensor(0.25, dtype=torch.float64), 4.0))
    assert float(out.detach()) == 1.0
    assert float(ex.linears[0].weight.grad) == pytest.approx(g * 1.5, rel=1e-12)
    assert float(ex.linears[0].bias.grad) == pytest.approx(g, rel=1e-12)


def _policy_pair(
    make: Callable[[Backend], BaseAlgorithm],
) -> tuple[BaseAlgorithm, BaseAlgorithm]:
    return make(Backend.FUSED), make(Backend.EAGER)


def _grads(policy: Any, loss: Tensor) -> dict[str, Tensor]:
    policy.optimizer.zero_grad()
    loss.backward()
    return {n: p.grad.clone() for n, p in policy.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("policy", ["SpikingMlpPolicy", "SpikingCnnPolicy"])
def test_fused_and_eager_give_same_outputs_and_gradients_in_a_policy(policy: str) -> None:
    cnn = policy == "SpikingCnnPolicy"
    env = _breakout() if cnn else _cartpole()
    pk: dict[str, Any] = {"features_dim": 64} if cnn else {"layers": [32, 32]}

    def make(backend: Backend) -> BaseAlgorithm:
        return PPO(policy, env, seed=7, policy_kwargs=pk | {"backend": backend, "time_steps": 4})

    fused, eager = _policy_pair(make)
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            fused.policy.state_dict().values(), eager.policy.state_dict().values(), strict=True
        )
    )
    rng = np.random.default_rng(0)
    if cnn:
        obs_np = rng.integers(0, 256, size=(6, 4, 84, 84)).astype(np.uint8)
    else:
        obs_np = rng.normal(0, 1, size=(16, 4)).astype(np.float32)
    obs = fused.policy.obs_to_tensor(obs_np)[0]
    actions = torch.as_tensor(rng.integers(0, env.action_space.n, size=len(obs_np)))
    out_f = fused.policy.evaluate_actions(obs, actions)
    out_e = eager.policy.evaluate_actions(obs, actions)
    for a, b in zip(out_f, out_e, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    loss_f = (out_f[0] ** 2).mean() - out_f[1].mean()
    loss_e = (out_e[0] ** 2).mean() - out_e[1].mean()
    gf, ge = _grads(fused.policy, loss_f), _grads(eager.policy, loss_e)
    assert gf.keys() == ge.keys()
    first = next(k for k in gf if "features_extractor" in k)
    assert gf[first].abs().sum() > 0  # gradient reached the first spiking layer
    for k in gf:
        torch.testing.assert_close(gf[k], ge[k], rtol=1e-4, atol=1e-6, msg=k)
