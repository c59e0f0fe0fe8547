"""The explicit loop: encode -> simulate -> decode -> env step -> reward -> plasticity -> log.

:class:`Pipeline` runs an R-STDP learner (a policy made of core parts: the presets' actor
or a user's network) on a Gymnasium environment (a single ``Env`` or a ``VectorEnv``) or
an SB3 ``VecEnv``, one visible stage per method, as BindsNET's ``EnvironmentPipeline``
did; subclass and override a stage to change it. :meth:`Pipeline.step` is the one learning
step of the toolkit: :meth:`Pipeline.run` loops over it, and so does ``RSTDP.learn`` (which
adds SB3's callbacks, logger and step counter around it).
:class:`DatasetPipeline` is the same loop over a labelled dataset (MNIST tasks).

Gymnasium 1.x autoreset: a ``VectorEnv`` in ``NEXT_STEP`` mode returns the *final*
observation of an ending episode (``terminated`` or ``truncated``); the following
``step`` ignores the action for that sub-env and returns its reset observation with
reward 0. The pipeline therefore (1) bootstraps truncated episodes from their final
observation and terminated ones from nothing, (2) applies no plasticity for the autoreset
step and (3) starts the network state fresh for the new episode. ``SAME_STEP`` mode
(final observation in ``info["final_obs"]``) is handled too. An SB3 ``VecEnv`` resets in
the same step and hands the final observation over as ``info["terminal_observation"]``
(``TimeLimit.truncated`` marks a truncation, which bootstraps).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from spikerl.agents.config import UpdateStats
from spikerl.agents.finite import check_transition

if TYPE_CHECKING:
    from spikerl.agents.core_policy import NetworkLearner, WindowOutput


class EnvStep(NamedTuple):
    """One batched environment step, as the learner needs it.

    Attributes:
        actions: The actions taken ``[B]``.
        obs: The observations the next step acts on ``[B, ...]`` (reset ones where an
            episode ended and the env, or the pipeline, reset it).
        rewards: Rewards ``[B]`` (the env's own array for an SB3 ``VecEnv``).
        terminated: True where the episode ended in a terminal state (no bootstrap).
        done: True where an episode ended (terminated or truncated).
        bootstrap: The observations to bootstrap from ``[B, ...]`` (an ended episode's
            final observation).
        valid: False where the step was no real transition (a ``NEXT_STEP`` autoreset
            step): no plasticity there; None for an SB3 ``VecEnv`` (always real).
        stale: True where ``bootstrap`` is not what the next step acts on (the learner
            encodes those observations afresh; elsewhere it reuses the bootstrap's).
        starts: True where the next step starts a new episode (fresh network state).
        infos: The env's info (a dict, or a list of dicts for an SB3 ``VecEnv``).
    """

    actions: np.ndarray
    obs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    done: np.ndarray
    bootstrap: np.ndarray
    valid: np.ndarray | None
    stale: np.ndarray
    starts: np.ndarray
    infos: Any


@dataclass
class PipelineResult:
    """What a pipeline run produced.

    Attributes:
        steps: Environment steps taken (summed over sub-envs).
        episode_returns: Returns of the episodes that finished.
        episode_lengths: Their lengths.
        seconds: Wall time.
        logs: One dict per log interval (step, mean return, firing rate, |dW|, ...).
        decisions: Decisions whose tie flag the learner reported (``last.tied``), summed
            over sub-envs; 0 for a policy that does not report it.
        tied: How many of them had their best readout score shared (a seeded draw
            decided).
        margin_sum: Sum of their best-minus-second readout scores (spikes).
        action_counts: How often each action was taken (all sub-envs; empty for a
            non-discrete action space).
    """

    steps: int = 0
    episode_returns: list[float] = field(default_factory=list)
    episode_lengths: list[int] = field(default_factory=list)
    seconds: float = 0.0
    logs: list[dict[str, float]] = field(default_factory=list)
    decisions: int = 0
    tied: int = 0
    margin_sum: float = 0.0
    action_counts: list[int] = field(default_factory=list)

    @property
    def tie_fraction(self) -> float:
        """``tied / decisions`` (NaN when no decision reported a tie flag)."""
        return self.tied / self.decisions if self.decisions else float("nan")

    @property
    def margin(self) -> float:
        """Mean decision margin ``margin_sum / decisions`` (NaN when none was reported)."""
        return self.margin_sum / self.decisions if self.decisions else float("nan")


LogFn = Callable[[dict[str, float]], None]


class Pipeline:
    """Run and train an R-STDP learner on an environment, stage by stage.

    Args:
        env: A ``gymnasium.Env``, a ``gymnasium.vector.VectorEnv`` or an SB3 ``VecEnv``
            (batch = number of envs).
        learner: The agent (features = encoder, spiking network, three-factor rule): an
            :class:`~spikerl.agents.core_policy.NetworkLearner` (the presets' actor or a
            user's core network), or an ``RSTDP`` model (its learner is run).
        learn: Apply plasticity (False: run only, with deterministic windows).
        log_every: Steps (per env) between log records.
        log_fn: Called with each log record (e.g. ``wandb.log``).
        lr_schedule: ``progress in [0, 1] -> learning-rate fraction`` (default constant 1).
        life_loss_terminal: For learning only, treat a lost life (``info["lives"]``
            drops, SB3 ``VecEnv``) as the end of the value chain; the game goes on.
    """

    def __init__(
        self,
        env: gym.Env | gym.vector.VectorEnv | VecEnv,
        learner: NetworkLearner | Any,
        *,
        learn: bool = True,
        log_every: int = 1000,
        log_fn: LogFn | None = None,
        lr_schedule: Callable[[float], float] | None = None,
        life_loss_terminal: bool = False,
    ) -> None:
        inner = getattr(learner, "learner", None)  # an RSTDP model: run its learner
        if inner is not None and hasattr(inner, "run_window"):
            learner = inner
        self.env = env
        self.sb3 = isinstance(env, VecEnv)
        self.vector = isinstance(env, gym.vector.VectorEnv)
        self.n_envs = env.num_envs if isinstance(env, gym.vector.VectorEnv | VecEnv) else 1
        if learner.n_envs != self.n_envs:
            raise ValueError(f"learner batch {learner.n_envs} != env batch {self.n_envs}")
        self.learner = learner
        self.learn = learn
        self.log_every = log_every
        self.log_fn = log_fn
        self.lr_schedule = lr_schedule or (lambda _p: 1.0)
        self.life_loss_terminal = life_loss_terminal
        self.lives: np.ndarray | None = None  # last info["lives"] (life_loss_terminal)
        self.num_timesteps = 0  # env steps so far (summed over envs); named in errors
        self._obs: np.ndarray | None = None  # what the current step acts on
        self.autoreset_same_step = False
        self._pending = np.zeros(self.n_envs, dtype=bool)  # NEXT_STEP: next is autoreset
        if self.vector:
            mode = env.metadata.get("autoreset_mode")
            self.autoreset_same_step = getattr(mode, "name", str(mode)) == "SAME_STEP"

    # ----------------------------------------------------------------- stages
    def encode(self, obs: np.ndarray) -> np.ndarray:
        """Observations -> input firing probabilities ``[B, F]`` (or input spikes)."""
        return self.learner.features(obs)

    def simulate(self, phi: np.ndarray) -> WindowOutput | Any:
        """Run the spiking window (and accumulate eligibility when learning)."""
        return self.learner.run_window(phi, deterministic=not self.learn, learn=self.learn)

    def decode(self, out: WindowOutput | Any) -> np.ndarray:
        """Spikes -> actions (the decoder's vote of the action populations)."""
        return out.actions

    def act(self, obs: np.ndarray) -> np.ndarray:
        """encode -> simulate -> decode. When learning, the learner does the three (its
        ``act``): it reuses the encoding it made of the bootstrap observations where they
        are what it acts on now, and samples exploration (stochastic windows)."""
        if self.learn:
            return self.learner.act(obs)
        return self.decode(self.simulate(self.encode(obs)))

    def env_step(self, actions: np.ndarray) -> EnvStep:
        """Step the env: observations, rewards, terminations and what to bootstrap from
        (Gymnasium autoreset modes and SB3's same-step reset, see the module docstring)."""
        b = self.n_envs
        if self.sb3:
            return self._sb3_step(actions)
        env: Any = self.env  # a gymnasium Env or VectorEnv here
        if self.vector:
            obs, r, te, tr, info = env.step(actions)
            nobs, reward, term = np.asarray(obs), np.asarray(r, float), np.asarray(te)
            done = term | np.asarray(tr)
            valid = ~self._pending
            boot = nobs
            stale = np.zeros(b, dtype=bool)
            if self.autoreset_same_step:
                if done.any():
                    boot = nobs.copy()
                    final = info.get("final_obs")
                    for i in np.flatnonzero(done):
                        if final is not None and final[i] is not None:
                            boot[i] = final[i]
                starts = stale = done
            else:
                # the step after a done returns the reset observation: a new episode
                starts = self._pending.copy()
                self._pending = done & valid
            return EnvStep(actions, nobs, reward, term, done, boot, valid, stale, starts, info)
        obs, r, te, tr, info = env.step(int(actions[0]))
        boot = np.asarray(obs)[None]
        done = np.array([te or tr])
        nobs = self._reset(None) if done[0] else boot
        return EnvStep(
            actions, nobs, np.array([float(r)]), np.array([te]), done, boot,
            np.ones(1, dtype=bool), done, done, info,
        )  # fmt: skip

    def _sb3_step(self, actions: np.ndarray) -> EnvStep:
        """An SB3 ``VecEnv`` step: reset in the same step, final observation in the info."""
        env: VecEnv = self.env  # type: ignore[assignment]
        obs = self._obs
        new_obs, rewards, dones, infos = env.step(actions)
        check_transition(obs, new_obs, rewards, infos, self.num_timesteps + env.num_envs)
        boot = np.asarray(new_obs).copy() if dones.any() else np.asarray(new_obs)
        terminated = np.zeros(env.num_envs, dtype=bool)
        if self.life_loss_terminal:
            lives = np.array([info.get("lives", 0) for info in infos])
            if self.lives is not None:
                terminated |= (lives < self.lives) & ~dones
            self.lives = lives
        for i in np.flatnonzero(dones):
            info = infos[i]
            if "terminal_observation" in info:
                boot[i] = info["terminal_observation"]
            terminated[i] = not info.get("TimeLimit.truncated", False)
        return EnvStep(
            actions,
            np.asarray(new_obs),
            rewards,
            terminated,
            dones,
            boot,
            None,
            dones,
            dones,
            infos,
        )

    def plasticity(
        self,
        reward: np.ndarray,
        bootstrap_obs: np.ndarray,
        terminated: np.ndarray,
        valid: np.ndarray | None,
        lr_fraction: float,
        stale: np.ndarray | None = None,
    ) -> UpdateStats:
        """Three-factor update at learning-rate fraction ``lr_fraction``; ``valid`` masks
        out autoreset steps (no real transition)."""
        return self.learner.update(
            np.asarray(reward), bootstrap_obs, terminated, lr_fraction, stale=stale, mask=valid
        )

    def log(self, record: dict[str, float]) -> None:
        """Hand a log record to ``log_fn``."""
        if self.log_fn is not None:
            self.log_fn(record)

    # ------------------------------------------------------------------- loop
    def step(
        self,
        obs: np.ndarray,
        starts: np.ndarray,
        lr_fraction: float = 1.0,
        noise_fraction: float | None = None,
    ) -> tuple[EnvStep, UpdateStats | None]:
        """One environment step from observations ``obs [B, ...]``: fresh state where an
        episode starts, act, step the env, then (when learning) the three-factor update.

        Args:
            obs: Observations the step acts on.
            starts: True where an episode starts.
            lr_fraction: Multiplier of the learning rates for this step.
            noise_fraction: Multiplier of the exploration noise for this step (a learner
                with ``noise_scale``); None leaves it as it is.

        Returns:
            The env step and the update's statistics (None when not learning).
        """
        if noise_fraction is not None and hasattr(self.learner, "noise_scale"):
            self.learner.noise_scale = float(noise_fraction)
        self.learner.reset(starts)
        self._obs = obs
        st = self.env_step(self.act(obs))
        self.num_timesteps += self.n_envs
        stats = None
        if self.learn:
            stats = self.plasticity(
                st.rewards, st.bootstrap, st.terminated, st.valid, lr_fraction, st.stale
            )
        return st, stats

    def _reset(self, seed: int | None) -> np.ndarray:
        self._pending = np.zeros(self.n_envs, dtype=bool)
        env: Any = self.env
        if self.sb3:
            if seed is not None:
                env.seed(seed)
            return np.asarray(env.reset())
        obs, _ = env.reset(seed=seed)
        return np.asarray(obs) if self.vector else np.asarray(obs)[None]

    def run(
        self, n_steps: int | None = None, seed: int | None = None, *, episodes: int | None = None
    ) -> PipelineResult:
        """Run from a fresh reset until ``n_steps`` env steps (summed over sub-envs) are
        taken or ``episodes`` episodes have finished, whichever comes first.

        With ``n_steps`` the learning-rate schedule runs over the step budget; with only
        ``episodes`` there is no known budget and the schedule stays at its start
        (``lr_schedule(0)``). Every episode that finishes is recorded, so a batched env
        may finish a few more than ``episodes`` in its last step.

        Raises:
            ValueError: neither ``n_steps`` nor ``episodes`` is given, or one is < 1.
        """
        if n_steps is None and episodes is None:
            raise ValueError("Pipeline.run needs n_steps or episodes (or both)")
        for name, value in (("n_steps", n_steps), ("episodes", episodes)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        res = PipelineResult()
        t0 = time.time()
        b = self.n_envs
        space: Any = getattr(self.env, "single_action_space", self.env.action_space)
        n_actions = int(getattr(space, "n", 0))
        counts = np.zeros(n_actions, dtype=np.int64)
        obs = self._reset(seed)
        self.learner.forget_observations()
        starts = np.ones(b, dtype=bool)
        ep_ret = np.zeros(b)
        ep_len = np.zeros(b, dtype=np.int64)
        since, dws, mods = 0, [], []
        total_iters = max(1, n_steps // b) if n_steps is not None else None
        all_valid = np.ones(b, dtype=bool)
        it = 0
        while total_iters is None or it < total_iters:
            progress = it / total_iters if total_iters is not None else 0.0
            st, stats = self.step(obs, starts, self.lr_schedule(progress))
            it += 1
            if stats is not None:
                dws.append(stats.mean_abs_dw)
                mods.append(stats.modulation)
            valid = all_valid if st.valid is None else np.asarray(st.valid)
            last = self.learner.last
            if last is not None and hasattr(last, "tied"):
                res.decisions += int(valid.sum())
                res.tied += int(np.asarray(last.tied).reshape(b)[valid].sum())
                res.margin_sum += float(np.asarray(last.margin).reshape(b)[valid].sum())
            if n_actions:
                taken = np.asarray(st.actions).reshape(b)[valid].astype(np.int64)
                counts += np.bincount(taken, minlength=n_actions)
            ep_ret += np.asarray(st.rewards, dtype=np.float64) * valid
            ep_len += valid
            for i in np.flatnonzero(st.done & valid):
                res.episode_returns.append(float(ep_ret[i]))
                res.episode_lengths.append(int(ep_len[i]))
                ep_ret[i] = 0.0
                ep_len[i] = 0
            res.steps += b
            obs, starts = np.asarray(st.obs), st.starts
            since += 1
            if since >= self.log_every:
                rate = getattr(last, "rate", None)
                rec = {
                    "step": float(res.steps),
                    "rollout/ep_rew_mean": float(np.mean(res.episode_returns[-20:]))
                    if res.episode_returns
                    else float("nan"),
                    "snn/firing_rate/actions": float(np.mean(rate))
                    if rate is not None
                    else float("nan"),
                    "snn/tie_fraction": res.tie_fraction,
                    "rstdp/mean_abs_dw": float(np.mean(dws)) if dws else 0.0,
                    "rstdp/modulation": float(np.mean(mods)) if mods else 0.0,
                    "time/fps": res.steps / max(time.time() - t0, 1e-9),
                }
                res.logs.append(rec)
                self.log(rec)
                since, dws, mods = 0, [], []
            if episodes is not None and len(res.episode_returns) >= episodes:
                break
        res.action_counts = counts.tolist()
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
