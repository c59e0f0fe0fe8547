"""R-STDP agent: learning, SB3 integration, persistence, resume, bad checkpoints."""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv

from spikerl.agents import RSTDP, CheckpointError
from spikerl.agents.callbacks import load_resumable, save_resumable

from .parts import window_preset


def _env(seed: int = 0, n: int = 1) -> VecEnv:
    return make_vec_env("CartPole-v1", n_envs=n, seed=seed)


def _model(seed: int = 0, n: int = 1) -> RSTDP:
    return RSTDP("SpikingPolicy", _env(seed, n), window_preset("CartPole"), seed=seed)


class StopAt(BaseCallback):
    """Stop learning once ``num_timesteps`` reaches ``at``."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def _on_step(self) -> bool:
        return self.num_timesteps < self.at


@pytest.mark.slow
def test_quick_learn_beats_random() -> None:
    """With actions decided by the spike vote alone (ties by a seeded draw), 30k steps of
    the shipped CartPole preset lift the greedy return far above its initial weights and a
    uniformly random policy (about 22). Measured on seeds 1-3: 12.0 -> 118.7, 10.6 -> 193.7,
    11.2 -> 171.7 (a short budget; the long runs are scripts/classic_control.py)."""
    from spikerl.agents.evaluation import greedy_episodes
    from spikerl.agents.presets import load_agent_preset

    model = RSTDP("SpikingPolicy", _env(seed=1), load_agent_preset("rstdp", "CartPole"), seed=1)
    before = greedy_episodes(model, _env(seed=99), 10)
    model.learn(30_000)
    after = greedy_episodes(model, _env(seed=99), 10)
    assert after.mean > before.mean + 40.0
    assert after.mean > 60.0
    assert 0.0 <= after.tie_fraction <= 1.0


def test_save_load_round_trip_identical_predictions(tmp_path: Path) -> None:
    model = _model(seed=1)
    model.learn(600)
    model.save(tmp_path / "m")
    loaded = RSTDP.load(tmp_path / "m.zip")
    np.testing.assert_array_equal(
        model.plastic_weights()["input->action"], loaded.plastic_weights()["input->action"]
    )
    obs = _env(seed=5, n=3).reset()
    starts = np.ones(3, dtype=bool)
    a1, s1 = model.predict(obs, None, starts, deterministic=True)
    a2, s2 = loaded.predict(obs, None, starts, deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    assert s1 is not None and s2 is not None
    d1, d2 = s1.to_dict(), s2.to_dict()
    assert d1.keys() == d2.keys() and len(d1) > 0
    for key in d1:
        np.testing.assert_array_equal(d1[key].numpy(), d2[key].numpy())
    # the settings that matter travel in the zip
    assert loaded.config.snn.sim_steps == model.config.snn.sim_steps
    assert loaded.config.snn.dt == model.config.snn.dt
    assert loaded.config.features == model.config.features


def test_predict_carries_state_and_resets_on_episode_start() -> None:
    model = _model(seed=2)
    obs = _env(seed=3, n=2).reset()
    _, s1 = model.predict(obs, None, None, deterministic=True)
    _, s2 = model.predict(obs, s1, np.zeros(2, dtype=bool), deterministic=True)
    _, s3 = model.predict(obs, s1, np.ones(2, dtype=bool), deterministic=True)
    assert s1 is not None and s2 is not None and s3 is not None
    v1, v2, v3 = (s.neurons["action"].v.numpy() for s in (s1, s2, s3))
    # continuing from s1 differs from a fresh start; episode_start gives the fresh result
    np.testing.assert_array_equal(v3, v1)
    assert not np.array_equal(v2, v1)
    single, _ = model.predict(obs[0], None, None, deterministic=True)
    assert np.ndim(single) == 0


def test_sb3_callbacks_and_evaluate_policy(tmp_path: Path) -> None:
    model = _model(seed=3)
    ckpt = CheckpointCallback(save_freq=300, save_path=str(tmp_path / "ck"), name_prefix="r")
    ev = EvalCallback(
        _env(seed=7),
        eval_freq=400,
        n_eval_episodes=2,
        best_model_save_path=str(tmp_path / "best"),
        log_path=str(tmp_path),
    )
    model.learn(900, callback=[ckpt, ev])
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [
        "r_300_steps.zip",
        "r_600_steps.zip",
        "r_900_steps.zip",
    ]
    assert (tmp_path / "best" / "best_model.zip").is_file()
    assert (tmp_path / "evaluations.npz").is_file()
    mean, std = evaluate_policy(model, _env(seed=8), n_eval_episodes=3)
    assert mean > 0 and std >= 0
    RSTDP.load(tmp_path / "ck" / "r_600_steps.zip")


def test_batched_network_over_vec_env() -> None:
    model = _model(seed=4, n=3)
    model.learn(900)
    assert model.num_timesteps == 900
    state = model.learner.state
    assert state is not None
    n = model.action_space.n * model.config.snn.n_per_action  # type: ignore[attr-defined]
    assert tuple(state.neurons["action"].v.shape) == (3, n)


def _assert_resume_exact(make: Callable[[], RSTDP], total: int, half: int, folder: Path) -> RSTDP:
    """Learn ``total`` steps straight, and ``half`` + checkpoint + load + the rest: the
    weights and critic must be identical. Returns the straight run."""
    straight = make()
    straight.learn(total)
    first = make()
    first.learn(total, callback=StopAt(half))
    assert first.num_timesteps == half
    save_resumable(first, folder)
    resumed = load_resumable(folder, make().get_env())  # a fresh env, restored from the file
    assert resumed.num_timesteps == half
    resumed.learn(total - half, reset_num_timesteps=False)
    for name, w in straight.plastic_weights().items():  # either stack
        np.testing.assert_array_equal(resumed.plastic_weights()[name], w, err_msg=name)
    np.testing.assert_array_equal(_critic(resumed), _critic(straight))
    return straight


def _critic(model: RSTDP) -> np.ndarray:
    """The critic's weights on either stack (the private network's, or the parts learner's)."""
    net = getattr(model.policy, "net", None)
    return np.asarray(net.critic_np if net is not None else model.learner.critic)


