"""Spiking vs non-spiking SB3 policies, same algorithm, budget and seeds; prints JSON.

Trains SB3's PPO, A2C or DQN with the ``agents/<algo>.yaml`` preset of an environment for
each policy and seed, then evaluates the *final* weights over greedy episodes on a separately
seeded environment (seed ``10_000 + seed``). A uniform random policy is reported beside them,
and for Atari every constant action (the control an agent must beat).

Examples::

    python scripts/train_sb3_spiking.py --algo ppo --env CartPole --seeds 0 1 2 3 4 \\
        --policies SpikingMlpPolicy MlpPolicy --out results/sb3_cartpole_ppo.json
    python scripts/train_sb3_spiking.py --algo dqn --env CartPole --seeds 100 101 \\
        --policies SpikingMlpPolicy --set policy_kwargs.time_steps=8 --out /tmp/tune.json

The non-spiking rows take the spiking preset's ``layers`` as ``net_arch`` (same sizes) and
drop the spiking settings. Results are written after every run (atomically), with a
``comparison``: each policy against the best constant action and random, and spiking over
non-spiking. One experiment split over processes (one per core) is joined by ``--merge``::

    python scripts/train_sb3_spiking.py --algo ppo --merge a.json b.json --out both.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy

from spikerl.agents.sb3.config import SpikingConfig
from spikerl.agents.sb3.factory import (
    load_sb3_preset,
    make_sb3_model,
    merge_presets,
    sb3_env_fn,
    sb3_vec_env,
)
from spikerl.core.io import atomic_write
from spikerl.envs.make import load_recipe

SPIKING_POLICIES = ("SpikingMlpPolicy", "SpikingCnnPolicy")


def non_spiking_kwargs(policy_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The spiking preset's policy kwargs for SB3's own policies: same sizes, no spiking."""
    out = {k: v for k, v in policy_kwargs.items() if k not in SpikingConfig.keys()}
    if "layers" in out:
        out["net_arch"] = out.pop("layers")
    out.pop("features_dim", None)
    return out


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``a.b=value`` items (values parsed as YAML) as a nested mapping."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects key=value, got {item!r}")
        node = out
        *heads, last = key.split(".")
        for h in heads:
            node = node.setdefault(h, {})
        node[last] = yaml.safe_load(raw)
    return out


def episode_stats(returns: list[float], lengths: list[int]) -> dict[str, Any]:
    r = np.asarray(returns, dtype=np.float64)
    return {
        "mean": float(r.mean()),
        "std": float(r.std()),
        "min": float(r.min()),
        "max": float(r.max()),
        "episodes": len(returns),
        "mean_length": float(np.mean(lengths)),
    }


def evaluate_final(
    model: Any, env_name: str, overrides: dict[str, Any], seed: int, n: int
) -> dict[str, Any]:
    env = sb3_vec_env(env_name, 1, seed, overrides)
    returns, lengths = evaluate_policy(
        model, env, n_eval_episodes=n, deterministic=True, return_episode_rewards=True
    )
    env.close()
    assert isinstance(returns, list) and isinstance(lengths, list)  # return_episode_rewards
    return episode_stats([float(r) for r in returns], [int(n) for n in lengths])


class BestWeights(BaseCallback):
    """Greedy evaluation every ``every`` env steps; keeps (in memory) the best weights.

    The best checkpoint is the policy state with the highest mean greedy return over
    ``n`` episodes on its own evaluation env (seeded ``eval_seed``); ties keep the later one.
    ``curve`` lists ``(num_timesteps, mean)`` of every evaluation.
    """

    def __init__(
        self, env_name: str, overrides: dict[str, Any], eval_seed: int, every: int, n: int
    ) -> None:
        super().__init__()
        self.env_name, self.overrides = env_name, overrides
        self.eval_seed, self.every, self.n = eval_seed, every, n
        self.curve: list[tuple[int, float]] = []
        self.best_mean = -np.inf
        self.best_step = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self._next = every
        self.seconds = 0.0  # time spent evaluating (left out of the training time)

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._next += self.every
            start = time.perf_counter()
            mean = evaluate_final(
                self.model, self.env_name, self.overrides, self.eval_seed, self.n
            )["mean"]
            self.curve.append((int(self.num_timesteps), float(mean)))
            if mean >= self.best_mean:
                self.best_mean, self.best_step = float(mean), int(self.num_timesteps)
                state = self.model.policy.state_dict()
                self.best_state = {k: v.detach().clone() for k, v in state.items()}
            self.seconds += time.perf_counter() - start
        return True


