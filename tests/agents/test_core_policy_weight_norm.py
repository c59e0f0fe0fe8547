"""``learn.weight_norm`` in the parts policy: each plastic projection's column means held at
their construction values (ColumnMean), saved with the model, refused where it cannot hold."""

from __future__ import annotations

import dataclasses
import pathlib

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from spikerl.agents import RSTDP
from spikerl.agents.core_policy import NetworkPolicy
from spikerl.agents.rstdp import RSTDPConfig
from spikerl.core import LIF, DenseProjection, Input, LateralProjection, Network, Uniform
from spikerl.core.projections import Sign
from spikerl.decoders import PopulationVoteDecoder
from spikerl.encoders import GaussianPopulationEncoder
from spikerl.learning import ColumnMean

PLASTIC = ("input->hidden", "hidden->action")


class _StopAt(BaseCallback):
    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def _on_step(self) -> bool:
        return self.num_timesteps < self.at


def _parts(seed: int = 0, **hidden_action: object) -> dict[str, object]:
    """A float64 input -> 16 hidden -> 2 x 4 action network (float64: column means to 1e-9)."""
    g = torch.Generator().manual_seed(seed)
    enc = GaussianPopulationEncoder(
        [-2.4, -3.0, -0.21, -3.5], [2.4, 3.0, 0.21, 3.5], neurons_per_dim=8, time_steps=8
    )
    net = Network(dt=1.0)
    net.add_population("input", Input(enc.output_size))
    net.add_population("hidden", LIF(16))
    net.add_population("action", LIF(8))
    net.connect(
        "input",
        "hidden",
        DenseProjection(enc.output_size, 16, Uniform(0, 4.0), wmin=-20, wmax=20, generator=g),
    )
    net.connect(
        "hidden",
        "action",
        DenseProjection(16, 8, Uniform(0, 8.0), wmin=-20, wmax=20, generator=g, **hidden_action),  # type: ignore[arg-type]
    )
    net.connect("action", "action", LateralProjection.inhibition(8, strength=2.0))
    net.to(torch.float64)
    return dict(
        network=net,
        encoder=enc,
        decoder=PopulationVoteDecoder(2, 4),
        plastic=list(PLASTIC),
    )


def _config(weight_norm: bool) -> RSTDPConfig:
    cfg = RSTDPConfig()
    return dataclasses.replace(cfg, learn=dataclasses.replace(cfg.learn, weight_norm=weight_norm))


def _weights(model: RSTDP) -> list[torch.Tensor]:
    net = model.policy.network  # type: ignore[attr-defined]
    return [net.projection(n).weight.detach().clone() for n in PLASTIC]


def test_weight_norm_holds_every_plastic_column_at_its_initial_mean() -> None:
    runs = {}
    for on in (False, True):
        parts = _parts()
        net = parts["network"]
        assert isinstance(net, Network)
        mu0 = [net.projection(n).weight.detach().mean(dim=0).clone() for n in PLASTIC]
        model = RSTDP(
            "SpikingPolicy", gym.make("CartPole-v1"), _config(on), policy_kwargs=parts, seed=0
        )
        assert len(model.learner.column_means) == (2 if on else 0)  # type: ignore[attr-defined]
        model.learn(300)
        runs[on] = _weights(model)
        for name, w, m0 in zip(PLASTIC, runs[on], mu0, strict=True):
            assert w.dtype == torch.float64 and bool((w.abs() < 20).all()), name  # no clip
            drift = float((w.mean(dim=0) - m0).abs().max())
            if on:
                assert drift < 1e-9, (name, drift)
            else:
                assert drift > 1e-3, (name, drift)  # without it the columns move
    for off, on in zip(runs[False], runs[True], strict=True):
        assert not torch.equal(off, on)


def test_weight_norm_targets_round_trip_and_resume_exactly(tmp_path: pathlib.Path) -> None:
    straight = RSTDP(
        "SpikingPolicy",
        make_vec_env("CartPole-v1", 1, seed=4),
        _config(True),
        policy_kwargs=_parts(),
        seed=2,
    )
    mu0 = [straight.policy.get_buffer(f"column_mean_{i}").clone() for i in range(2)]
    straight.learn(160)
    first = RSTDP(
        "SpikingPolicy",
        make_vec_env("CartPole-v1", 1, seed=4),
        _config(True),
        policy_kwargs=_parts(),
        seed=2,
    )
    first.learn(160, callback=_StopAt(80))
    assert first.num_timesteps == 80
    first.save(tmp_path / "half.zip")
    # other initial weights: their column means differ, the saved targets must win
    loaded = RSTDP.load(tmp_path / "half.zip", custom_objects={"policy_kwargs": _parts(seed=9)})
    assert isinstance(loaded.policy, NetworkPolicy) and loaded.policy.weight_norm
    for i in range(2):
        torch.testing.assert_close(
            loaded.policy.get_buffer(f"column_mean_{i}"), mu0[i], rtol=0, atol=0
        )
    obs = np.stack([gym.make("CartPole-v1").reset(seed=s)[0] for s in range(20)])
    first.policy.generator.manual_seed(11)  # type: ignore[union-attr]
    loaded.policy.generator.manual_seed(11)
    np.testing.assert_array_equal(
        first.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0]
    )
    resumed = RSTDP.load(
        tmp_path / "half.zip",
        env=first.get_env(),
        force_reset=False,
        custom_objects={"policy_kwargs": _parts(seed=9)},
    )
    resumed.learn(80, reset_num_timesteps=False)
    for name, a, b in zip(PLASTIC, _weights(straight), _weights(resumed), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12, msg=name)
        drift = float((b.mean(dim=0) - mu0[PLASTIC.index(name)]).abs().max())
        assert drift < 1e-9, (name, drift)
    np.testing.assert_allclose(straight.learner.critic, resumed.learner.critic, rtol=0, atol=1e-12)


