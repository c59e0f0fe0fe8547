"""A user's core Network trained by RSTDP and the Pipeline: policy made of parts."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

from spikerl.agents import RSTDP
from spikerl.agents.core_policy import NetworkLearner, NetworkPolicy
from spikerl.core import Network
from spikerl.pipeline import Pipeline

from .parts import small_parts


class _StopAt(BaseCallback):
    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def _on_step(self) -> bool:
        return self.num_timesteps < self.at


def test_user_network_trains_through_rstdp() -> None:
    parts = small_parts()
    net = parts["network"]
    assert isinstance(net, Network)
    w0 = [net.projection(n).weight.detach().clone() for n in ("input->hidden", "hidden->action")]
    model = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), policy_kwargs=parts, seed=0)
    assert isinstance(model.policy, NetworkPolicy) and model.policy.output == "action"
    assert isinstance(model.learner, NetworkLearner)
    model.learn(200)
    for name, before in zip(("input->hidden", "hidden->action"), w0):
        after = net.projection(name).weight.detach()
        assert torch.isfinite(after).all() and not torch.equal(after, before), name
    obs, _ = gym.make("CartPole-v1").reset(seed=0)
    action, state = model.predict(obs, deterministic=True)
    assert int(action) in (0, 1) and state is not None
    last = model.policy.last_output
    assert last is not None and last.counts.shape == (1, 2)


def test_same_seed_same_weights() -> None:
    def run() -> torch.Tensor:
        parts = small_parts()
        RSTDP("SpikingPolicy", gym.make("CartPole-v1"), policy_kwargs=parts, seed=3).learn(100)
        net = parts["network"]
        assert isinstance(net, Network)
        return net.projection("hidden->action").weight.detach().clone()

    torch.testing.assert_close(run(), run(), rtol=0, atol=0)


def test_pipeline_runs_a_parts_policy() -> None:
    model = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), policy_kwargs=small_parts(), seed=0)
    res = Pipeline(gym.make("CartPole-v1"), model, log_every=10**9).run(150, seed=0)
    assert res.steps == 150
    assert np.isfinite(model.learner.critic).all()


def test_policy_kwargs_are_honoured_or_refused() -> None:
    env = gym.make("CartPole-v1")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['hidden_sizes'\]"):
        RSTDP("SpikingPolicy", env, policy_kwargs=dict(hidden_sizes=[64]))
    bad = {**small_parts(), "plastic": ["input->nowhere"]}
    with pytest.raises((KeyError, ValueError)):
        RSTDP("SpikingPolicy", env, policy_kwargs=bad)
    with pytest.raises(ValueError, match="unknown key"):
        RSTDP("SpikingPolicy", env, policy_kwargs={**small_parts(), "lr": 1.0})
    from spikerl.agents import SNNConfig

    snn = SNNConfig(n_per_action=3)
    model = RSTDP("SpikingPolicy", env, policy_kwargs=dict(snn=snn))
    n_out = model.policy.network.populations["action"].n  # type: ignore[attr-defined]
    assert n_out == 6 and model.config.snn.n_per_action == 3


def test_save_load_round_trip_with_the_architecture_from_the_caller(tmp_path: object) -> None:
    import pathlib

    folder = pathlib.Path(str(tmp_path))
    parts = small_parts(seed=0)
    model = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), policy_kwargs=parts, seed=0)
    model.learn(100)
    model.save(folder / "parts.zip")
    fresh = small_parts(seed=5)  # same architecture, other initial weights
    loaded = RSTDP.load(folder / "parts.zip", custom_objects={"policy_kwargs": fresh})
    assert isinstance(loaded.policy, NetworkPolicy)
    for name in ("input->hidden", "hidden->action"):
        a = model.policy.network.projection(name).weight.detach()
        b = loaded.policy.network.projection(name).weight.detach()
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    obs = np.stack([gym.make("CartPole-v1").reset(seed=s)[0] for s in range(20)])
    model.policy.generator.manual_seed(11)
    loaded.policy.generator.manual_seed(11)
    a1, _ = model.predict(obs, deterministic=True)
    a2, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(a1, a2)


def test_resume_of_a_parts_policy_is_exact(tmp_path: object) -> None:
    import pathlib

    from stable_baselines3.common.env_util import make_vec_env

    folder = pathlib.Path(str(tmp_path))
    straight_parts = small_parts()
    straight = RSTDP(
        "SpikingPolicy",
        make_vec_env("CartPole-v1", 1, seed=4),
        policy_kwargs=straight_parts,
        seed=2,
    )
    straight.learn(160)
    first = RSTDP(
        "SpikingPolicy", make_vec_env("CartPole-v1", 1, seed=4), policy_kwargs=small_parts(), seed=2
    )
    first.learn(160, callback=_StopAt(80))  # interrupted half-way (same lr schedule)
    assert first.num_timesteps == 80
    first.save(folder / "half.zip")
    resumed = RSTDP.load(
        folder / "half.zip",
        env=first.get_env(),
        force_reset=False,
        custom_objects={"policy_kwargs": small_parts(seed=9)},
    )
    resumed.learn(80, reset_num_timesteps=False)
    for name in ("input->hidden", "hidden->action"):
        a = straight.policy.network.projection(name).weight.detach()
        b = resumed.policy.network.projection(name).weight.detach()
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(straight.learner.critic, resumed.learner.critic, rtol=0, atol=1e-12)


def test_cli_trains_a_configured_network_and_resumes(tmp_path: object) -> None:
    import json
    import pathlib

    from spikerl.cli import main

    folder = pathlib.Path(str(tmp_path))
    cfg = folder / "net.yaml"
    cfg.write_text(
        "eval_freq: 0\nfinal_eval_episodes: 1\ncheckpoint_freq: 100\n"
        "rstdp:\n  network:\n    hidden: 8\n    per_action: 2\n    time_steps: 4\n"
        "    low: [-2.4, -3.0, -0.21, -3.5]\n    high: [2.4, 3.0, 0.21, 3.5]\n"
    )
    runs = folder / "runs"
    args = ["train", "--env", "CartPole-v1", "--config", str(cfg), "--timesteps", "200"]
    assert main([*args, "--runs-dir", str(runs), "--quiet"]) == 0
    (run,) = runs.iterdir()
    saved = (run / "config.yaml").read_text()
    assert "hidden: 8" in saved and run.name.startswith("CartPole__")
    assert main(["train", "--resume", str(run), "--timesteps", "300", "--quiet"]) == 0
    assert json.loads((run / "eval.json").read_text())["timesteps"] == 300
    assert main(["eval", str(run), "--episodes", "1"]) == 0


def test_compiled_and_eager_backends_learn_the_same_weights() -> None:
    """The parts policy on the compiled plan and on the eager torch reference: same spikes,
    so the same eligibility and weight changes (float64, 150 env steps)."""
    from spikerl.core.backends import CompiledPlan, EagerPlan

    def run(backend: str) -> tuple[list[torch.Tensor], RSTDP]:
        parts = small_parts(seed=1)
        net = parts["network"]
        assert isinstance(net, Network)
        net.to(torch.float64)
        kw = {**parts, "backend": backend}
        model = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), policy_kwargs=kw, seed=1)
        model.learn(150)
        weights = [
            net.projection(n).weight.detach().clone() for n in ("input->hidden", "hidden->action")
        ]
        return weights, model

    compiled, cm = run("compiled")
    plan = cm.learner.plan
    assert isinstance(plan, CompiledPlan) and plan.windows == 150
    assert len(plan.bindings) == 2 and not plan.eager_hooks  # eligibility inside the kernel
    assert cm.policy.plans_built == 1  # made once, reused for every window
    eager, em = run("eager")
    assert isinstance(em.learner.plan, EagerPlan)
    for a, b in zip(compiled, eager, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-9)
    np.testing.assert_allclose(cm.learner.critic, em.learner.critic, rtol=0, atol=1e-9)


def test_plan_is_rebuilt_only_when_the_network_or_batch_changes() -> None:
    parts = small_parts(seed=2)
    model = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), policy_kwargs=parts, seed=0)
    model.learn(50)
    policy = model.policy
    assert policy.plans_built == 1
    obs = np.stack([gym.make("CartPole-v1").reset(seed=s)[0] for s in range(3)])
    model.predict(obs[0])
    model.predict(obs[1])
    assert policy.plans_built == 2  # one plan for greedy play at batch 1
    model.predict(obs)
    assert policy.plans_built == 3  # batch 3
    model.learn(20, reset_num_timesteps=False)
    assert policy.plans_built == 3
    net = parts["network"]
    assert isinstance(net, Network)
    net.to(torch.float64)  # new weight storage: the plan is stale
    model.learn(20, reset_num_timesteps=False)
    assert policy.plans_built == 4


def test_policy_encoding_is_the_encoders_own() -> None:
    """The policy's sampling of a Gaussian population encoder gives the spikes of
    ``encoder(x, generator)`` for the same generator state (normalised dimensions too)."""
    env = gym.make("CartPole-v1")
    from spikerl.models.rstdp_network import HiddenLayerNetworkConfig, build_hidden_layer_policy

    parts = build_hidden_layer_policy(
        HiddenLayerNetworkConfig(), env.observation_space, env.action_space, 0
    )
    model = RSTDP("SpikingPolicy", env, policy_kwargs=parts, seed=0)
    policy = model.policy
    assert isinstance(policy, NetworkPolicy)
    obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    policy.encoder.eval()  # frozen running statistics: both calls see the same ones
    a = policy.encode(obs, torch.Generator().manual_seed(3))
    b = policy.encoder(torch.as_tensor(obs), torch.Generator().manual_seed(3))
    assert a.shape == (policy.encoder.time_steps, 5, policy.encoder.output_size)
    assert torch.equal(a, b.reshape(a.shape)) and 0 < float(a.mean()) < 1
