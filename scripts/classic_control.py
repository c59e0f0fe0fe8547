"""Classic control with spike-decided R-STDP beside SB3's PPO/DQN and the random policy.

Usage::

    python scripts/classic_control.py [--tasks CartPole Acrobot MountainCar Pendulum]
        [--agents rstdp ppo dqn random] [--seeds 0 1 2 3 4] [--out results/classic_control.json]

For every task, agent and seed: train with the task's budget (R-STDP: the CLI's preset, the
same code path as ``spikerl train``, run folders under ``--runs-dir``; PPO and DQN: SB3's own
classes with rl-baselines3-zoo's hyperparameters, the zoo's budget capped at R-STDP's), keep
the best checkpoint of the periodic greedy evaluations, then evaluate BOTH the final weights
and the best checkpoint on ``--episodes`` greedy episodes of a fresh env (seed
``10000 + seed``). The random policy plays the same episodes. R-STDP's actions are decided by
the spike vote (``readout`` and ``tie_fraction`` are reported with every score).

Per task the seeds are aggregated with rliable (mean and interquartile mean with 95 %
bootstrap intervals, :mod:`spikerl.runs.aggregate`), targets are checked on the final weights
(a best checkpoint alone is never reported: :func:`seed_row` refuses it), and a learning-curve
figure with seed bands is written per task and agent. Prints one JSON line per run and the
summary, and writes the summary to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

#: Greedy episodes per evaluation of the final and the best weights.
EPISODES = 100


@dataclass(frozen=True)
class Task:
    """A classic-control task of the report.

    Attributes:
        name: Preset short name (``spikerl train --env``).
        gym_id: Gymnasium id.
        budget: Environment steps per run (the issue's budget).
        target: Greedy mean return the final weights must reach.
        discrete: Discrete actions (DQN runs only there).
        solved_seeds: For CartPole: seeds of 5 whose final weights must reach ``target``.
    """

    name: str
    gym_id: str
    budget: int
    target: float
    discrete: bool
    solved_seeds: int = 0


TASKS: dict[str, Task] = {
    "CartPole": Task("CartPole", "CartPole-v1", 200_000, 475.0, True, solved_seeds=4),
    "Acrobot": Task("Acrobot", "Acrobot-v1", 500_000, -100.0, True),
    "MountainCar": Task("MountainCar", "MountainCar-v0", 500_000, -130.0, True),
    "Pendulum": Task("Pendulum", "Pendulum-v1", 500_000, -300.0, False),
}

#: rl-baselines3-zoo hyperparameters (hyperparams/ppo.yml, dqn.yml) for SB3's MlpPolicy.
#: ``n_timesteps`` is the zoo's budget (capped at the task's); ``normalize`` wraps the
#: training env in VecNormalize (observations only), as the zoo does.
ZOO: dict[str, dict[str, dict[str, Any]]] = {
    "ppo": {
        "CartPole": dict(
            n_envs=8, n_timesteps=100_000, n_steps=32, batch_size=256, gae_lambda=0.8,
            gamma=0.98, n_epochs=20, ent_coef=0.0, learning_rate="lin_0.001",
            clip_range="lin_0.2",
        ),
        "Acrobot": dict(
            n_envs=16, n_timesteps=1_000_000, normalize=True, n_steps=256, gae_lambda=0.94,
            gamma=0.99, n_epochs=4, ent_coef=0.0,
        ),
        "MountainCar": dict(
            n_envs=16, n_timesteps=1_000_000, normalize=True, n_steps=16, gae_lambda=0.98,
            gamma=0.99, n_epochs=4, ent_coef=0.0,
        ),
        "Pendulum": dict(
            n_envs=4, n_timesteps=100_000, n_steps=1024, gae_lambda=0.95, gamma=0.9,
            n_epochs=10, ent_coef=0.0, learning_rate=1e-3, clip_range=0.2, use_sde=True,
            sde_sample_freq=4,
        ),
    },
    "dqn": {
        "CartPole": dict(
            n_envs=1, n_timesteps=50_000, learning_rate=2.3e-3, batch_size=64,
            buffer_size=100_000, learning_starts=1000, gamma=0.99, target_update_interval=10,
            train_freq=256, gradient_steps=128, exploration_fraction=0.16,
            exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]),
        ),
        "Acrobot": dict(
            n_envs=1, n_timesteps=100_000, learning_rate=6.3e-4, batch_size=128,
            buffer_size=50_000, learning_starts=0, gamma=0.99, target_update_interval=250,
            train_freq=4, gradient_steps=-1, exploration_fraction=0.12,
            exploration_final_eps=0.1, policy_kwargs=dict(net_arch=[256, 256]),
        ),
        "MountainCar": dict(
            n_envs=1, n_timesteps=120_000, learning_rate=4e-3, batch_size=128,
            buffer_size=10_000, learning_starts=1000, gamma=0.98, target_update_interval=600,
            train_freq=16, gradient_steps=8, exploration_fraction=0.2,
            exploration_final_eps=0.07, policy_kwargs=dict(net_arch=[256, 256]),
        ),
    },
}  # fmt: skip


def seed_row(
    agent: str, seed: int, final: dict[str, Any] | None, best: dict[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    """One run's row of the report: the final weights' evaluation, and the best
    checkpoint's beside it.

    Raises:
        ValueError: when ``best`` is given without ``final`` (a best checkpoint hides a
            late collapse; it is never reported alone) or ``final`` lacks its returns.
    """
    if final is None:
        raise ValueError(
            f"{agent} seed {seed}: refusing to report the best checkpoint without the final "
            "weights' evaluation"
        )
    for key in ("mean_reward", "returns"):
        if key not in final:
            raise ValueError(f"{agent} seed {seed}: the final evaluation lacks {key!r}")
    row = {"agent": agent, "seed": seed, "final": final, "best": best}
    row.update(extra)
    return row


def _lin(value: Any) -> Any:
    """rl-zoo's ``lin_<x>``: a schedule decaying linearly from ``x`` to 0."""
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value[4:])
        return lambda progress: progress * start
    return value