def test_a_state_dict_without_targets_takes_them_from_its_weights() -> None:
    """Models saved before the targets were kept load, with the saved weights' means."""
    model = RSTDP(
        "SpikingPolicy", gym.make("CartPole-v1"), _config(True), policy_kwargs=_parts(), seed=0
    )
    model.learn(60)
    saved = {k: v for k, v in model.policy.state_dict().items() if "column_mean" not in k}
    policy = RSTDP(
        "SpikingPolicy",
        gym.make("CartPole-v1"),
        _config(True),
        policy_kwargs=_parts(seed=3),
        seed=0,
    ).policy
    policy.load_state_dict(saved)
    for i, name in enumerate(PLASTIC):
        w = model.policy.network.projection(name).weight.detach()  # type: ignore[attr-defined]
        torch.testing.assert_close(policy.get_buffer(f"column_mean_{i}"), w.mean(dim=0))


def test_weight_norm_off_adds_no_state() -> None:
    model = RSTDP(
        "SpikingPolicy", gym.make("CartPole-v1"), _config(False), policy_kwargs=_parts(), seed=0
    )
    assert not any("column_mean" in k for k in model.policy.state_dict())
    assert model.learner.column_means == []  # type: ignore[attr-defined]


def test_weight_norm_refuses_a_projection_it_cannot_normalise() -> None:
    env = gym.make("CartPole-v1")
    lateral = {**_parts(), "plastic": [*PLASTIC, "action->action"]}
    with pytest.raises(ValueError, match=r"'action->action'.*supported: a DenseProjection"):
        RSTDP("SpikingPolicy", env, _config(True), policy_kwargs=lateral)
    signed = _parts(sign=Sign.EXCITATORY)
    with pytest.raises(ValueError, match=r"'hidden->action'.*sign constraint"):
        RSTDP("SpikingPolicy", env, _config(True), policy_kwargs=signed)
    # without weight_norm the same parts train
    RSTDP("SpikingPolicy", env, _config(False), policy_kwargs=lateral)


def test_the_cartpole_preset_with_a_configured_network_normalises() -> None:
    from spikerl.agents.presets import load_agent_preset
    from spikerl.models.rstdp_network import HiddenLayerNetworkConfig

    cfg = load_agent_preset("rstdp", "CartPole")
    assert cfg.learn.weight_norm
    net = HiddenLayerNetworkConfig(hidden=8, per_action=2, time_steps=4)
    model = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), dataclasses.replace(cfg, network=net))
    assert isinstance(model.policy, NetworkPolicy) and model.policy.weight_norm
    assert len(model.learner.column_means) == 2  # type: ignore[attr-defined]


def test_column_mean_takes_one_target_per_unit() -> None:
    proj = DenseProjection(4, 3, torch.arange(12.0).reshape(4, 3) - 4, wmin=-3.0, wmax=6.0)
    w0 = proj.weight.detach().clone()
    target = torch.tensor([-1.0, 2.0, 3.0])
    ColumnMean(target).constrain_(proj)
    want = (w0 + target - w0.mean(dim=0)).clamp(-3.0, 6.0)
    torch.testing.assert_close(proj.weight.detach(), want, rtol=0, atol=0)
    with pytest.raises(ValueError, match="3 target units"):
        ColumnMean(torch.zeros(2)).constrain_(proj)
    with pytest.raises(ValueError, match="finite 1-D"):
        ColumnMean(torch.zeros(2, 2))


def test_weight_std_max_caps_every_column_spread_while_learning() -> None:
    """``learn.weight_std_max``: after learning, every plastic column keeps its initial mean
    and a spread of at most the cap (the uncapped run's columns spread past it)."""
    cap = 1.2
    spreads = {}
    for on in (False, True):
        cfg = _config(True)
        if on:
            cfg = dataclasses.replace(cfg, learn=dataclasses.replace(cfg.learn, weight_std_max=cap))
        parts = _parts()
        net = parts["network"]
        assert isinstance(net, Network)
        mu0 = [net.projection(n).weight.detach().mean(dim=0).clone() for n in PLASTIC]
        model = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), cfg, policy_kwargs=parts, seed=0)
        model.learn(300)
        ws = _weights(model)
        spreads[on] = [float(w.std(dim=0, unbiased=False).max()) for w in ws]
        for w, m0 in zip(ws, mu0, strict=True):
            assert float((w.mean(dim=0) - m0).abs().max()) < 1e-9
    assert max(spreads[True]) <= cap + 1e-9
    assert max(spreads[False]) > cap  # the cap did something


def test_weight_std_max_needs_weight_norm() -> None:
    from spikerl.agents.config import LearnConfig

    with pytest.raises(ValueError, match=r"set learn\.weight_norm=true"):
        LearnConfig(weight_std_max=1.0)
    with pytest.raises(ValueError, match="finite number >= 0"):
        LearnConfig(weight_norm=True, weight_std_max=-1.0)
