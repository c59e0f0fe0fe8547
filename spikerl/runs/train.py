"""One training run in a run folder: build, learn with evaluations and checkpoints, evaluate.

:func:`train_run` is what ``spikerl train`` runs once the command line is parsed, the config
resolved and the run folder created; the seed runner and the sweep call it too (inside Ray
workers), so one code path trains every run.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from stable_baselines3.common.callbacks import BaseCallback


class TrainingInterrupted(Exception):
    """``learn`` stopped on SIGINT/SIGTERM; the final checkpoint is saved.

    Attributes:
        timesteps: Environment steps trained when it stopped.
        checkpoint_dir: Folder of the saved checkpoint (``run_dir/checkpoints``).
    """

    def __init__(self, timesteps: int, checkpoint_dir: pathlib.Path) -> None:
        super().__init__(f"interrupted at {timesteps} steps; checkpoint saved in {checkpoint_dir}")
        self.timesteps = timesteps
        self.checkpoint_dir = checkpoint_dir


def start_wandb(cfg: Any, run_dir: pathlib.Path, run_id: str | None) -> Any:
    """``wandb.init`` into ``run_dir`` (offline without an API key); resumes ``run_id``."""
    import wandb

    from spikerl.agents.presets import to_dict

    if not os.environ.get("WANDB_API_KEY") and os.environ.get("WANDB_MODE") is None:
        os.environ["WANDB_MODE"] = "offline"
    return wandb.init(
        project=cfg.wandb_project,
        dir=str(run_dir),
        name=run_dir.name,
        id=run_id,
        resume="allow" if run_id else None,
        config=to_dict(cfg),
        sync_tensorboard=False,
        settings=wandb.Settings(console="off", silent=True),
    )


def log_model_artifact(run: Any, run_dir: pathlib.Path) -> None:
    """The run's model zips (final, best) and resolved config as one wandb ``model``
    artifact named after the run folder."""
    import wandb

    art = wandb.Artifact(f"model-{run_dir.name}".replace("__", "-"), type="model")
    for name in ("final.zip", "best_model.zip", "config.yaml", "eval.json"):
        if (run_dir / name).is_file():
            art.add_file(str(run_dir / name), name=name)
    run.log_artifact(art)


def make_envs(cfg: Any) -> tuple[Any, Any]:
    """Training VecEnv (``n_envs``, seed ``seed``) and evaluation VecEnv (1, ``seed + 1000``)."""
    from spikerl.agents.envs import make_agent_vec_env
    from spikerl.agents.sb3.factory import is_sb3_agent, sb3_vec_env

    make = sb3_vec_env if is_sb3_agent(cfg.agent) else make_agent_vec_env
    env = make(cfg.env, cfg.n_envs, cfg.seed, cfg.env_overrides)
    eval_env = make(cfg.env, 1, cfg.seed + 1000, cfg.env_overrides)
    return env, eval_env


def train_run(
    cfg: Any,
    run_dir: pathlib.Path,
    *,
    resume: bool,
    quiet: bool,
    extra_callbacks: Sequence[BaseCallback] = (),
) -> dict[str, Any]:
    """Train (or continue) the run in ``run_dir`` and evaluate it greedily.

    Writes ``checkpoints/`` (``last.zip``, env state, meta), ``best_model.zip`` and
    ``evaluations.npz`` (SB3 EvalCallback), ``progress.csv``, ``final.zip`` and ``eval.json``
    into ``run_dir`` (and ``wandb/`` with ``cfg.track``, ``tensorboard/`` with
    ``cfg.tensorboard``; with either, the panels of :mod:`spikerl.agents.panels` and an
    MP4 per evaluation in ``videos/``).

    Args:
        cfg: The resolved :class:`~spikerl.agents.presets.TrainConfig` (already saved as
            ``run_dir/config.yaml`` by the caller).
        run_dir: The run folder; with ``resume`` it holds ``checkpoints/last.zip``.
        resume: Continue from ``checkpoints/last.zip`` up to ``cfg.timesteps`` in total.
        quiet: No progress bar.
        extra_callbacks: SB3 callbacks run after each evaluation (as EvalCallback's
            ``callback_after_eval``: ``self.parent`` is the EvalCallback, whose
            ``last_mean_reward`` is the evaluation's mean return); returning ``False``
            from ``_on_step`` stops training.

    Returns:
        The final evaluation (``eval.json``): greedy returns, mean/std and action
        distribution of the best weights (``best_model.zip``; the final weights when there
        was no evaluation during training), ``final``: returns and mean/std of the final
        weights (``final.zip``) on the same episode seeds, the model evaluated, steps and
        training speed.

    Raises:
        TrainingInterrupted: on SIGINT/SIGTERM (the checkpoint is saved first).
    """
    import gymnasium as gym
    from stable_baselines3.common.callbacks import CallbackList, EvalCallback
    from stable_baselines3.common.logger import Logger

    from spikerl.agents.callbacks import (
        CheckpointWriteError,
        ResumableCheckpoint,
        ResumedCSVOutputFormat,
        StopOnSignal,
        load_resumable,
        read_meta,
        restore_evaluations,
        run_writes,
        save_resumable,
        schedule_note,
        write_error,
    )
    from spikerl.agents.finite import NonFiniteError
    from spikerl.agents.panels import EpisodeLog, EvalMedia, WandbOutputFormat
    from spikerl.agents.rstdp import RSTDP
    from spikerl.agents.sb3.factory import SB3_ALGOS, build_sb3_model, is_sb3_agent
    from spikerl.core.io import atomic_write_bytes
    from spikerl.runs.evaluate import evaluate

    model_cls: Any = SB3_ALGOS[cfg.agent] if is_sb3_agent(cfg.agent) else RSTDP
    ckpt = run_dir / "checkpoints"
    meta: dict[str, Any] = read_meta(ckpt) if resume else {}

    try:
        env, eval_env = make_envs(cfg)
    except (TypeError, ValueError, gym.error.Error) as exc:  # e.g. overrides the env rejects
        from spikerl.agents.presets import ConfigError

        raise ConfigError(
            f"environment {cfg.env!r} cannot be built with env_overrides {cfg.env_overrides}: {exc}"
        ) from None
    if resume:
        model = load_resumable(ckpt, env, model_cls)  # env restored from env_state.zip
        note = schedule_note(meta, cfg.timesteps)
        if note:
            print(f"spikerl: note: {note}", file=sys.stderr)
    else:
        model = (
            build_sb3_model(cfg, env)
            if is_sb3_agent(cfg.agent)
            else RSTDP("SpikingPolicy", env, cfg.rstdp, seed=cfg.seed, device=cfg.device)
        )
    model.env_name = cfg.env
    model.env_overrides = dict(cfg.env_overrides)

    run = None
    resume_step = model.num_timesteps if resume else None
    formats: list[Any] = [ResumedCSVOutputFormat(run_dir / "progress.csv", resume_step)]
    if cfg.track:
        run = start_wandb(cfg, run_dir, meta.get("wandb_id"))
        formats.append(WandbOutputFormat())
    if cfg.tensorboard:
        from stable_baselines3.common.logger import TensorBoardOutputFormat

        formats.append(TensorBoardOutputFormat(str(run_dir / "tensorboard")))
    model.set_logger(Logger(str(run_dir), formats))

    def meta_fn() -> dict[str, Any]:
        return {"wandb_id": run.id if run is not None else None}

    stop = StopOnSignal()
    dashboards = cfg.track or cfg.tensorboard
    after: list[BaseCallback] = []
    if dashboards:
        videos = run_dir / "videos" if cfg.track or cfg.video else None
        after.append(EvalMedia(cfg.env, cfg.env_overrides, videos, seed=cfg.seed + 2000))
    after += list(extra_callbacks)
    after_eval: BaseCallback | None = None
    if len(after) == 1:
        after_eval = after[0]
    elif after:
        after_eval = CallbackList(after)
    eval_cb = EvalCallback(
        eval_env,
        callback_after_eval=after_eval,
        n_eval_episodes=cfg.eval_episodes,
        eval_freq=max(1, cfg.eval_freq // cfg.n_envs) if cfg.eval_freq > 0 else 10**12,
        best_model_save_path=str(run_dir),
        log_path=str(run_dir),
        deterministic=True,
        verbose=0,
    )
    if resume:
        restore_evaluations(eval_cb, run_dir, model.num_timesteps)
    if isinstance(meta.get("best_mean_reward"), int | float):
        eval_cb.best_mean_reward = float(meta["best_mean_reward"])
    if eval_cb.evaluations_results:
        # A kill between the model's and the meta's renames leaves meta.json one checkpoint
        # behind the model; the restored history (up to the model's step) has the best mean.
        history = max(
            (float(np.mean(r)) for r in eval_cb.evaluations_results if r), default=-np.inf
        )
        eval_cb.best_mean_reward = max(eval_cb.best_mean_reward, history)

    def meta_all() -> dict[str, Any]:
        return {**meta_fn(), "best_mean_reward": float(eval_cb.best_mean_reward)}

    cbs = CallbackList(
        [ResumableCheckpoint(ckpt, cfg.checkpoint_freq, meta_all, prefix=cfg.agent), eval_cb, stop]
        + ([EpisodeLog()] if dashboards and is_sb3_agent(cfg.agent) else [])
    )
    remaining = cfg.timesteps - model.num_timesteps
    t0 = time.time()
    start_steps = model.num_timesteps
    stop.install()
    failed = False
    try:
        if remaining > 0:
            model.learn(
                remaining,
                callback=cbs,
                reset_num_timesteps=not resume,
                progress_bar=not quiet,
            )
    except (CheckpointWriteError, NonFiniteError):
        failed = True  # keep the last good checkpoint: no final save
        raise
    except OSError as exc:  # disk full while logging or evaluating
        failed = True
        raise write_error(exc, run_dir) from None
    finally:
        stop.uninstall()
        if not failed:
            save_resumable(model, ckpt, meta_all())
    train_s = time.time() - t0
    if stop.stopped:
        if run is not None:
            run.finish()
        raise TrainingInterrupted(model.num_timesteps, ckpt)
    with run_writes(run_dir):
        model.save(run_dir / "final.zip")
    best = run_dir / "best_model.zip"
    chosen = model_cls.load(best) if best.is_file() else model
    result = evaluate(
        chosen,
        cfg.env,
        cfg.env_overrides,
        cfg.final_eval_episodes,
        cfg.seed + 5000,
        video_path=(run_dir / "episode.mp4") if cfg.video or cfg.track else None,
    )
    # The final weights are the result (a policy can collapse after its best evaluation):
    # evaluate them too, on the same episodes' seeds.
    final = (
        evaluate(model, cfg.env, cfg.env_overrides, cfg.final_eval_episodes, cfg.seed + 5000)
        if best.is_file()
        else dict(result)
    )
    result.update(
        final={k: final[k] for k in ("mean_reward", "std_reward", "returns")},
        run_dir=str(run_dir),
        model="best_model.zip" if best.is_file() else "final.zip",
        timesteps=model.num_timesteps,
        train_seconds=round(train_s, 1),
        env_steps_per_s=round((model.num_timesteps - start_steps) / max(train_s, 1e-9), 1),
    )
    with run_writes(run_dir):
        atomic_write_bytes(json.dumps(result, indent=1).encode(), run_dir / "eval.json")
    if run is not None:
        import wandb

        log: dict[str, Any] = {
            "eval/final_mean_reward": result["mean_reward"],
            "global_step": model.num_timesteps,
        }
        video = run_dir / "episode.mp4"
        if video.is_file():
            log["eval/final_episode_video"] = wandb.Video(str(video), format="mp4")
        wandb.log(log)
        log_model_artifact(run, run_dir)
        run.finish()
    env.close()
    eval_env.close()
    return result