def test_resume_is_bit_exact(tmp_path: Path) -> None:
    _assert_resume_exact(lambda: _model(seed=5), 2000, 1000, tmp_path)


def test_corrupted_checkpoint_clear_error(tmp_path: Path) -> None:
    model = _model(seed=6)
    model.save(tmp_path / "m.zip")
    data = (tmp_path / "m.zip").read_bytes()
    (tmp_path / "bad.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"corrupted|truncated"):
        RSTDP.load(tmp_path / "bad.zip")
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError):
        RSTDP.load(tmp_path / "junk.zip")
    with pytest.raises(FileNotFoundError):
        RSTDP.load(tmp_path / "missing.zip")


def test_foreign_checkpoint_clear_error(tmp_path: Path) -> None:
    from stable_baselines3 import PPO

    PPO("MlpPolicy", _env(), n_steps=64, batch_size=32).save(tmp_path / "ppo.zip")
    with pytest.raises(CheckpointError, match="foreign"):
        RSTDP.load(tmp_path / "ppo.zip")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(CheckpointError, match="not an SB3 checkpoint"):
        RSTDP.load(tmp_path / "other.zip")


def test_interrupted_write_keeps_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(seed=7)
    model.save(tmp_path / "m.zip")
    before = (tmp_path / "m.zip").read_bytes()
    from spikerl.agents import persistence

    real_write = persistence._write_zip

    def broken(path: str, entries: dict[str, bytes]) -> None:
        real_write(path, entries)
        Path(path).write_bytes(Path(path).read_bytes()[:100])  # half-written
        raise KeyboardInterrupt

    monkeypatch.setattr(persistence, "_write_zip", broken)
    model.learn(300)
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "m.zip")
    assert (tmp_path / "m.zip").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.zip"]  # no temp file left
    monkeypatch.undo()
    RSTDP.load(tmp_path / "m.zip")


def test_rejects_non_cpu_device_and_bad_action_space() -> None:
    with pytest.raises(ValueError, match="CPU"):
        RSTDP("SpikingPolicy", _env(), device="cuda")
    with pytest.raises((TypeError, AssertionError, ValueError)):
        RSTDP("SpikingPolicy", make_vec_env("Pendulum-v1", n_envs=1))


def test_window_dynamics_match_equation() -> None:
    """One neuron per action, deterministic input: the window follows the LIF equation
    (``v <- v d + I``, spike and reset at 13 mV), and the vote picks the spiking action."""
    import gymnasium as gym
    import torch

    cfg = window_preset("CartPole")
    snn = dataclasses.replace(
        cfg.snn, n_per_action=1, sim_steps=3, w_init=0.0, w_init_low=0.0, w_inh=0.0,
        noise_std=0.0,
    )  # fmt: skip
    cfg = dataclasses.replace(cfg, snn=snn, learn=dataclasses.replace(cfg.learn, weight_norm=False))
    model = RSTDP("SpikingPolicy", gym.make("CartPole-v1"), cfg, seed=0)
    policy = model.policy
    w = policy.network.projection("input->action").weight
    f = w.shape[0]
    with torch.no_grad():
        w[:, 0] = 5.0 / f  # every input fully on: I = 5 mV per step into neuron 0
    x = torch.ones((3, 1, f), dtype=w.dtype)
    out, st = policy.window(x, None, policy.generator, stochastic=False)
    d = np.exp(-1.0 / 20.0)
    v1 = 5.0
    v2 = v1 * d + 5.0
    v3 = v2 * d + 5.0  # 14.5 >= 13 -> spike at the third step, reset to 0
    assert out.spikes is not None
    assert out.spikes[:, 0, 0].tolist() == [0.0, 0.0, 1.0] and v3 >= 13.0
    assert float(st.neurons["action"].v[0, 0]) == pytest.approx(snn.v_reset)
    assert int(out.actions[0]) == 0


