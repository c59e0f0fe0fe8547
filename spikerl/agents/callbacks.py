"""SB3 callbacks for runs: resumable checkpoints, graceful stop, wandb media.

wandb is imported lazily, only by the functions that log to it.
"""

from __future__ import annotations

import json
import pathlib
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

import cloudpickle
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from stable_baselines3.common.logger import KVWriter

from spikerl.agents.rstdp import RSTDP
from spikerl.core.io import atomic_write_bytes

LAST = "last.zip"
ENV_STATE = "env_state.pkl"
META = "meta.json"


def save_resumable(model: RSTDP, folder: pathlib.Path, extra: dict[str, Any] | None = None) -> None:
    """Write ``last.zip`` (weights, traces, RNG, step counter), the env state and meta.

    Every file is written to a temporary name and renamed, so an interrupted write
    leaves the previous checkpoint intact. The environment (physics, RNG, Monitor
    counters) is pickled when it can be, so a resumed run continues bit-exactly.
    """
    folder.mkdir(parents=True, exist_ok=True)
    try:
        env_bytes: bytes | None = cloudpickle.dumps(model.get_env())
    except Exception:  # e.g. emulator handles that do not pickle
        env_bytes = None
    model.save(folder / LAST)
    if env_bytes is not None:
        atomic_write_bytes(env_bytes, folder / ENV_STATE)
    elif (folder / ENV_STATE).exists():
        (folder / ENV_STATE).unlink()
    meta = {"num_timesteps": model.num_timesteps, "env_pickled": env_bytes is not None}
    meta.update(extra or {})
    atomic_write_bytes(json.dumps(meta, indent=1).encode(), folder / META)


class ResumableCheckpoint(BaseCallback):
    """Save a resumable checkpoint every ``save_freq`` environment steps (summed over envs).

    Also keeps numbered copies ``rstdp_<steps>_steps.zip`` like SB3's CheckpointCallback.
    """

    def __init__(
        self, folder: pathlib.Path, save_freq: int, meta: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        super().__init__()
        self.folder = folder
        self.save_freq = max(1, save_freq)
        self.meta = meta
        self._next = 0

    def _on_training_start(self) -> None:
        self._next = (self.num_timesteps // self.save_freq + 1) * self.save_freq

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._next = (self.num_timesteps // self.save_freq + 1) * self.save_freq
            assert isinstance(self.model, RSTDP)
            save_resumable(self.model, self.folder, self.meta() if self.meta else None)
            self.model.save(self.folder / f"rstdp_{self.num_timesteps}_steps.zip")
        return True


class StopOnSignal(BaseCallback):
    """Stop ``learn`` at the next step boundary after SIGINT (Ctrl-C) or SIGTERM."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped = False
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.stopped = True

    def install(self) -> None:
        """Route SIGINT/SIGTERM to the stop flag (main thread only)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread
                pass

    def uninstall(self) -> None:
        """Restore the previous handlers."""
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def _on_step(self) -> bool:
        return not self.stopped


class WandbOutputFormat(KVWriter):
    """SB3 logger output that forwards every dump to ``wandb.log`` (SB3's own keys)."""

    def write(
        self,
        key_values: dict[str, Any],
        key_excluded: dict[str, tuple[str, ...]],
        step: int = 0,
    ) -> None:
        """Log numeric values at ``step``."""
        import wandb

        data = {
            k: v
            for k, v in key_values.items()
            if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        }
        if data and wandb.run is not None:
            wandb.log({**data, "global_step": step})

    def close(self) -> None:
        """Nothing to close (the run is finished by its owner)."""


def spike_raster_image(model: RSTDP, env: Any, steps: int = 50) -> np.ndarray:
    """RGB image of the action neurons' spikes over ``steps`` greedy env steps."""
    import matplotlib

    matplotlib.use("Agg")
    from spikerl.plotting import figure_to_array, spike_raster

    obs = env.reset()
    state = None
    windows = []
    net = model.policy.net
    st = net.initial_state(env.num_envs)
    for _ in range(steps):
        out, st = net.step(
            model.policy.features(np.asarray(obs)),
            st,
            deterministic=False,
            learn=False,
            rng=np.random.default_rng(0),
        )
        windows.append(out.spikes)
        obs, _, dones, _ = env.step(out.actions)
        st = net.reset_state(st, dones)
    del state
    spikes = np.concatenate(windows, axis=0)  # [steps*T, B, N]
    fig = spike_raster(spikes, dt=net.snn.dt, title="action neurons (populations stacked)")
    return figure_to_array(fig)


class WandbMediaCallback(BaseCallback):
    """After each evaluation: weight histograms and a spike-raster image to wandb."""

    def __init__(self, raster_env: Any) -> None:
        super().__init__()
        self.raster_env = raster_env

    def _on_step(self) -> bool:
        import wandb

        if wandb.run is None:
            return True
        assert isinstance(self.model, RSTDP)
        net = self.model.policy.net
        parent = self.parent
        data: dict[str, Any] = {
            "weights/actor": wandb.Histogram(net.w_np.ravel().tolist()),
            "weights/critic": wandb.Histogram(net.critic_np.ravel().tolist()),
            "global_step": self.num_timesteps,
        }
        try:
            img = spike_raster_image(self.model, self.raster_env)
            data["snn/spike_raster"] = wandb.Image(img)
        except Exception as exc:  # plotting must never kill training
            data["snn/raster_error"] = str(exc)[:200]
        if isinstance(parent, EvalCallback):
            data["eval/best_mean_reward"] = float(parent.best_mean_reward)
        wandb.log(data)
        return True
