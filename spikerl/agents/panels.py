"""Dashboard panels of a spiking agent, through SB3's logger (TensorBoard and wandb).

Everything goes through the SB3 ``Logger`` that the algorithm already has, so
``RSTDP(..., tensorboard_log=dir)`` (SB3's own ``TensorBoardOutputFormat``) and
``spikerl train --track`` (:class:`WandbOutputFormat`) get the same keys:

========================== ============================================================
key                        what
========================== ============================================================
``episode/return``         return of each finished training episode (its own step)
``episode/length``         length of each finished training episode (env steps)
``rstdp/td_error``         histogram of the third factor of each update since the last
                           dump: ``delta = clip(r + gamma V(s') - V(s))`` (batch mean of
                           the update; ``rstdp/reward_modulation`` with reward modulation)
``rstdp/eligibility``      histogram of the eligibility traces ``e`` at the dump
                           (all plastic projections together; a policy of parts also
                           per projection ``rstdp/eligibility/<src>-><tgt>``)
``weights/<src>-><tgt>``   histogram of each projection's weights (and ``weights/critic``)
``snn/firing_rate/*``      spikes per neuron per simulation step, per population
``snn/tie_fraction``       fraction of decisions whose best score was shared
``snn/decision_margin``    mean best-minus-second readout score
``eval/episode_spikes``    spike raster + membrane potentials of one greedy evaluation
                           episode (image, after each evaluation)
``eval/episode_video``     MP4 of that episode (wandb only: TensorBoard's video needs
                           moviepy)
========================== ============================================================

Histograms are numpy arrays recorded with every text format excluded (SB3's TensorBoard
writer turns arrays into histograms; :class:`WandbOutputFormat` into ``wandb.Histogram``).
Per-episode values and evaluation media are written straight to the TensorBoard and wandb
writers at their own step (:func:`log_now`), so they neither wait for nor disturb the
logger's pending row (``progress.csv`` keeps one row per dump).
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback
from stable_baselines3.common.logger import Image, KVWriter, Logger, TensorBoardOutputFormat

#: Formats that cannot show a histogram or an image (SB3 names).
TEXT_FORMATS = ("stdout", "log", "csv", "json")
#: Values above this many are subsampled (every k-th) before a histogram.
MAX_HISTOGRAM = 100_000


@dataclass(frozen=True)
class VideoFile:
    """An encoded video file to log (wandb shows it; TensorBoard's writer ignores it)."""

    path: pathlib.Path
    fps: int = 30


def _subsample(values: np.ndarray) -> np.ndarray:
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size > MAX_HISTOGRAM:
        flat = flat[:: int(np.ceil(flat.size / MAX_HISTOGRAM))]
    return flat


class WandbOutputFormat(KVWriter):
    """SB3 logger output that forwards every dump to ``wandb.log``.

    Numbers go as they are; numpy arrays as ``wandb.Histogram``; SB3 ``Image`` values as
    ``wandb.Image``; :class:`VideoFile` as ``wandb.Video``. Keys excluded for ``"wandb"``
    are skipped. Nothing is logged while no wandb run is active.
    """

    def write(
        self,
        key_values: dict[str, Any],
        key_excluded: dict[str, tuple[str, ...]],
        step: int = 0,
    ) -> None:
        """Log the values at ``step`` (``global_step`` is the x axis)."""
        import wandb

        if wandb.run is None:
            return
        data: dict[str, Any] = {}
        for k, v in key_values.items():
            if "wandb" in (key_excluded.get(k) or ()):
                continue
            if isinstance(v, bool):
                continue
            if isinstance(v, int | float | np.integer | np.floating):
                data[k] = v
            elif isinstance(v, np.ndarray) and v.size:
                data[k] = wandb.Histogram(_subsample(v).tolist())
            elif isinstance(v, Image):
                data[k] = wandb.Image(np.asarray(v.image))
            elif isinstance(v, VideoFile):
                data[k] = wandb.Video(
                    str(v.path), format="gif" if v.path.suffix == ".gif" else "mp4"
                )
        if data:
            wandb.log({**data, "global_step": step})

    def close(self) -> None:
        """Nothing to close (the run is finished by its owner)."""


def log_now(logger: Logger | None, values: dict[str, Any], step: int) -> None:
    """Write ``values`` at ``step`` to the logger's TensorBoard and wandb writers only.

    Bypasses the logger's pending row: nothing is added to ``progress.csv`` or stdout,
    and values recorded for the next dump stay pending.
    """
    if logger is None:
        return
    excluded: dict[str, tuple[str, ...]] = {k: () for k in values}
    for fmt in getattr(logger, "output_formats", []):
        if isinstance(fmt, TensorBoardOutputFormat | WandbOutputFormat):
            fmt.write(values, excluded, step)


def log_episodes(logger: Logger | None, infos: Any, dones: np.ndarray, step: int) -> None:
    """``episode/return`` and ``episode/length`` of each episode that just ended.

    Reads SB3's ``Monitor`` record ``info["episode"] = {"r": return, "l": length}``.
    """
    if logger is None or not np.any(dones):
        return
    for i in np.flatnonzero(dones):
        ep = infos[i].get("episode") if i < len(infos) else None
        if ep is not None:
            log_now(
                logger, {"episode/return": float(ep["r"]), "episode/length": int(ep["l"])}, step
            )


class EpisodeLog(BaseCallback):
    """Per-episode return and length for any SB3 algorithm (PPO, A2C, DQN, RSTDP)."""

    def _on_step(self) -> bool:
        dones = self.locals.get("dones")
        infos = self.locals.get("infos")
        if dones is not None and infos is not None:
            log_episodes(self.logger, infos, np.asarray(dones), self.num_timesteps)
        return True


def record_distributions(model: Any, third_factor: list[float]) -> None:
    """Record the histograms of an R-STDP agent for the next dump (text formats excluded).

    Args:
        model: An :class:`~spikerl.agents.rstdp.RSTDP` (built-in actor or parts policy).
        third_factor: The modulation of each update since the last dump.
    """
    from spikerl.agents.config import Modulation

    logger = model.logger
    learn = model.config.learn
    key = "rstdp/td_error" if learn.modulation is Modulation.TD_ERROR else "rstdp/reward_modulation"
    if third_factor:
        logger.record(key, np.asarray(third_factor, dtype=np.float64), exclude=TEXT_FORMATS)
    for name, arr in eligibilities(model).items():
        logger.record(name, _subsample(arr), exclude=TEXT_FORMATS)
    for name, arr in weight_arrays(model).items():
        logger.record(name, _subsample(arr), exclude=TEXT_FORMATS)


def eligibilities(model: Any) -> dict[str, np.ndarray]:
    """Eligibility traces of the agent's plastic weights, by panel key."""
    learner = getattr(model, "learner", None)
    if learner is None:
        return {}
    learn_state = getattr(learner, "learn_state", None)
    if learn_state is not None:
        return {"rstdp/eligibility": np.asarray(learn_state.elig)}
    out: dict[str, np.ndarray] = {}
    for p in getattr(learner, "plasticities", []):
        if p.rule_state is not None:
            out[f"rstdp/eligibility/{p.source}->{p.target}"] = p.rule_state.detach().cpu().numpy()
    if out:  # the panel every agent has: all plastic projections' traces together
        out["rstdp/eligibility"] = np.concatenate([a.ravel() for a in out.values()])
    return out


def weight_arrays(model: Any) -> dict[str, np.ndarray]:
    """Weights of each projection (and the critic) of an R-STDP agent, by panel key."""
    out: dict[str, np.ndarray] = {}
    learner = getattr(model, "learner", None)
    for p in getattr(learner, "plasticities", []):
        out[f"weights/{p.source}->{p.target}"] = p.projection.weight.detach().cpu().numpy()
    critic = getattr(learner, "critic", None)
    if critic is not None:
        out["weights/critic"] = np.asarray(critic)
    return out


class EvalMedia(BaseCallback):
    """After each evaluation: one greedy episode as a figure (spike raster + membrane
    potentials) and an MP4, plus the weight histograms, to TensorBoard and wandb.

    Use as ``EvalCallback(..., callback_after_eval=EvalMedia("CartPole", video_dir=...))``.
    The episode is seeded ``seed`` each time, so the panels compare the same start state.

    Args:
        env_name: Short name or Gymnasium id (the run's recipe).
        overrides: The run's ``env_overrides``.
        video_dir: Folder of the MP4s (``eval_<step>.mp4``); ``None``: no video.
        seed: Reset seed of the recorded episode.
        max_steps: Cap on the recorded episode (env steps).
    """

    def __init__(
        self,
        env_name: str,
        overrides: dict[str, Any] | None = None,
        video_dir: pathlib.Path | None = None,
        seed: int = 0,
        max_steps: int = 500,
    ) -> None:
        super().__init__()
        self.env_name = env_name
        self.overrides = dict(overrides or {})
        self.video_dir = video_dir
        self.seed = seed
        self.max_steps = max_steps
        self.errors: list[str] = []

    def _on_step(self) -> bool:
        values: dict[str, Any] = {}
        try:
            values.update(self.media())
        except Exception as exc:  # plotting must never kill training
            self.errors.append(f"{type(exc).__name__}: {exc}")
        for name, arr in weight_arrays(self.model).items():
            values[name] = _subsample(arr)
        if isinstance(self.parent, EvalCallback):
            values["eval/best_mean_reward"] = float(self.parent.best_mean_reward)
        log_now(self.logger, values, self.num_timesteps)
        return True

    def media(self) -> dict[str, Any]:
        """Record the episode; the figure as an SB3 ``Image``, the video as a file."""
        from spikerl.agents.envs import make_agent_env_fn
        from spikerl.plotting.episode import episode_figure, record_episode, write_video
        from spikerl.plotting.export import figure_to_array

        env = make_agent_env_fn(self.env_name, self.overrides, render_mode="rgb_array")
        try:
            rec = record_episode(
                self.model,
                env,
                self.seed,
                max_steps=self.max_steps,
                render=bool(self.video_dir),
                frame_every=2,
            )
        finally:
            env.close()
        out: dict[str, Any] = {"eval/episode_return": rec.episode_return}
        if rec.spikes is not None:
            img = figure_to_array(episode_figure(rec))
            out["eval/episode_spikes"] = Image(img, "HWC")
        if self.video_dir is not None and rec.frames:
            fps = max(1, int(env.metadata.get("render_fps") or 30) // 2)
            path = write_video(
                rec.frames, self.video_dir / f"eval_{self.num_timesteps}.mp4", fps=fps
            )
            out["eval/episode_video"] = VideoFile(path)
        return out
