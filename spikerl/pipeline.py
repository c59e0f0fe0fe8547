"""The explicit loop: encode -> simulate -> decode -> env step -> reward -> plasticity -> log.

:class:`Pipeline` runs an R-STDP learner on a Gymnasium environment (a single ``Env`` or
a ``VectorEnv``) without SB3, one visible stage per method, as BindsNET's
``EnvironmentPipeline`` did; subclass and override a stage to change it.
:class:`DatasetPipeline` is the same loop over a labelled dataset (MNIST tasks).

Gymnasium 1.x autoreset: a ``VectorEnv`` in ``NEXT_STEP`` mode returns the *final*
observation of an ending episode (``terminated`` or ``truncated``); the following
``step`` ignores the action for that sub-env and returns its reset observation with
reward 0. The pipeline therefore (1) bootstraps truncated episodes from their final
observation and terminated ones from nothing, (2) applies no plasticity for the autoreset
step and (3) starts the network state fresh for the new episode. ``SAME_STEP`` mode
(final observation in ``info["final_obs"]``) is handled too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from spikerl.agents.learner import RSTDPLearner, UpdateStats
from spikerl.agents.network import StepOutput


@dataclass
class PipelineResult:
    """What a pipeline run produced.

    Attributes:
        steps: Environment steps taken (summed over sub-envs).
        episode_returns: Returns of the episodes that finished.
        episode_lengths: Their lengths.
        seconds: Wall time.
        logs: One dict per log interval (step, mean return, firing rate, |dW|, ...).
    """

    steps: int = 0
    episode_returns: list[float] = field(default_factory=list)
    episode_lengths: list[int] = field(default_factory=list)
    seconds: float = 0.0
    logs: list[dict[str, float]] = field(default_factory=list)


LogFn = Callable[[dict[str, float]], None]


class Pipeline:
    """Run and train an :class:`RSTDPLearner` on a Gymnasium env, stage by stage.

    Args:
        env: A ``gymnasium.Env`` or ``gymnasium.vector.VectorEnv`` (batch = num_envs).
        learner: The agent (features = encoder, spiking network, three-factor rule): an
            :class:`RSTDPLearner`, a :class:`~spikerl.agents.core_policy.NetworkLearner`
            (a user's core network), or an ``RSTDP`` model (its learner is run).
        learn: Apply plasticity (False: run only).
        log_every: Steps (per env) between log records.
        log_fn: Called with each log record (e.g. ``wandb.log``).
        lr_schedule: ``progress in [0, 1] -> learning-rate fraction`` (default constant 1).
    """

    def __init__(
        self,
        env: gym.Env | gym.vector.VectorEnv,
        learner: RSTDPLearner | Any,
        *,
        learn: bool = True,
        log_every: int = 1000,
        log_fn: LogFn | None = None,
        lr_schedule: Callable[[float], float] | None = None,
    ) -> None:
        inner = getattr(learner, "learner", None)  # an RSTDP model: run its learner
        if inner is not None and hasattr(inner, "run_window"):
            learner = inner
        self.env = env
        self.vector = isinstance(env, gym.vector.VectorEnv)
        self.n_envs = env.num_envs if isinstance(env, gym.vector.VectorEnv) else 1
        if learner.n_envs != self.n_envs:
            raise ValueError(f"learner batch {learner.n_envs} != env batch {self.n_envs}")
        self.learner = learner
        self.learn = learn
        self.log_every = log_every
        self.log_fn = log_fn
        self.lr_schedule = lr_schedule or (lambda _p: 1.0)
        self.autoreset_same_step = False
        if self.vector:
            mode = env.metadata.get("autoreset_mode")
            self.autoreset_same_step = getattr(mode, "name", str(mode)) == "SAME_STEP"

    # ----------------------------------------------------------------- stages
    def encode(self, obs: np.ndarray) -> np.ndarray:
        """Observations -> input firing probabilities ``[B, F]``."""
        return self.learner.features(obs)

    def simulate(self, phi: np.ndarray) -> StepOutput | Any:
        """Run the spiking window (and accumulate eligibility when learning)."""
        return self.learner.run_window(phi, deterministic=not self.learn, learn=self.learn)

    def decode(self, out: StepOutput | Any) -> np.ndarray:
        """Spikes -> actions (population with the most spikes)."""
        return out.actions

    def env_step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step the env; returns batched ``(obs, reward, terminated, truncated, info)``."""
        if self.vector:
            obs, r, te, tr, info = self.env.step(actions)
            return np.asarray(obs), np.asarray(r, float), np.asarray(te), np.asarray(tr), info
        obs, r, te, tr, info = self.env.step(int(actions[0]))
        return (np.asarray(obs)[None], np.array([float(r)]), np.array([te]), np.array([tr]), info)

    def plasticity(
        self,
        reward: np.ndarray,
        bootstrap_obs: np.ndarray,
        terminated: np.ndarray,
        valid: np.ndarray,
        progress: float,
    ) -> UpdateStats:
        """Three-factor update; ``valid`` masks out autoreset steps (no real transition)."""
        return self.learner.update(
            reward, bootstrap_obs, terminated, self.lr_schedule(progress), mask=valid
        )

    def log(self, record: dict[str, float]) -> None:
        """Hand a log record to ``log_fn``."""
        if self.log_fn is not None:
            self.log_fn(record)

    # ------------------------------------------------------------------- loop
    def _reset(self, seed: int | None) -> np.ndarray:
        if self.vector:
            obs, _ = self.env.reset(seed=seed)
            return np.asarray(obs)
        obs, _ = self.env.reset(seed=seed)
        return np.asarray(obs)[None]

    def run(self, n_steps: int, seed: int | None = None) -> PipelineResult:
        """Run ``n_steps`` environment steps (summed over sub-envs) from a fresh reset."""
        res = PipelineResult()
        t0 = time.time()
        b = self.n_envs
        obs = self._reset(seed)
        starts = np.ones(b, dtype=bool)
        pending = np.zeros(b, dtype=bool)  # NEXT_STEP: next step is an autoreset step
        ep_ret = np.zeros(b)
        ep_len = np.zeros(b, dtype=np.int64)
        since, dws, mods = 0, [], []
        total_iters = max(1, n_steps // b)
        for it in range(total_iters):
            self.learner.reset(starts)
            phi = self.encode(obs)
            out = self.simulate(phi)
            actions = self.decode(out)
            nobs, reward, term, trunc, info = self.env_step(actions)
            done = term | trunc
            valid = ~pending
            boot = nobs
            if self.autoreset_same_step and done.any():
                boot = nobs.copy()
                final = info.get("final_obs")
                for i in np.flatnonzero(done):
                    if final is not None and final[i] is not None:
                        boot[i] = final[i]
            if self.learn:
                st = self.plasticity(reward, boot, term, valid, it / total_iters)
                dws.append(st.mean_abs_dw)
                mods.append(st.modulation)
            ep_ret += reward * valid
            ep_len += valid
            for i in np.flatnonzero(done & valid):
                res.episode_returns.append(float(ep_ret[i]))
                res.episode_lengths.append(int(ep_len[i]))
                ep_ret[i] = 0.0
                ep_len[i] = 0
            res.steps += b
            if not self.vector and done[0]:
                nobs = self._reset(None)
                starts = np.ones(1, dtype=bool)
            elif self.vector and not self.autoreset_same_step:
                # the step after a done returns the reset observation: a new episode
                starts = pending.copy()
                pending = done & valid
            else:
                starts = done
            obs = nobs
            since += 1
            if since >= self.log_every:
                rec = {
                    "step": float(res.steps),
                    "rollout/ep_rew_mean": float(np.mean(res.episode_returns[-20:]))
                    if res.episode_returns
                    else float("nan"),
                    "snn/firing_rate/actions": float(out.rate.mean()),
                    "rstdp/mean_abs_dw": float(np.mean(dws)) if dws else 0.0,
                    "rstdp/modulation": float(np.mean(mods)) if mods else 0.0,
                    "time/fps": res.steps / max(time.time() - t0, 1e-9),
                }
                res.logs.append(rec)
                self.log(rec)
                since, dws, mods = 0, [], []
        res.seconds = time.time() - t0
        return res


class DatasetModel(Protocol):
    """What :class:`DatasetPipeline` drives (e.g. a Diehl & Cook network)."""

    def encode(self, x: Any) -> Any:
        """Samples -> input spike trains ``[T, B, ...]``."""
        ...

    def simulate(self, spikes: Any, labels: Any, learn: bool) -> Any:
        """Run the network on a batch; apply plasticity when ``learn``."""
        ...

    def decode(self, output: Any) -> np.ndarray:
        """Network output -> predicted labels ``[B]``."""
        ...


@dataclass
class DatasetResult:
    """Accuracy of a dataset pass.

    Attributes:
        samples: Samples seen.
        correct: Correct predictions.
        seconds: Wall time.
    """

    samples: int = 0
    correct: int = 0
    seconds: float = 0.0

    @property
    def accuracy(self) -> float:
        """Fraction correct."""
        return self.correct / max(self.samples, 1)


class DatasetPipeline:
    """encode -> simulate (+ plasticity) -> decode -> score -> log, over labelled batches.

    Args:
        model: Encoder, network and decoder (see :class:`DatasetModel`).
        log_every: Batches between log records.
        log_fn: Called with ``{"samples", "accuracy"}`` records.
    """

    def __init__(
        self, model: DatasetModel, log_every: int = 100, log_fn: LogFn | None = None
    ) -> None:
        self.model = model
        self.log_every = log_every
        self.log_fn = log_fn

    def run(self, batches: Iterable[tuple[Any, Any]], learn: bool = True) -> DatasetResult:
        """One pass over ``(x, y)`` batches."""
        res = DatasetResult()
        t0 = time.time()
        for i, (x, y) in enumerate(batches):
            out = self.model.simulate(self.model.encode(x), y, learn)
            pred = np.asarray(self.model.decode(out))
            yy = np.asarray(y.cpu() if hasattr(y, "cpu") else y)
            res.samples += len(yy)
            res.correct += int((pred == yy).sum())
            if self.log_fn is not None and (i + 1) % self.log_every == 0:
                self.log_fn({"samples": float(res.samples), "accuracy": res.accuracy})
        res.seconds = time.time() - t0
        return res