def _greedy(model: Any, env: Any, episodes: int) -> dict[str, Any]:
    """Greedy returns of ``model`` on a VecEnv of one env (``deterministic=True``)."""
    from spikerl.agents.evaluation import greedy_episodes

    res = greedy_episodes(model, env, episodes)
    tie = None if np.isnan(res.tie_fraction) else round(res.tie_fraction, 4)
    return {
        "mean_reward": res.mean,
        "std_reward": res.std,
        "returns": [round(x, 2) for x in res.returns],
        "tie_fraction": tie,
    }


def run_rstdp(
    task: Task, seed: int, runs_dir: pathlib.Path, sets: Sequence[str], episodes: int = EPISODES
) -> dict[str, Any]:
    """Train the CLI's R-STDP preset (``spikerl.runs.train.train_run``) and evaluate the
    final and the best weights on ``EPISODES`` episodes (env seed ``10000 + seed``)."""
    from spikerl.agents.envs import make_agent_vec_env
    from spikerl.agents.presets import parse_set, resolve
    from spikerl.agents.rstdp import RSTDP
    from spikerl.runs.folders import create_run_dir
    from spikerl.runs.train import train_run

    over: dict[str, Any] = {"seed": seed, "timesteps": task.budget, "final_eval_episodes": 1}
    if task.budget < TASKS[task.name].budget:
        over["eval_freq"] = max(task.budget // 2, 1)
    if sets:
        over = _deep_merge(over, parse_set(list(sets)))
    cfg = resolve(task.name, agent="rstdp", overrides=over)
    run_dir = create_run_dir(runs_dir, cfg)
    t0 = time.time()
    out = train_run(cfg, run_dir, resume=False, quiet=True)
    train_s = time.time() - t0

    def fresh() -> Any:  # the recipe's env (e.g. Pendulum's binned actions), as in training
        return make_agent_vec_env(cfg.env, 1, 10_000 + seed, cfg.env_overrides)

    final = _greedy(RSTDP.load(run_dir / "final.zip"), fresh(), episodes)
    best = None
    if (run_dir / "best_model.zip").is_file():
        best = _greedy(RSTDP.load(run_dir / "best_model.zip"), fresh(), episodes)
    return seed_row(
        "rstdp",
        seed,
        final,
        best,
        readout=str(cfg.rstdp.snn.readout),
        timesteps=cfg.timesteps,
        train_seconds=round(train_s, 1),
        env_steps_per_s=out.get("env_steps_per_s"),
        run_dir=str(run_dir),
    )


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = (
            _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out


def run_sb3(
    algo: str,
    task: Task,
    seed: int,
    runs_dir: pathlib.Path,
    eval_freq: int,
    episodes: int = EPISODES,
) -> dict[str, Any]:
    """Train SB3's ``algo`` with the zoo's MlpPolicy hyperparameters for
    ``min(zoo budget, task budget)`` steps; evaluate final and best weights."""
    import torch
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.callbacks import EvalCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    hp = dict(ZOO[algo][task.name])
    n_envs = int(hp.pop("n_envs"))
    budget = min(int(hp.pop("n_timesteps")), task.budget)
    normalize = bool(hp.pop("normalize", False))
    hp = {k: _lin(v) for k, v in hp.items()}
    torch.set_num_threads(1)
    env = make_vec_env(task.gym_id, n_envs=n_envs, seed=seed)
    eval_env = make_vec_env(task.gym_id, n_envs=1, seed=seed + 1000)
    if normalize:
        env = VecNormalize(env, norm_obs=True, norm_reward=False)
        eval_env = VecNormalize(eval_env, norm_obs=True, norm_reward=False, training=False)
    cls = PPO if algo == "ppo" else DQN
    model = cls("MlpPolicy", env, seed=seed, verbose=0, device="cpu", **hp)
    folder = runs_dir / f"{task.name}_{algo}_seed{seed}"
    cb = EvalCallback(
        eval_env,
        n_eval_episodes=10,
        eval_freq=max(1, eval_freq // n_envs),
        best_model_save_path=str(folder),
        log_path=str(folder),
        deterministic=True,
        verbose=0,
    )
    t0 = time.time()
    model.learn(budget, callback=cb)
    train_s = time.time() - t0

    def fresh() -> Any:
        e = make_vec_env(task.gym_id, n_envs=1, seed=10_000 + seed)
        if normalize:
            assert isinstance(env, VecNormalize)
            e = VecNormalize(e, norm_obs=True, norm_reward=False, training=False)
            e.obs_rms = env.obs_rms.copy()
        return e

    final = _greedy(model, fresh(), episodes)
    best = None
    if (folder / "best_model.zip").is_file():
        best = _greedy(cls.load(folder / "best_model.zip", device="cpu"), fresh(), episodes)
    return seed_row(
        algo,
        seed,
        final,
        best,
        policy="MlpPolicy",
        timesteps=budget,
        train_seconds=round(train_s, 1),
        env_steps_per_s=round(budget / train_s),
        run_dir=str(folder),
        note="best checkpoint evaluated with the final run's observation statistics"
        if normalize
        else None,
    )


def run_random(task: Task, seed: int, episodes: int = EPISODES) -> dict[str, Any]:
    """The uniform random policy on the evaluation episodes (env seed ``10000 + seed``)."""
    import gymnasium as gym

    env = gym.make(task.gym_id)
    env.action_space.seed(seed)
    returns = []
    for ep in range(episodes):
        env.reset(seed=10_000 + seed + ep)
        total, done = 0.0, False
        while not done:
            _, r, term, trunc, _ = env.step(env.action_space.sample())
            total += float(r)
            done = term or trunc
        returns.append(round(total, 2))
    env.close()
    final = {
        "mean_reward": float(np.mean(returns)),
        "std_reward": float(np.std(returns)),
        "returns": returns,
        "tie_fraction": None,
    }
    return seed_row("random", seed, final, None)


def summarize(task: Task, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per agent: final and best means per seed, rliable aggregates, the target check."""
    from spikerl.runs.aggregate import interval_estimates

    out: dict[str, Any] = {"task": task.name, "gym_id": task.gym_id, "budget": task.budget}
    agents: dict[str, Any] = {}
    for agent in dict.fromkeys(r["agent"] for r in rows):
        mine = [r for r in rows if r["agent"] == agent]
        finals = [r["final"]["mean_reward"] for r in mine]
        bests = [r["best"]["mean_reward"] for r in mine if r["best"] is not None]
        entry: dict[str, Any] = {
            "seeds": [r["seed"] for r in mine],
            "final_means": [round(x, 2) for x in finals],
            "best_means": [round(x, 2) for x in bests],
            "final": interval_estimates(finals),
        }
        if len(bests) == len(finals) and bests:
            entry["best"] = interval_estimates(bests)
        ties = [r["final"].get("tie_fraction") for r in mine]
        if any(t is not None for t in ties):
            entry["final_tie_fractions"] = ties
        if agent == "rstdp" and task.budget < TASKS[task.name].budget:
            entry["target_met"] = None  # a capped budget assesses nothing
        elif agent == "rstdp":
            if task.solved_seeds:
                at = sum(x >= task.target for x in finals)
                best_at = sum(x >= task.target for x in bests)
                entry["final_seeds_at_target"] = at
                entry["best_seeds_at_target"] = best_at
                entry["target"] = (
                    f"final >= {task.target} in {task.solved_seeds} of 5 seeds and best in 5 of 5"
                )
                entry["target_met"] = bool(
                    len(finals) >= 5 and at >= task.solved_seeds and best_at == len(finals)
                )
            else:
                entry["target"] = f"final mean >= {task.target}"
                entry["target_met"] = bool(np.mean(finals) >= task.target)
        agents[agent] = entry
    out["agents"] = agents
    return out


def plot_curves(task: Task, rows: list[dict[str, Any]], folder: pathlib.Path) -> list[str]:
    """One learning-curve figure (seed band) per trained agent of ``task``."""
    from spikerl.runs.curves import plot_seed_curves

    written = []
    for agent in ("rstdp", "ppo", "dqn"):
        mine = [r for r in rows if r["agent"] == agent and r.get("run_dir")]
        if not mine:
            continue
        path = folder / f"classic_{task.name}_{agent}.png"
        if plot_seed_curves(
            [pathlib.Path(r["run_dir"]) for r in mine],
            [f"seed {r['seed']}" for r in mine],
            path,
            title=f"{task.gym_id}: {agent}",
        ):
            written.append(str(path))
    return written


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    ap.add_argument("--agents", nargs="+", default=["rstdp", "ppo", "dqn", "random"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--eval-freq", type=int, default=10_000, help="SB3 baselines' eval interval")
    ap.add_argument(
        "--timesteps", type=int, default=None, help="cap every budget (smoke runs; no targets)"
    )
    ap.add_argument("--episodes", type=int, default=EPISODES, help="greedy episodes per eval")
    ap.add_argument("--set", action="append", default=[], help="R-STDP preset override k=v")
    ap.add_argument("--runs-dir", type=pathlib.Path, default=None)
    ap.add_argument("--figures", type=pathlib.Path, default=pathlib.Path("results/figures"))
    ap.add_argument("--out", type=pathlib.Path, default=None, help="summary JSON file")
    args = ap.parse_args(argv)
    unknown = set(args.agents) - {"rstdp", "ppo", "dqn", "random"}
    if unknown:
        ap.error(f"unknown agents {sorted(unknown)}; expected rstdp, ppo, dqn, random")
    runs_dir = args.runs_dir or pathlib.Path(tempfile.mkdtemp(prefix="classic_control_"))
    report: dict[str, Any] = {
        "script": "scripts/classic_control.py",
        "seeds": args.seeds,
        "episodes": args.episodes,
        "eval_env_seed": "10000 + seed",
        "budget_capped_at": args.timesteps,
        "rstdp_overrides": args.set,
        "tasks": [],
    }
    for name in args.tasks:
        task = TASKS[name]
        if args.timesteps is not None:
            task = replace(task, budget=min(task.budget, args.timesteps))
        rows: list[dict[str, Any]] = []
        for agent in args.agents:
            if agent == "dqn" and not task.discrete:
                continue
            for seed in args.seeds:
                if agent == "rstdp":
                    row = run_rstdp(task, seed, runs_dir, args.set, args.episodes)
                elif agent == "random":
                    row = run_random(task, seed, args.episodes)
                else:
                    row = run_sb3(agent, task, seed, runs_dir, args.eval_freq, args.episodes)
                rows.append(row)
                slim = {k: v for k, v in row.items() if k not in ("final", "best")}
                slim["final_mean"] = row["final"]["mean_reward"]
                slim["best_mean"] = None if row["best"] is None else row["best"]["mean_reward"]
                print(json.dumps({"task": name, **slim}), flush=True)
        summary = summarize(task, rows)
        summary["figures"] = plot_curves(task, rows, args.figures)
        summary["runs"] = rows
        report["tasks"].append(summary)
        print(json.dumps({k: v for k, v in summary.items() if k != "runs"}), flush=True)
    if args.out is not None:
        from spikerl.core.io import atomic_write_bytes

        atomic_write_bytes(json.dumps(report, indent=1).encode(), args.out)


if __name__ == "__main__":
    main()
