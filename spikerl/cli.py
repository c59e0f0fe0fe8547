"""``spikerl`` command line: ``train``, ``eval``, ``enjoy``, ``plot``, ``presets``, ``mnist``.

Examples::

    spikerl train --env Breakout                      # the README's main job
    spikerl train --env CartPole --seed 1 --set rstdp.learn.lr_actor=0.3 --track
    spikerl train --resume runs/CartPole__rstdp__1__20260101-120000
    spikerl eval runs/CartPole__rstdp__1__20260101-120000 --episodes 20 --video
    spikerl enjoy runs/CartPole__rstdp__1__20260101-120000 --video cartpole.mp4
    spikerl plot runs/CartPole__rstdp__0__* runs/CartPole__rstdp__1__* --out curves.png
    spikerl presets

A run writes ``runs/<env>__<agent>__<seed>__<time>/``: ``config.yaml`` (resolved),
``checkpoints/`` (``last.zip`` + env state every ``checkpoint_freq`` steps, numbered
copies), ``best_model.zip`` and ``evaluations.npz`` (SB3 EvalCallback), ``progress.csv``
(SB3 logger), ``final.zip``, ``eval.json`` (final evaluation) and ``wandb/`` with
``--track``. Ctrl-C stops at the next step boundary and saves a final checkpoint.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

EXIT_USAGE = 2


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spikerl", description="Spiking RL agents.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train an agent; writes runs/<env>__<agent>__<seed>__<time>/")
    t.add_argument("--env", help="environment short name (see `spikerl presets`)")
    t.add_argument(
        "--agent",
        "--algo",
        dest="agent",
        default="rstdp",
        help="agent: rstdp (default) or SB3's ppo, a2c, dqn (presets agents/<name>.yaml)",
    )
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
    t.add_argument(
        "--tensorboard", action="store_true", help="TensorBoard event files in <run>/tensorboard"
    )
    t.add_argument("--resume", type=pathlib.Path, metavar="RUN_DIR", help="continue a run")
    t.add_argument("--runs-dir", type=pathlib.Path, default=pathlib.Path("runs"))
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        metavar="SEED",
        help="train these seeds in parallel on Ray, then write summary.json (needs spikerl[ray])",
    )
    _add_ray_flags(t)
    w = sub.add_parser(
        "sweep",
        help="hyperparameter sweep on Ray Tune (Optuna TPE + ASHA); needs spikerl[ray]",
    )
    w.add_argument("--env", help="environment short name (see `spikerl presets`)")
    w.add_argument("--agent", default="rstdp", help="agent family (default rstdp)")
    w.add_argument("--space", type=pathlib.Path, help="search space YAML (agents/spaces/*.yaml)")
    w.add_argument("--trials", type=int, default=16, help="number of trials (default 16)")
    w.add_argument("--timesteps", type=int, help="environment steps per trial (preset default)")
    w.add_argument("--seed", type=int, help="seed of every trial (default 0)")
    w.add_argument("--config", type=pathlib.Path, help="YAML file merged over the preset")
    w.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override")
    w.add_argument("--max-concurrent", type=int, default=0, help="trials at once (0: CPUs)")
    w.add_argument("--search-seed", type=int, default=0, help="seed of the TPE sampler")
    w.add_argument("--resume", type=pathlib.Path, metavar="SWEEP_DIR", help="continue a sweep")
    w.add_argument("--runs-dir", type=pathlib.Path, default=pathlib.Path("runs"))
    _add_ray_flags(w)
    e = sub.add_parser("eval", help="evaluate a run folder or a model zip")
    e.add_argument("target", type=pathlib.Path, metavar="RUN_OR_ZIP")
    e.add_argument("--episodes", type=int, default=10)
    e.add_argument("--env", help="environment short name (needed for a bare zip without one)")
    e.add_argument("--video", action="store_true", help="write an episode MP4 beside the model")
    e.add_argument("--seed", type=int, default=12345)
    j = sub.add_parser("enjoy", help="watch a trained agent live, or write an MP4 (--video)")
    j.add_argument("target", type=pathlib.Path, metavar="RUN_OR_ZIP")
    j.add_argument("--video", type=pathlib.Path, metavar="OUT.mp4", help="write an MP4 (or .gif)")
    j.add_argument(
        "--figure", type=pathlib.Path, metavar="OUT.png", help="spike raster + potentials"
    )
    j.add_argument("--episodes", type=int, default=1)
    j.add_argument("--env", help="environment short name (needed for a bare zip without one)")
    j.add_argument("--seed", type=int, default=0, help="seed of the first episode's reset")
    j.add_argument("--max-steps", type=int, default=10_000, help="cap per episode")
    q = sub.add_parser("plot", help="learning curves of run folders (PNG)")
    q.add_argument("runs", type=pathlib.Path, nargs="+", metavar="RUN")
    q.add_argument(
        "--out", type=pathlib.Path, help="PNG to write (default RUN/curves.png or curves.png)"
    )
    q.add_argument("--title", default="", help="figure title")
    sub.add_parser("presets", help="list environment and agent presets")
    sub.add_parser(
        "mnist",
        help="MNIST: --mode unsupervised|supervised|surrogate|conv-stdp (`spikerl mnist --help`)",
        add_help=False,
    )
    return p


def _add_ray_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cpus-per-run", type=float, default=1.0, help="CPUs per run (seeds/sweep; default 1)"
    )
    p.add_argument(
        "--address",
        help="Ray cluster: auto, HOST:PORT or ray://HOST:10001 (default: this machine's CPUs)",
    )


def _run_failures() -> tuple[type[BaseException], ...]:
    from spikerl.agents.callbacks import CheckpointWriteError
    from spikerl.agents.finite import NonFiniteError

    return (CheckpointWriteError, NonFiniteError)


def _bad_files() -> tuple[type[BaseException], ...]:
    from spikerl.agents.persistence import CheckpointError, SpaceMismatchError
    from spikerl.envs.state import EnvStateError

    return (CheckpointError, EnvStateError, SpaceMismatchError)


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
        if args.command == "sweep":
            return cmd_sweep(args)
        if args.command == "enjoy":
            return cmd_enjoy(args)
        if args.command == "plot":
            return cmd_plot(args)
        return cmd_presets()
    except CLIError as exc:
        print(f"spikerl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as exc:
        if args.command in ("train", "sweep") and exc.name in ("ray", "optuna", "rliable"):
            print(
                f"spikerl: error: {exc.name} is missing: pip install 'spikerl[ray]'",
                file=sys.stderr,
            )
            return EXIT_USAGE
        raise
    except _run_failures() as exc:  # the run itself failed (disk full, NaN values): exit 1
        print(f"spikerl: error: {exc}", file=sys.stderr)
        return 1
    except _bad_files() as exc:  # a malformed or unsafe file given by the user
        print(f"spikerl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, FileNotFoundError) as exc:
        from spikerl.agents.presets import ConfigError
        from spikerl.runs.errors import RunInputError

        if isinstance(exc, ConfigError | FileNotFoundError | RunInputError) or "unknown" in str(
            exc
        ):
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
    if getattr(args, "tensorboard", False):
        out["tensorboard"] = True
    return out


def _check_env(name: str) -> None:
    from spikerl.agents.envs import env_names, is_known_env

    if not is_known_env(name):
        raise CLIError(
            f"unknown environment {name!r}; options: a preset ({', '.join(env_names())}) or "
            "a registered Gymnasium id such as Acrobot-v1 or ALE/Pong-v5"
        )


def _check_agent(name: str) -> None:
    from spikerl.agents.presets import AGENTS

    if name not in AGENTS:
        raise CLIError(f"unknown agent {name!r}; options: {', '.join(AGENTS)}")


def cmd_train(args: argparse.Namespace) -> int:
    """``spikerl train``: new run or ``--resume`` (the run itself: :mod:`spikerl.runs.train`)."""
    from spikerl.agents.callbacks import LAST
    from spikerl.agents.presets import TrainConfig, _merge, build, resolve
    from spikerl.runs.folders import create_run_dir
    from spikerl.runs.train import TrainingInterrupted, train_run

    resume = args.resume is not None
    if args.seeds is not None and (resume or args.seed is not None):
        raise CLIError("--seeds runs new runs: it does not go with --resume or --seed")
    if resume:
        run_dir = args.resume
        cfg_path = run_dir / "config.yaml"
        if not cfg_path.is_file():
            raise CLIError(f"--resume {run_dir}: no config.yaml there (not a run folder)")
        from spikerl.agents.validation import read_yaml_mapping

        data = read_yaml_mapping(cfg_path, "run config")
        cfg: TrainConfig = build(TrainConfig, _merge(data, _overrides(args)))
        if not (run_dir / "checkpoints" / LAST).is_file():
            raise CLIError(f"--resume {run_dir}: no checkpoints/{LAST} to continue from")
    else:
        if not args.env:
            raise CLIError("train needs --env NAME (or --resume RUN_DIR)")
        _check_agent(args.agent)
        _check_env(args.env)
        from spikerl.agents.envs import canonical_env_name

        cfg = resolve(canonical_env_name(args.env), args.agent, args.config, _overrides(args))
        if cfg.agent == "rstdp" and cfg.device not in ("cpu", "auto"):
            raise CLIError(
                f"device {cfg.device!r}: the R-STDP agent runs on cpu (hand-written NumPy step)"
            )
        if args.seeds is not None:
            return _train_seeds(args, cfg)
        run_dir = create_run_dir(args.runs_dir, cfg)
    try:
        result = train_run(cfg, run_dir, resume=resume, quiet=args.quiet)
    except TrainingInterrupted as exc:
        print(exc, file=sys.stderr)
        return 130
    except BaseException:
        if not resume:
            _discard_failed_start(run_dir)
        raise
    print(json.dumps(result))
    return 0


def _discard_failed_start(run_dir: pathlib.Path) -> None:
    """Remove the folder of a new run that failed before its first environment step."""
    import shutil

    from spikerl.agents.callbacks import LAST, read_meta

    ckpt = run_dir / "checkpoints"
    try:
        steps = read_meta(ckpt).get("num_timesteps", 0) if (ckpt / LAST).is_file() else 0
    except ValueError:
        steps = 0
    if not steps:
        shutil.rmtree(run_dir, ignore_errors=True)


def _train_seeds(args: argparse.Namespace, cfg: Any) -> int:
    """``spikerl train --seeds ...``: the seeds in parallel on Ray (:mod:`spikerl.runs.seeds`)."""
    from spikerl.runs.seeds import SeedsInterrupted, run_seeds

    try:
        group, summary = run_seeds(
            cfg, args.seeds, args.runs_dir, cpus_per_run=args.cpus_per_run, address=args.address
        )
    except SeedsInterrupted as exc:
        print(exc, file=sys.stderr)
        return 130
    print(json.dumps({"group_dir": str(group), **summary["aggregate"]}))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """``spikerl sweep``: Optuna TPE + ASHA on Ray Tune (:mod:`spikerl.runs.sweep`)."""
    import time

    from spikerl.agents.presets import resolve, to_dict
    from spikerl.runs.cluster import prepare_env

    prepare_env(args.address)  # before Ray is imported
    from spikerl.runs.sweep import SweepSpec, read_spec, run_sweep

    if args.resume is not None:
        spec = read_spec(args.resume)
        sweep_dir = args.resume
    else:
        if not args.env or args.space is None:
            raise CLIError("sweep needs --env NAME and --space FILE (or --resume SWEEP_DIR)")
        _check_agent(args.agent)
        _check_env(args.env)
        from spikerl.agents.envs import canonical_env_name
        from spikerl.runs.space import parse_space, read_space

        overrides = _overrides_from(args.set, timesteps=args.timesteps, seed=args.seed)
        cfg = resolve(canonical_env_name(args.env), args.agent, args.config, overrides)
        space = read_space(args.space)
        parse_space(space, f"--space {args.space}")  # a clear message for an empty space
        spec = SweepSpec(
            base=to_dict(cfg),
            space=space,
            space_file=str(args.space),
            trials=args.trials,
            cpus_per_run=args.cpus_per_run,
            max_concurrent=args.max_concurrent,
            seed=args.search_seed,
        )
        stamp = time.strftime("%Y%m%d-%H%M%S")
        sweep_dir = args.runs_dir / f"{cfg.env.replace('/', '-')}__{cfg.agent}__sweep__{stamp}"
    summary = run_sweep(spec, sweep_dir, address=args.address, resume=args.resume is not None)
    keys = ("sweep_dir", "done", "finished", "stopped_early", "errored", "interrupted")
    out = {k: summary.get(k) for k in keys}
    out["best_return"] = summary["best"]["eval_return"] if summary["best"] else None
    out["best_config"] = summary.get("best_config")
    print(json.dumps(out))
    if summary["interrupted"]:
        print(
            f"sweep interrupted; continue it with: spikerl sweep --resume {sweep_dir}",
            file=sys.stderr,
        )
        return 130
    return 0


def _overrides_from(items: list[str], **flags: Any) -> dict[str, Any]:
    from spikerl.agents.presets import parse_set

    out = parse_set(list(items))
    out.update({k: v for k, v in flags.items() if v is not None})
    return out


def cmd_enjoy(args: argparse.Namespace) -> int:
    """``spikerl enjoy RUN_OR_ZIP [--video OUT.mp4] [--figure OUT.png]``."""
    from spikerl.runs.enjoy import enjoy, load_target

    if args.episodes < 1:
        raise CLIError(f"enjoy --episodes: {args.episodes} is outside the allowed range >= 1")
    run = load_target(args.target, args.env)
    result = enjoy(
        run,
        episodes=args.episodes,
        seed=args.seed,
        video=args.video,
        figure=args.figure,
        max_steps=args.max_steps,
    )
    print(json.dumps(result))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """``spikerl plot RUN [RUN ...] [--out curves.png]``."""
    from spikerl.runs.plot import expand_runs, plot_runs, read_run, summary

    dirs = expand_runs(args.runs)
    one = len(args.runs) == 1
    out = args.out or (args.runs[0] / "curves.png" if one else pathlib.Path("curves.png"))
    runs = [read_run(d) for d in dirs]
    path = plot_runs(runs, out, args.title)
    print(json.dumps({"figure": str(path), "runs": summary(runs)}))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """``spikerl eval RUN_OR_ZIP``."""
    from spikerl.runs.evaluate import evaluate

    for flag, value in (("--episodes", args.episodes), ("--seed", args.seed)):
        low = 1 if flag == "--episodes" else 0
        if value < low:
            raise CLIError(f"eval {flag}: {value} is outside the allowed range >= {low}")
    from spikerl.runs.enjoy import load_target

    run = load_target(args.target, args.env)
    model, target, env_name, overrides = run.model, run.zip_path, run.env_name, run.overrides
    video = target.with_suffix(".mp4") if args.video else None
    result = evaluate(model, env_name, overrides, args.episodes, args.seed, video)
    result["model"] = str(target)
    if video is not None:
        result["video"] = str(video) if video.is_file() else None
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
