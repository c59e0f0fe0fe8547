"""The dashboard panels reach the files: TensorBoard event files (read back with
TensorBoard's EventAccumulator) and an offline wandb run (its ``.wandb`` log read back
record by record with wandb's own protobuf messages, :mod:`spikerl.runs.wandb_log`).
Tiny CartPole runs."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from spikerl.agents.panels import EvalMedia
from spikerl.agents.presets import load_agent_preset
from spikerl.agents.rstdp import RSTDP
from spikerl.cli import main
from spikerl.runs.wandb_log import history as wandb_history
from agents.parts import window_preset

SCALARS = {
    "episode/return",
    "episode/length",
    "rollout/ep_rew_mean",
    "snn/firing_rate/input",
    "snn/firing_rate/action_0",
    "snn/firing_rate/action_1",
    "snn/tie_fraction",
    "snn/decision_margin",
    "eval/mean_reward",
}
HISTOGRAMS = {"rstdp/td_error", "rstdp/eligibility", "weights/input->action", "weights/critic"}


def _events(folder: Path) -> EventAccumulator:
    (path,) = list(folder.rglob("events.out.tfevents.*"))
    ea = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    ea.Reload()
    return ea


def test_rstdp_tensorboard_log_has_the_panels(tmp_path: Path) -> None:
    cfg = dataclasses.replace(window_preset("CartPole"), log_every=50)
    model = RSTDP("SpikingPolicy", "CartPole-v1", cfg, seed=0, tensorboard_log=str(tmp_path))
    media = EvalMedia("CartPole", video_dir=tmp_path / "videos")
    eval_cb = EvalCallback(
        make_vec_env("CartPole-v1", 1, seed=5),
        eval_freq=200,
        n_eval_episodes=1,
        callback_after_eval=media,
        verbose=0,
    )
    model.learn(400, callback=eval_cb)
    assert media.errors == []
    ea = _events(tmp_path)
    tags = ea.Tags()
    assert SCALARS <= set(tags["scalars"]), SCALARS - set(tags["scalars"])
    assert HISTOGRAMS <= set(tags["histograms"]), HISTOGRAMS - set(tags["histograms"])
    assert "eval/episode_spikes" in tags["images"]
    # one point per finished episode, at the step it ended; lengths sum to the steps
    lengths = [e.value for e in ea.Scalars("episode/length")]
    returns = [e.value for e in ea.Scalars("episode/return")]
    assert len(lengths) >= 400 // 200 and lengths == returns  # CartPole: +1 per step
    assert sum(lengths) <= 400
    steps = [e.step for e in ea.Scalars("episode/length")]
    assert steps == sorted(steps) and steps[0] == lengths[0]
    # the TD-error histogram holds one value per update of the 50-step window
    h = ea.Histograms("rstdp/td_error")[0].histogram_value
    assert h.num == 50
    assert h.min >= -cfg.learn.delta_clip and h.max <= cfg.learn.delta_clip
    w = ea.Histograms("weights/input->action")[-1].histogram_value
    assert w.num == model.plastic_weights()["input->action"].size
    tie = [e.value for e in ea.Scalars("snn/tie_fraction")]
    assert all(0.0 <= t <= 1.0 for t in tie)
    img = ea.Images("eval/episode_spikes")[-1]
    assert img.width > 100 and img.height > 100
    videos = sorted((tmp_path / "videos").glob("eval_*.mp4"))
    assert [v.name for v in videos] == ["eval_200.mp4", "eval_400.mp4"]
    import imageio.v3 as iio

    frames = iio.imread(videos[0])
    assert frames.ndim == 4 and frames.shape[-1] == 3 and frames.shape[0] >= 2


def test_train_tensorboard_flag_writes_the_panels(tmp_path: Path) -> None:
    """``spikerl train --tensorboard``: the event file in ``<run>/tensorboard`` has them."""
    args = ["train", "--runs-dir", str(tmp_path / "runs"), "--env", "CartPole"]
    args += ["--timesteps", "300", "--tensorboard", "--quiet"]
    for kv in ("eval_freq=150", "eval_episodes=1", "final_eval_episodes=1", "rstdp.log_every=50"):
        args += ["--set", kv]
    assert main(args) == 0
    (run,) = (tmp_path / "runs").iterdir()
    tags = _events(run / "tensorboard").Tags()
    assert SCALARS <= set(tags["scalars"]), SCALARS - set(tags["scalars"])
    assert HISTOGRAMS <= set(tags["histograms"])
    assert "eval/episode_spikes" in tags["images"]
    assert not (run / "wandb").exists() and not (run / "videos").exists()


def test_ppo_spiking_policy_tensorboard_log(tmp_path: Path) -> None:
    """SB3's own tensorboard_log with a spikerl policy writes SB3's panels."""
    import spikerl.agents.sb3  # noqa: F401  (registers "SpikingMlpPolicy")

    model = PPO(
        "SpikingMlpPolicy",
        "CartPole-v1",
        n_steps=64,
        batch_size=32,
        n_epochs=1,
        seed=0,
        tensorboard_log=str(tmp_path),
    )
    model.learn(128)
    tags = set(_events(tmp_path).Tags()["scalars"])
    assert {"train/loss", "train/entropy_loss", "rollout/ep_rew_mean"} <= tags, tags


# --- the offline wandb run ------------------------------------------------------------------


def test_offline_wandb_run_has_the_panels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    args = ["train", "--runs-dir", str(tmp_path / "runs"), "--env", "CartPole"]
    args += ["--timesteps", "400", "--track", "--quiet"]
    for kv in ("eval_freq=200", "eval_episodes=1", "final_eval_episodes=1", "rstdp.log_every=50"):
        args += ["--set", kv]
    assert main(args) == 0
    (run,) = (tmp_path / "runs").iterdir()
    wanted = {
        "episode/return": float,
        "episode/length": float,
        "snn/tie_fraction": float,
        "snn/decision_margin": float,
        "snn/firing_rate/action_0": float,
        "snn/firing_rate/input": float,
        "rstdp/td_error/_type": "histogram",
        "rstdp/eligibility/_type": "histogram",
        "weights/input->action/_type": "histogram",
        "weights/critic/_type": "histogram",
        "eval/episode_spikes/_type": "image-file",
        "eval/episode_video/_type": "video-file",
        "eval/mean_reward": float,
    }
    deadline = time.time() + 60  # wandb's writer may still be flushing
    while True:
        history, artifacts = wandb_history(run)
        missing = sorted(k for k in wanted if k not in history)
        if (not missing and artifacts) or time.time() > deadline:
            break
        time.sleep(0.5)
    assert not missing, missing
    for key, want in wanted.items():
        if isinstance(want, str):
            assert history[key][-1] == want, (key, history[key][-1])
        else:
            assert np.isfinite(float(history[key][-1])), key
    # per-episode returns: CartPole's return equals its length, every episode
    assert history["episode/return"] == history["episode/length"]
    assert len(history["episode/return"]) >= 2
    counts = history["rstdp/td_error/values"][0]
    assert sum(counts) == 50  # one TD error per update of the 50-step window
    assert len(history["eval/episode_video/_type"]) == 2  # one video per evaluation
    assert any(a.startswith("model-") for a in artifacts), artifacts
    assert list((run / "videos").glob("eval_*.mp4"))
    assert (run / "episode.mp4").is_file()


def test_mnist_track_logs_a_curve_during_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_mnist: Path
) -> None:
    """``spikerl mnist --track``: a monitor point every 20 of 60 training images."""
    from spikerl.tasks.mnist import main as mnist_main

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    out = tmp_path / "mnist"
    argv = ["--mode", "unsupervised", "--neurons", "10", "--time", "100", "--limit", "60"]
    argv += ["--test-limit", "20", "--label-images", "20", "--data", str(shared_mnist)]
    argv += ["--out", str(out), "--quiet", "--track", "--track-every", "20"]
    argv += ["--track-images", "20"]
    assert mnist_main(argv) == 0
    saved = json.loads((out / "mnist_unsupervised.json").read_text())
    assert [p["train/images"] for p in saved["monitor"]] == [20.0, 40.0, 60.0]
    history, _ = wandb_history(out)
    deadline = time.time() + 60
    while len(history.get("monitor/accuracy", [])) < 3 and time.time() < deadline:
        time.sleep(0.5)
        history, _ = wandb_history(out)
    assert history["train/images"][:3] == [20.0, 40.0, 60.0]
    acc = history["monitor/accuracy"]
    assert len(acc) == 3 and all(0.0 <= a <= 1.0 for a in acc)
    for key in ("firing/spikes_per_image", "firing/rate_hz", "firing/silent_fraction"):
        assert len(history[key]) == 3, key
    # rate (Hz) = spikes per image / (neurons * 0.1 s)
    for spikes, rate in zip(history["firing/spikes_per_image"], history["firing/rate_hz"]):
        assert rate == pytest.approx(spikes / (10 * 0.1), rel=1e-3)
    assert "test_accuracy" in history  # and the final record


def _parts_model() -> RSTDP:
    import gymnasium as gym
    import torch

    from spikerl.core import LIF, DenseProjection, Input, LateralProjection, Network, Uniform
    from spikerl.decoders import PopulationVoteDecoder
    from spikerl.encoders import GaussianPopulationEncoder

    g = torch.Generator().manual_seed(0)
    enc = GaussianPopulationEncoder(
        [-2.4, -3, -0.21, -3.5], [2.4, 3, 0.21, 3.5], neurons_per_dim=8, time_steps=8
    )
    net = Network(dt=1.0)
    net.add_population("input", Input(enc.output_size))
    net.add_population("action", LIF(16))
    net.connect("input", "action", DenseProjection(enc.output_size, 16, Uniform(0, 4), generator=g))
    net.connect("action", "action", LateralProjection.inhibition(16, strength=2.0))
    parts = dict(
        network=net, encoder=enc, decoder=PopulationVoteDecoder(2, 8), plastic=["input->action"]
    )
    return RSTDP("SpikingPolicy", gym.make("CartPole-v1"), policy_kwargs=parts, seed=0)


@pytest.mark.parametrize("kind", ["built-in", "parts"])
def test_recorded_spikes_are_the_ones_that_decided(kind: str) -> None:
    """The raster of an evaluation episode is the spikes the vote read: wherever one
    population fired more than the other in a window, that population's action was taken."""
    import gymnasium as gym

    from spikerl.plotting.episode import episode_figure, record_episode

    if kind == "parts":
        model, window, per = _parts_model(), 8, 8
    else:
        model = RSTDP("SpikingPolicy", "CartPole-v1", window_preset("CartPole"))
        window, per = model.config.snn.sim_steps, model.config.snn.n_per_action
    model.learn(100)
    rec = record_episode(model, gym.make("CartPole-v1", render_mode="rgb_array"), 3, render=False)
    assert rec.spikes is not None and rec.potentials is not None
    assert rec.window == window and rec.spikes.shape == (rec.length * window, 2 * per)
    assert rec.potentials.shape == (rec.length, 2 * per)
    counts = rec.spikes.reshape(rec.length, window, 2, per).sum(axis=(1, 3))
    decided = counts[:, 0] != counts[:, 1]
    assert decided.any()
    np.testing.assert_array_equal(np.asarray(rec.actions)[decided], counts[decided].argmax(axis=1))
    assert "decode" not in vars(model.policy)  # the capture is undone
    episode_figure(rec)