def control_policy(
    env_name: str, overrides: dict[str, Any], seed: int, n: int, action: int | None
) -> dict[str, Any]:
    """Uniform random actions (``action=None``) or one constant action, ``n`` episodes."""
    env = sb3_env_fn(env_name, overrides)
    env.action_space.seed(seed)
    returns, lengths = [], []
    for i in range(n):
        env.reset(seed=seed + i)
        total, steps, done = 0.0, 0, False
        while not done:
            a = env.action_space.sample() if action is None else action
            _, r, term, trunc, _ = env.step(a)
            total += float(r)
            steps += 1
            done = term or trunc
        returns.append(total)
        lengths.append(steps)
    env.close()
    return episode_stats(returns, lengths)


#: Each env's "solved" return; ``seeds_ge_<target>`` is counted only for envs listed here.
SOLVED: dict[str, float] = {"CartPole": 475.0}


def summarise(runs: list[dict[str, Any]], target: float | None) -> dict[str, Any]:
    """Per policy: seeds, final means, their mean, training time, best-checkpoint means.

    ``seeds_ge_<target>`` (and its best-checkpoint twin) counts the seeds at or above
    ``target``; no count is written when ``target`` is None (an env with no solved return).
    """
    out: dict[str, Any] = {}
    for policy in dict.fromkeys(r["policy"] for r in runs):
        rows = [r for r in runs if r["policy"] == policy]
        means = [r["eval"]["mean"] for r in rows]
        out[policy] = {
            "seeds": [r["seed"] for r in rows],
            "final_means": means,
            "mean_of_means": float(np.mean(means)),
            "train_seconds": [r["train_seconds"] for r in rows],
        }
        if target is not None:
            out[policy][f"seeds_ge_{target:g}"] = int(sum(m >= target for m in means))
        if all("best" in r for r in rows):
            best = [r["best"]["eval"]["mean"] for r in rows]
            out[policy]["best_checkpoint_means"] = best
            if target is not None:
                out[policy][f"best_checkpoint_seeds_ge_{target:g}"] = int(
                    sum(m >= target for m in best)
                )
    return out


def compare(summary: dict[str, Any], controls: dict[str, Any]) -> dict[str, Any]:
    """Each policy's mean of final means against the controls and the spiking/non-spiking pair.

    ``best_constant`` is the constant-action control with the highest mean (Atari runs have
    them); ``over_best_constant = policy mean / best constant mean`` (None when the constant's
    mean is not positive). ``spiking_over_non_spiking`` divides each spiking policy's mean by
    its non-spiking counterpart's (``SpikingCnnPolicy`` by ``CnnPolicy``, ``SpikingMlpPolicy``
    by ``MlpPolicy``) where both ran.
    """
    out: dict[str, Any] = {}
    constants = {k: v["mean"] for k, v in controls.items() if k.startswith("constant_")}
    best_name = max(constants, key=lambda k: constants[k]) if constants else None
    best = constants[best_name] if best_name is not None else None
    if best_name is not None:
        out["best_constant"] = {"control": best_name, "mean": best}
    for policy, row in summary.items():
        entry: dict[str, Any] = {"mean_of_means": row["mean_of_means"]}
        if best is not None:
            entry["over_best_constant"] = row["mean_of_means"] / best if best > 0 else None
        if "random" in controls:
            entry["over_random"] = (
                row["mean_of_means"] / controls["random"]["mean"]
                if controls["random"]["mean"] > 0
                else None
            )
        out[policy] = entry
    for spiking in SPIKING_POLICIES:
        plain = spiking.removeprefix("Spiking")
        if spiking in summary and plain in summary and summary[plain]["mean_of_means"] > 0:
            out.setdefault("spiking_over_non_spiking", {})[f"{spiking}/{plain}"] = (
                summary[spiking]["mean_of_means"] / summary[plain]["mean_of_means"]
            )
    return out


