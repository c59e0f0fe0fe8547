"""``spikerl`` command line: ``train``, ``eval`` and ``presets``.

Examples::

    spikerl train --env Breakout                      # the README's main job
    spikerl train --env CartPole --seed 1 --set rstdp.learn.lr_actor=0.3 --track
    spikerl train --resume runs/CartPole__rstdp__1__20260101-120000
    spikerl eval runs/CartPole__rstdp__1__20260101-120000 --episodes 20 --video
    spikerl presets

A run writes ``runs/<env>__<agent>__<seed>__<time>/``: ``config.yaml`` (resolved),
``checkpoints/`` (``last.zip`` + env state every ``checkpoint_freq`` steps, numbered
copies), ``best_model.zip`` and ``evaluations.npz`` (SB3 EvalCallback), ``progress.csv``
(SB3 logger), ``final.zip``, ``eval.json`` (final evaluation) and ``wandb/`` with
``--track``. Ctrl-C stops at the next step boundary and saves a final checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import Any

import yaml

EXIT_USAGE = 2


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spikerl", description="Spiking RL agents.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train an agent; writes runs/<env>__<agent>__<seed>__<time>/")
    t.add_argument("--env", help="environment short name (see `spikerl presets`)")
    t.add_argument("--agent", default="rstdp", help="agent family (default rstdp)")
    t.add_argument("--timesteps", type=int, help="environment steps (preset default)")
    t.add_argument("--seed", type=int, help="seed (default 0)")
    t.add_argument("--n-envs", type=int, help="environments run as one batch")
    t.add_argument("--device", help="torch device (R-STDP runs on cpu)")
    t.add_argument("--config", type=pathlib.Path, help="YAML file merged over the preset")
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. rstdp.learn.lr_actor=0.3 (repeatable)",
    )
    t.add_argument("--track", action="store_true", help="log to wandb (offline without a key)")
    t.add_argument("--resume", type=pathlib.Path, metavar="RUN_DIR", help="continue a run")
    t.add_argument("--runs-dir", type=pathlib.Path, default=pathlib.Path("runs"))
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    e = sub.add_parser("eval", help="evaluate a run folder or a model zip")
    e.add_argument("target", type=pathlib.Path, metavar="RUN_OR_ZIP")
    e.add_argument("--episodes", type=int, default=10)
    e.add_argument("--env", help="environment short name (needed for a bare zip without one)")
    e.add_argument("--video", action="store_true", help="write an episode GIF beside the model")
    e.add_argument("--seed", type=int, default=12345)
    sub.add_parser("presets", help="list environment and agent presets")
    sub.add_parser(
        "mnist",
        help="MNIST: --mode unsupervised|supervised|surrogate (see `spikerl mnist --help`)",
        add_help=False,
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spikerl`` command. Returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["mnist"]:  # the MNIST tasks parse their own options
        from spikerl.tasks.mnist import main as mnist_main

        return mnist_main(args_list[1:])
    args = _parser().parse_args(args_list)
    try:
        if args.command == "train":
            return cmd_train(args)
        if args.command == "eval":
            return cmd_eval(args)
        return cmd_presets()
    except CLIError as exc:
        print(f"spikerl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, FileNotFoundError) as exc:
        from spikerl.agents.presets import ConfigError

        if isinstance(exc, ConfigError | FileNotFoundError) or "unknown" in str(exc):
            print(f"spikerl: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        from spikerl.agents.persistence import CheckpointError

        if isinstance(exc, CheckpointError):
            print(f"spikerl: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        raise


def cmd_presets() -> int:
    """Print the environment and agent presets."""
    from spikerl.agents.envs import env_names
    from spikerl.agents.presets import AGENTS, read_agent_presets

    print("environments:", ", ".join(env_names()))
    for agent in AGENTS:
        tuned = [k for k in read_agent_presets(agent) if k != "default"]
        print(f"agent {agent}: tuned for {', '.join(tuned)} (others use 'default')")
    return 0


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from spikerl.agents.presets import parse_set

    out = parse_set(list(args.set))
    for flag, key in (
        ("timesteps", "timesteps"),
        ("seed", "seed"),
        ("n_envs", "n_envs"),
        ("device", "device"),
    ):
        value = getattr(args, flag)
        if value is not None:
            out[key] = value
    if args.track:
        out["track"] = True
    return out


def _check_env(name: str) -> None:
    from spikerl.agents.envs import env_names

    names = env_names()
    if name not in names:
        raise CLIError(f"unknown environment {name!r}; options: {', '.join(names)}")


def _check_agent(name: str) -> None:
    from spikerl.agents.presets import AGENTS

    if name not in AGENTS:
        raise CLIError(f"unknown agent {name!r}; options: {', '.join(AGENTS)}")


def _start_wandb(cfg: Any, run_dir: pathlib.Path, run_id: str | None) -> Any:
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


def _make_envs(cfg: Any) -> tuple[Any, Any]:
    from spikerl.agents.envs import make_agent_vec_env

    env = make_agent_vec_env(cfg.env, cfg.n_envs, cfg.seed, cfg.env_overrides)
    eval_env = make_agent_vec_env(cfg.env, 1, cfg.seed + 1000, cfg.env_overrides)
    return env, eval_env


def cmd_train(args: argparse.Namespace) -> int:
    """``spikerl train``: new run or ``--resume``."""
    import cloudpickle
    from stable_baselines3.common.callbacks import CallbackList, EvalCallback
    from stable_baselines3.common.logger import Logger, make_output_format

    from spikerl.agents.callbacks import (
        ENV_STATE,
        LAST,
        META,
        ResumableCheckpoint,
        StopOnSignal,
        WandbMediaCallback,
        WandbOutputFormat,
        save_resumable,
    )
    from spikerl.agents.presets import TrainConfig, build, resolve, to_dict
    from spikerl.agents.rstdp import RSTDP

    meta: dict[str, Any] = {}
    if args.resume is not None:
        run_dir = args.resume
        cfg_path = run_dir / "config.yaml"
        if not cfg_path.is_file():
            raise CLIError(f"--resume {run_dir}: no config.yaml there (not a run folder)")
        data = yaml.safe_load(cfg_path.read_text())
        from spikerl.agents.presets import _merge

        cfg: TrainConfig = build(TrainConfig, _merge(data, _overrides(args)))
        ckpt = run_dir / "checkpoints"
        if not (ckpt / LAST).is_file():
            raise CLIError(f"--resume {run_dir}: no checkpoints/{LAST} to continue from")
        meta = json.loads((ckpt / META).read_text()) if (ckpt / META).is_file() else {}
    else:
        if not args.env:
            raise CLIError("train needs --env NAME (or --resume RUN_DIR)")
        _check_agent(args.agent)
        _check_env(args.env)
        cfg = resolve(args.env, args.agent, args.config, _overrides(args))
        if cfg.device not in ("cpu", "auto"):
            raise CLIError(
                f"device {cfg.device!r}: the R-STDP agent runs on cpu (hand-written NumPy step)"
            )
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = args.runs_dir / f"{cfg.env}__{cfg.agent}__{cfg.seed}__{stamp}"
        n = 1
        while run_dir.exists():
            n += 1
            run_dir = args.runs_dir / f"{cfg.env}__{cfg.agent}__{cfg.seed}__{stamp}-{n}"
        run_dir.mkdir(parents=True)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    ckpt = run_dir / "checkpoints"

    env, eval_env = _make_envs(cfg)
    if args.resume is not None:
        if (ckpt / ENV_STATE).is_file():
            env.close()
            env = cloudpickle.loads((ckpt / ENV_STATE).read_bytes())
            model = RSTDP.load(ckpt / LAST, env=env, force_reset=False)
        else:
            model = RSTDP.load(ckpt / LAST, env=env, force_reset=True)
    else:
        model = RSTDP("SpikingPolicy", env, cfg.rstdp, seed=cfg.seed, device=cfg.device)
    model.env_name = cfg.env
    model.env_overrides = dict(cfg.env_overrides)

    run = None
    formats = [make_output_format("csv", str(run_dir))]
    if cfg.track:
        run = _start_wandb(cfg, run_dir, meta.get("wandb_id"))
        formats.append(WandbOutputFormat())
    model.set_logger(Logger(str(run_dir), formats))

    def meta_fn() -> dict[str, Any]:
        return {"wandb_id": run.id if run is not None else None}

    stop = StopOnSignal()
    after_eval = WandbMediaCallback(_make_envs(cfg)[1]) if cfg.track else None
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
    if "best_mean_reward" in meta:
        eval_cb.best_mean_reward = float(meta["best_mean_reward"])

    def meta_all() -> dict[str, Any]:
        return {**meta_fn(), "best_mean_reward": float(eval_cb.best_mean_reward)}

    cbs = CallbackList([ResumableCheckpoint(ckpt, cfg.checkpoint_freq, meta_all), eval_cb, stop])
    remaining = cfg.timesteps - model.num_timesteps
    t0 = time.time()
    start_steps = model.num_timesteps
    stop.install()
    try:
        if remaining > 0:
            model.learn(
                remaining,
                callback=cbs,
                reset_num_timesteps=args.resume is None,
                progress_bar=not args.quiet,
            )
    finally:
        stop.uninstall()
        save_resumable(model, ckpt, meta_all())
    train_s = time.time() - t0
    if stop.stopped:
        print(
            f"interrupted at {model.num_timesteps} steps; checkpoint saved in {ckpt}",
            file=sys.stderr,
        )
        if run is not None:
            run.finish()
        return 130
    model.save(run_dir / "final.zip")
    best = run_dir / "best_model.zip"
    chosen = RSTDP.load(best) if best.is_file() else model
    result = evaluate(
        chosen,
        cfg.env,
        cfg.env_overrides,
        cfg.final_eval_episodes,
        cfg.seed + 5000,
        video_path=(run_dir / "episode.gif") if cfg.video or cfg.track else None,
    )
    result.update(
        run_dir=str(run_dir),
        model="best_model.zip" if best.is_file() else "final.zip",
        timesteps=model.num_timesteps,
        train_seconds=round(train_s, 1),
        env_steps_per_s=round((model.num_timesteps - start_steps) / max(train_s, 1e-9), 1),
    )
    (run_dir / "eval.json").write_text(json.dumps(result, indent=1))
    if run is not None:
        import wandb

        log: dict[str, Any] = {
            "eval/final_mean_reward": result["mean_reward"],
            "global_step": model.num_timesteps,
        }
        gif = run_dir / "episode.gif"
        if gif.is_file():
            log["eval/episode_video"] = wandb.Video(str(gif), format="gif")
        wandb.log(log)
        run.finish()
    print(json.dumps(result))
    env.close()
    eval_env.close()
    return 0


def evaluate(
    model: Any,
    env_name: str,
    overrides: dict[str, Any],
    episodes: int,
    seed: int,
    video_path: pathlib.Path | None = None,
) -> dict[str, Any]:
    """Greedy evaluation: returns, their mean/std, and the action distribution."""
    import numpy as np

    from spikerl.agents.envs import make_agent_vec_env

    env = make_agent_vec_env(env_name, 1, seed, overrides)
    returns: list[float] = []
    counts = np.zeros(env.action_space.n, dtype=np.int64)  # type: ignore[attr-defined]
    obs = env.reset()
    state = None
    starts = np.ones(1, dtype=bool)
    ret = 0.0
    while len(returns) < episodes:
        action, state = model.predict(obs, state, starts, deterministic=True)
        counts[int(action[0])] += 1
        obs, r, done, _ = env.step(action)
        ret += float(r[0])
        starts = done
        if done[0]:
            returns.append(ret)
            ret = 0.0
    env.close()
    if video_path is not None:
        with contextlib.suppress(Exception):
            record_gif(model, env_name, overrides, seed, video_path)
    total = max(int(counts.sum()), 1)
    return {
        "env": env_name,
        "episodes": episodes,
        "mean_reward": float(np.mean(returns)),
        "std_reward": float(np.std(returns)),
        "returns": [round(x, 2) for x in returns],
        "action_distribution": [round(int(c) / total, 4) for c in counts],
    }


def record_gif(
    model: Any,
    env_name: str,
    overrides: dict[str, Any],
    seed: int,
    path: pathlib.Path,
    max_frames: int = 1500,
) -> None:
    """Write one greedy episode as a GIF (every second frame, capped at ``max_frames``)."""
    import imageio
    import numpy as np

    from spikerl.agents.envs import make_agent_env_fn

    env = make_agent_env_fn(env_name, overrides, render_mode="rgb_array")
    obs, _ = env.reset(seed=seed)
    frames = []
    state = None
    start = np.ones(1, dtype=bool)
    for t in range(max_frames):
        action, state = model.predict(obs[None], state, start, deterministic=True)
        start = np.zeros(1, dtype=bool)
        obs, _, term, trunc, _ = env.step(int(action[0]))
        if t % 2 == 0:
            frames.append(_frame(env))
        if term or trunc:
            break
    env.close()
    imageio.mimsave(path, frames, duration=0.04, loop=0)


def _frame(env: Any) -> Any:
    """``env.render()``, or a simple drawing of CartPole when pygame is not installed."""
    import numpy as np
    from gymnasium.error import DependencyNotInstalled

    try:
        return np.asarray(env.render())
    except DependencyNotInstalled:
        state = getattr(env.unwrapped, "state", None)
        if state is None or len(state) != 4:
            raise
        x, _, theta, _ = (float(v) for v in state)
        img = np.full((100, 200, 3), 255, dtype=np.uint8)
        img[78:80, :] = 0
        cx = int(np.clip(100 + x / 2.4 * 90, 10, 189))
        img[70:78, cx - 10 : cx + 10] = (40, 40, 40)
        for k in range(45):
            px = round(cx + k * np.sin(theta))
            py = round(70 - k * np.cos(theta))
            if 0 <= px < 200 and 0 <= py < 100:
                img[py, max(px - 1, 0) : px + 2] = (200, 110, 50)
        return img


def cmd_eval(args: argparse.Namespace) -> int:
    """``spikerl eval RUN_OR_ZIP``."""
    from spikerl.agents.rstdp import RSTDP

    target: pathlib.Path = args.target
    overrides: dict[str, Any] = {}
    env_name = args.env
    if target.is_dir():
        cfg_path = target / "config.yaml"
        if not cfg_path.is_file():
            raise CLIError(f"{target}: not a run folder (no config.yaml)")
        cfg = yaml.safe_load(cfg_path.read_text())
        env_name = env_name or cfg["env"]
        overrides = cfg.get("env_overrides") or {}
        for name in ("best_model.zip", "final.zip", "checkpoints/last.zip"):
            if (target / name).is_file():
                target = target / name
                break
        else:
            raise CLIError(f"{args.target}: no model zip in the run folder")
    elif not target.is_file():
        raise CLIError(f"{target}: no such run folder or model zip")
    model = RSTDP.load(target)
    env_name = env_name or getattr(model, "env_name", None)
    if env_name is None:
        raise CLIError(f"{target}: the zip names no environment; pass --env NAME")
    _check_env(env_name)
    if not overrides:
        overrides = dict(getattr(model, "env_overrides", {}) or {})
    video = target.with_suffix(".gif") if args.video else None
    result = evaluate(model, env_name, overrides, args.episodes, args.seed, video)
    result["model"] = str(target)
    if video is not None:
        result["video"] = str(video) if video.is_file() else None
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
