"""Control policies on the Atari presets: the random policy and every constant action.

Usage::

    python scripts/atari_controls.py [--games 30] [--seed 20000]
        [--envs Breakout Pong SpaceInvaders] [--out results/atari_controls.json]

Every policy plays ``--games`` full games of each preset's environment as the R-STDP agent
trains and is evaluated on it (:func:`spikerl.agents.envs.make_agent_vec_env` with the
preset's ``env_overrides``: ALE v5, sticky actions 0.25, the minimal action set, frame skip
4, FIRE on reset and on a lost life, the stall guard). The env is seeded with ``--seed``
(the same games for every policy); the random policy draws its actions from
``numpy.random.default_rng(seed)``. The per-game returns are the env's rewards summed over
one game (all lives; unclipped). Prints one JSON line per game and policy (mean, std, min,
max, mean length, wall time) and writes all of them to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time
from typing import Any

import numpy as np

GAMES = ("Breakout", "Pong", "SpaceInvaders")


def make_env(game: str, seed: int) -> Any:
    """The preset's environment (one env, SB3 VecEnv), seeded."""
    from spikerl.agents.envs import make_agent_vec_env
    from spikerl.agents.presets import resolve

    cfg = resolve(game, agent="rstdp")
    return make_agent_vec_env(cfg.env, 1, seed, cfg.env_overrides)


def action_names(env: Any) -> list[str]:
    """The ALE meanings of the env's (minimal) action set, e.g. ``["NOOP", "FIRE", ...]``."""
    return [str(m) for m in env.envs[0].unwrapped.get_action_meanings()]


def play_policy(game: str, policy: str, games: int, seed: int) -> dict[str, Any]:
    """Play ``games`` full games of ``game`` with one control policy.

    Args:
        game: Preset name (``Breakout``, ``Pong``, ``SpaceInvaders``).
        policy: ``"random"`` (uniform over the action set) or an action's ALE name
            (``"LEFT"``: that action every step).
        games: Full games to play.
        seed: Env seed (and the random policy's generator seed).

    Returns:
        ``game``, ``policy``, ``games``, ``mean``, ``std``, ``min``, ``max``, ``returns``,
        ``mean_length`` (env steps per game), ``steps`` and ``seconds``.

    Raises:
        ValueError: an unknown policy name.
    """
    env = make_env(game, seed)
    names = action_names(env)
    if policy != "random" and policy not in names:
        raise ValueError(f"{game}: unknown policy {policy!r}; options: random, {names}")
    n = len(names)
    rng = np.random.default_rng(seed)
    const = None if policy == "random" else names.index(policy)
    returns: list[float] = []
    lengths: list[int] = []
    env.reset()
    ret, length, steps = 0.0, 0, 0
    t0 = time.perf_counter()
    while len(returns) < games:
        a = int(rng.integers(n)) if const is None else const
        _, r, done, _ = env.step(np.array([a]))
        ret += float(r[0])
        length += 1
        steps += 1
        if done[0]:
            returns.append(ret)
            lengths.append(length)
            ret, length = 0.0, 0
    seconds = time.perf_counter() - t0
    env.close()
    x = np.asarray(returns)
    return {
        "game": game,
        "policy": policy,
        "games": games,
        "mean": round(float(x.mean()), 3),
        "std": round(float(x.std()), 3),
        "min": float(x.min()),
        "max": float(x.max()),
        "returns": returns,
        "mean_length": round(float(np.mean(lengths)), 1),
        "steps": steps,
        "seconds": round(seconds, 1),
    }


def controls(game: str, games: int, seed: int) -> list[dict[str, Any]]:
    """The random policy and every constant action of ``game``, ``games`` games each."""
    env = make_env(game, seed)
    names = action_names(env)
    env.close()
    rows = []
    for policy in ["random", *names]:
        row = play_policy(game, policy, games, seed)
        print(json.dumps({k: v for k, v in row.items() if k != "returns"}), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--games", type=int, default=30)
    ap.add_argument("--seed", type=int, default=20_000)
    ap.add_argument("--envs", nargs="+", default=list(GAMES))
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("results/atari_controls.json"))
    args = ap.parse_args()
    rows = [row for game in args.envs for row in controls(game, args.games, args.seed)]
    best = {}
    for game in args.envs:
        consts = [r for r in rows if r["game"] == game and r["policy"] != "random"]
        top = max(consts, key=lambda r: r["mean"])
        best[game] = {"policy": top["policy"], "mean": top["mean"]}
    summary = {"games": args.games, "seed": args.seed, "best_constant": best, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({"best_constant": best, "out": str(args.out)}))


if __name__ == "__main__":
    main()