def test_default_features_on_frames_give_a_clear_error() -> None:
    import gymnasium as gym
    import pytest as _pytest

    from spikerl.agents import RSTDP

    env = gym.make("CartPole-v1")
    frames = gym.spaces.Box(0, 255, (210, 160), dtype="uint8")

    class Frames(gym.ObservationWrapper):  # type: ignore[type-arg]
        def __init__(self, e: gym.Env) -> None:  # type: ignore[type-arg]
            super().__init__(e)
            self.observation_space = frames

        def observation(self, observation: object) -> object:
            return frames.sample()

    from spikerl.agents import GaussianFieldsConfig
    from spikerl.agents.features import PixelGrid

    with _pytest.raises(ValueError, match=r"declare features.low and features.high"):
        RSTDP("SpikingPolicy", Frames(env), seed=0, features=GaussianFieldsConfig())
    # the default encoder is chosen from the space: frames get the generic pixel grid
    policy = RSTDP("SpikingPolicy", Frames(env), seed=0).policy
    assert isinstance(policy.encoder.feature_map, PixelGrid)  # type: ignore[union-attr]


def _breakout(seed: int) -> RSTDP:
    from spikerl.agents.envs import make_agent_vec_env
    from spikerl.agents.presets import TrainConfig, build, preset_dict

    preset = build(TrainConfig, preset_dict("rstdp", "Breakout"))
    env = make_agent_vec_env("Breakout", 1, seed=seed, overrides=preset.env_overrides)
    return RSTDP("SpikingPolicy", env, config=preset.rstdp, seed=seed)


def _saved(env: VecEnv, path: Path) -> Path:
    from spikerl.envs.state import save_env_state

    save_env_state(env, path)
    return path


def test_saved_breakout_env_continues_exactly(tmp_path: Path) -> None:
    """The agent's Atari env state file holds the emulator's state with its RNG and the
    sticky-action memory: at 24 save points along a game, a fresh env restored from it and
    the original see the same frames, rewards and ends for the next 30 steps. (Without the
    sticky-action memory a copy parts when its first frame repeats the previous action, a
    paddle move here: without priming it, this test fails.)"""
    from spikerl.agents.envs import make_agent_vec_env
    from spikerl.envs.state import read_env_state, restore_env_state

    env = make_agent_vec_env("Breakout", 1, seed=4)
    env.reset()
    rng = np.random.default_rng(4)
    for point in range(24):
        for _ in range(int(rng.integers(5, 40))):  # paddle moves: sticky repeats matter
            env.step(rng.integers(2, 4, 1))
        copy = make_agent_vec_env("Breakout", 1, seed=4)  # fresh, then the saved state
        restore_env_state(copy, read_env_state(_saved(env, tmp_path / f"s{point}.zip")))
        for i in range(30):
            a = rng.integers(0, 4, 1)
            o1, r1, d1, _ = env.step(a)
            o2, r2, d2, _ = copy.step(a)
            assert np.array_equal(o1, o2) and r1[0] == r2[0] and d1[0] == d2[0], (point, i)


def test_breakout_resume_is_bit_exact(tmp_path: Path) -> None:
    """Learning 600 Breakout steps straight equals 300, a resumable checkpoint, and 300 more."""
    straight = _assert_resume_exact(lambda: _breakout(seed=2), 600, 300, tmp_path)
    assert np.abs(_critic(straight)).max() > 0  # it learned something


def test_logged_action_shares_and_per_action_weight_means(tmp_path: Path) -> None:
    """Every dump records the share of each action among the decisions since the last dump
    (``snn/action_share/action_<i>``, counted here from the actions taken) and the mean
    input weight onto each action's neurons (``rstdp/weight_mean/action_<i>``; at the last
    dump, which follows the last update, the final weights' group means)."""
    import csv

    from stable_baselines3.common.logger import configure

    from spikerl.agents.presets import resolve

    cfg = dataclasses.replace(resolve("MountainCar").rstdp, log_every=100)
    model = RSTDP("SpikingPolicy", make_vec_env("MountainCar-v0", 1, seed=0), cfg, seed=0)
    model.set_logger(configure(str(tmp_path), ["csv"]))
    taken: list[int] = []

    class Spy(BaseCallback):
        def _on_step(self) -> bool:
            taken.extend(np.asarray(self.locals["actions"]).reshape(-1).tolist())
            return True

    model.learn(300, callback=Spy())
    with open(tmp_path / "progress.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    for k, row in enumerate(rows):
        window = np.array(taken[100 * k : 100 * (k + 1)])
        shares = [float(row[f"snn/action_share/action_{i}"]) for i in range(3)]
        np.testing.assert_allclose(shares, np.bincount(window, minlength=3) / 100, atol=1e-12)
    w = model.policy.network.projection("input->action").weight.detach().numpy()
    k = w.shape[1] // 3
    want = [w[:, i * k : (i + 1) * k].mean() for i in range(3)]
    got = [float(rows[-1][f"rstdp/weight_mean/action_{i}"]) for i in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-9)
