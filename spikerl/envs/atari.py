"""Atari-specific wrappers: FIRE to (re)launch play, and a guard against stalled games."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym


def action_index(env: gym.Env, meaning: str) -> int:
    """Index of the ALE action named ``meaning`` (e.g. ``"FIRE"``), or raise ``ValueError``."""
    meanings = list(env.unwrapped.get_action_meanings())  # type: ignore[attr-defined]
    if meaning not in meanings:
        raise ValueError(f"{env.spec.id if env.spec else env}: no {meaning} action in {meanings}")
    return meanings.index(meaning)


def _lives(env: gym.Env) -> int:
    return int(env.unwrapped.ale.lives())  # type: ignore[attr-defined]


class FireResetWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Press FIRE after reset and after each lost life, so play (re)starts.

    Breakout waits for FIRE to launch the ball; without it an agent that never picks FIRE
    plays until truncation. The FIRE steps are taken inside ``reset``/``step``; their
    rewards are added to the step's reward.

    Args:
        env: An ALE environment whose actions include FIRE.
        on_reset: Press FIRE after every reset.
        on_life_loss: Press FIRE whenever the lives counter drops (game not over).
    """

    def __init__(self, env: gym.Env, on_reset: bool = True, on_life_loss: bool = True) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, on_reset=on_reset, on_life_loss=on_life_loss)
        gym.Wrapper.__init__(self, env)
        self.fire = action_index(env, "FIRE")
        self.on_reset = on_reset
        self.on_life_loss = on_life_loss
        self._lives = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        if self.on_reset:
            obs, _, terminated, truncated, info = self.env.step(self.fire)
            if terminated or truncated:
                obs, info = self.env.reset(options=options)
        self._lives = _lives(self.env)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        total = float(reward)
        lives = _lives(self.env)
        if self.on_life_loss and lives < self._lives and not (terminated or truncated):
            obs, r, terminated, truncated, info = self.env.step(self.fire)
            total += float(r)
            lives = _lives(self.env)
        self._lives = lives
        return obs, total, terminated, truncated, info


class StallGuard(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Guard against games that stall without reward.

    After every ``fire_after`` consecutive reward-free steps an extra FIRE is pressed (its
    reward counts); after ``truncate_after`` reward-free steps the episode is truncated
    with ``info["stalled"] = True``. Either may be ``None`` (off).

    Args:
        env: An ALE environment (FIRE needed only if ``fire_after`` is set).
        fire_after: Reward-free steps between extra FIREs.
        truncate_after: Reward-free steps before truncation.
    """

    def __init__(
        self, env: gym.Env, fire_after: int | None = None, truncate_after: int | None = None
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, fire_after=fire_after, truncate_after=truncate_after
        )
        gym.Wrapper.__init__(self, env)
        for name, v in (("fire_after", fire_after), ("truncate_after", truncate_after)):
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be None or an int >= 1, got {v!r}")
        self.fire = action_index(env, "FIRE") if fire_after is not None else -1
        self.fire_after = fire_after
        self.truncate_after = truncate_after
        self._quiet = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self._quiet = 0
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        total = float(reward)
        self._quiet = 0 if total != 0 else self._quiet + 1
        done = terminated or truncated
        if (
            self.fire_after is not None
            and not done
            and self._quiet % self.fire_after == 0
            and self._quiet
        ):
            obs, r, terminated, truncated, info = self.env.step(self.fire)
            total += float(r)
            self._quiet = 0 if float(r) != 0 else self._quiet
        if (
            self.truncate_after is not None
            and self._quiet >= self.truncate_after
            and not terminated
        ):
            truncated = True
            info = {**info, "stalled": True}
        return obs, total, terminated, truncated, info


#: Times the sticky-action memory is primed when restoring: each emulated frame takes the
#: primed action with probability ``1 - p`` (``p`` = 0.25 for v5), so 12 frames leave it
#: unset with probability ``p^12`` (6e-8).
_PRIME_FRAMES = 12


class ExactALEPickle(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Make a pickled ALE environment continue as the original would (sticky actions too).

    ALE environments pickle by their constructor arguments (gymnasium's ``EzPickle``), so a
    copy is a freshly started emulator; and ALE's saved state, even
    ``cloneState(include_rng=True)``, leaves out the previous action that sticky actions
    repeat. This wrapper, placed directly around the ALE environment so that every action
    (FIRE presses of outer wrappers included) passes through it, remembers the last action
    sent and pickles the emulator state with its random generator; unpickling primes the
    sticky-action memory with that action, then restores the state.

    The continuation is exact unless all frames of the last step before saving repeated the
    action before it (probability ``p^frame_skip``, 0.4% for v5), in which case the memory
    held that earlier action; the resumed run is then still a valid run of the same game.
    After a reset ALE's memory is NOOP.

    Args:
        env: An ALE environment (``gym.make("ALE/...")``).
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        import ale_py

        self._noop = ale_py.Action.NOOP
        self._actions = list(env.unwrapped._action_set)  # type: ignore[attr-defined]
        self._last = self._noop

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        out = self.env.reset(seed=seed, options=options)
        self._last = self._noop
        return out

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        self._last = self._actions[int(action)]
        return self.env.step(action)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_ale_state"] = self.env.unwrapped.ale.cloneState(include_rng=True)  # type: ignore[attr-defined]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        ale_state = state.pop("_ale_state")
        self.__dict__.update(state)
        ale = self.env.unwrapped.ale  # type: ignore[attr-defined]
        for _ in range(_PRIME_FRAMES):
            ale.act(self._last)
        ale.restoreState(ale_state)