#: Settings two results must share to be merged: same experiment, different policies.
MERGE_KEYS = (
    "algo", "env", "env_overrides", "timesteps", "n_envs", "hyperparams",
    "spiking_policy_kwargs", "eval", "best_checkpoint",
)  # fmt: skip


def merge_results(results: list[dict[str, Any]], target: float | None) -> dict[str, Any]:
    """One result from several runs of this script that differ only in policies or seeds.

    Runs of one experiment split over processes (one per CPU core) are joined here: the
    runs are concatenated, the controls (seeded alike, so equal) kept from the first, and the
    summary and comparison recomputed.

    Raises:
        ValueError: fewer than two results, a setting of :data:`MERGE_KEYS` that differs,
            or a (policy, seed) pair present twice.
    """
    if len(results) < 2:
        raise ValueError(f"merge needs at least two results, got {len(results)}")
    first = results[0]
    for i, other in enumerate(results[1:], start=2):
        for key in MERGE_KEYS:
            if other.get(key) != first.get(key):
                raise ValueError(
                    f"result {i} differs from result 1 in {key!r}: "
                    f"{other.get(key)!r} != {first.get(key)!r}; only runs of one experiment merge"
                )
    runs = [r for res in results for r in res["runs"]]
    pairs = [(r["policy"], r["seed"]) for r in runs]
    twice = sorted({p for p in pairs if pairs.count(p) > 1})
    if twice:
        raise ValueError(f"(policy, seed) present in more than one result: {twice}")
    merged = {k: v for k, v in first.items() if k not in ("runs", "summary", "comparison")}
    merged["command"] = [res["command"] for res in results]
    merged["runs"] = runs
    merged["summary"] = summarise(runs, target)
    merged["comparison"] = compare(merged["summary"], merged.get("controls", {}))
    return merged


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--algo", choices=["ppo", "a2c", "dqn"], required=True)
    p.add_argument("--env", default="CartPole")
    p.add_argument("--policies", nargs="+", default=["SpikingMlpPolicy", "MlpPolicy"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--timesteps", type=int, default=None, help="default: the preset's")
    p.add_argument(
        "--eval-episodes", type=int, default=None, help="default: the preset's final_eval_episodes"
    )
    p.add_argument(
        "--control-episodes",
        type=int,
        default=None,
        help="episodes of each control (default: eval episodes)",
    )
    p.add_argument(
        "--target",
        type=float,
        default=None,
        help="return counted as solved (default: the env's entry in SOLVED, e.g. CartPole 475; "
        "none for other envs)",
    )
    p.add_argument(
        "--set", nargs="*", default=[], help="preset overrides, e.g. sb3.policy_kwargs.time_steps=8"
    )
    p.add_argument(
        "--baseline-net-arch",
        nargs="+",
        type=int,
        default=None,
        help="net_arch of the non-spiking rows (default: the spiking preset's layers)",
    )
    p.add_argument(
        "--eval-every",
        type=int,
        default=None,
        help="env steps between greedy evaluations for the best checkpoint "
        "(default: the preset's eval_freq; 0: no best checkpoint)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=None,
        help="join result files of one experiment (e.g. one process per policy) into --out, "
        "train nothing",
    )
    args = p.parse_args(argv)
    loaded = [json.loads(f.read_text()) for f in args.merge or []]
    env_name = loaded[0].get("env", "") if loaded else args.env
    target = args.target if args.target is not None else SOLVED.get(env_name)
    if args.merge is not None:
        merged = merge_results(loaded, target)
        if args.out is not None:
            text = json.dumps(merged, indent=2)

            def write_merged(tmp: str) -> None:
                Path(tmp).write_text(text)

            atomic_write(write_merged, args.out)
        print(json.dumps(merged, indent=2))
        return merged

    torch.set_num_threads(args.threads)
    preset = merge_presets(load_sb3_preset(args.algo, args.env), parse_sets(args.set))
    sb3 = preset["sb3"]
    timesteps = int(args.timesteps or preset["timesteps"])
    n_eval = int(args.eval_episodes or preset["final_eval_episodes"])
    n_control = int(args.control_episodes or n_eval)
    overrides = dict(preset.get("env_overrides") or {})
    eval_every = int(preset["eval_freq"] if args.eval_every is None else args.eval_every)
    n_periodic = int(preset["eval_episodes"])
    result: dict[str, Any] = {
        "script": "scripts/train_sb3_spiking.py",
        "command": " ".join(
            [
                "python",
                "scripts/train_sb3_spiking.py",
                *(argv if argv is not None else sys.argv[1:]),
            ]
        ),
        "algo": args.algo,
        "env": args.env,
        "env_overrides": overrides,
        "timesteps": timesteps,
        "n_envs": preset["n_envs"],
        "hyperparams": sb3.get("hyperparams", {}),
        "spiking_policy_kwargs": sb3.get("policy_kwargs", {}),
        "eval": f"final weights, {n_eval} greedy episodes, env seed 10000 + seed",
        "best_checkpoint": (
            f"weights of the best of the greedy evaluations every {eval_every} steps "
            f"({n_periodic} episodes, env seed 30000 + seed), then {n_eval} greedy episodes "
            "on env seed 10000 + seed"
            if eval_every
            else None
        ),
        "torch_threads": args.threads,
        "runs": [],
    }

    def save() -> None:
        if args.out is not None:
            text = json.dumps(result, indent=2)

            def write(tmp: str) -> None:
                Path(tmp).write_text(text)

            atomic_write(write, args.out)

    controls: dict[str, Any] = {
        "random": control_policy(args.env, overrides, 20_000, n_control, None)
    }
    probe = sb3_env_fn(args.env, overrides)
    n_actions = int(probe.action_space.n) if hasattr(probe.action_space, "n") else 0
    probe.close()
    if load_recipe(args.env).is_atari:
        for a in range(n_actions):
            controls[f"constant_{a}"] = control_policy(args.env, overrides, 20_000, n_control, a)
    result["controls"] = controls
    save()
    for seed in args.seeds:
        for policy in args.policies:
            pk = dict(sb3.get("policy_kwargs") or {})
            if policy not in SPIKING_POLICIES:
                pk = non_spiking_kwargs(pk)
                if args.baseline_net_arch:
                    pk["net_arch"] = list(args.baseline_net_arch)
            env = sb3_vec_env(args.env, int(preset["n_envs"]), seed, overrides)
            model = make_sb3_model(args.algo, env, seed, policy, sb3.get("hyperparams"), pk)
            best = (
                BestWeights(args.env, overrides, 30_000 + seed, eval_every, n_periodic)
                if eval_every
                else None
            )
            start = time.perf_counter()
            model.learn(total_timesteps=timesteps, callback=best)
            seconds = time.perf_counter() - start - (best.seconds if best else 0.0)
            env.close()
            ev = evaluate_final(model, args.env, overrides, 10_000 + seed, n_eval)
            row = {
                "policy": policy,
                "seed": seed,
                "policy_kwargs": pk,
                "train_seconds": seconds,
                "train_fps": model.num_timesteps / seconds,
                "eval": ev,
            }
            if best is not None and best.best_state is not None:
                model.policy.load_state_dict(best.best_state)
                row["curve"] = best.curve
                row["best"] = {"step": best.best_step, "periodic_mean": best.best_mean} | {
                    "eval": evaluate_final(model, args.env, overrides, 10_000 + seed, n_eval)
                }
            result["runs"].append(row)
            result["summary"] = summarise(result["runs"], target)
            result["comparison"] = compare(result["summary"], controls)
            save()
            print(
                json.dumps(
                    {k: row[k] for k in ("policy", "seed", "train_seconds")}
                    | {"mean": ev["mean"], "best": row.get("best"), "curve": row.get("curve")}
                ),
                flush=True,
            )
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
