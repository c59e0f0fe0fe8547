"""Value checks for run and agent configs: allowed ranges, finite numbers, safe YAML.

Every numeric option of ``spikerl train`` and of the agent presets is checked when the
config is built (:func:`spikerl.config.validate`); a bad value gets a
:class:`~spikerl.config.ConfigError` that names the key, the value and the allowed
range. Floats must always be finite (``.nan``/``.inf`` are refused).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Range:
    """Allowed interval of a numeric option: ``lo <= x <= hi`` (``lo < x`` if ``open_lo``)."""

    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False

    def contains(self, x: float) -> bool:
        """Whether ``x`` lies in the interval."""
        if self.lo is not None and (x < self.lo or (self.open_lo and x == self.lo)):
            return False
        return self.hi is None or x <= self.hi

    def __str__(self) -> str:
        lo = "-inf" if self.lo is None else f"{self.lo:g}"
        hi = "inf" if self.hi is None else f"{self.hi:g}"
        if self.hi is None and self.lo is not None:
            return f"> {lo}" if self.open_lo else f">= {lo}"
        return f"{'(' if self.open_lo else '['}{lo}, {hi}]"


_AT_LEAST_1 = Range(1)
_NON_NEG = Range(0)
_POSITIVE = Range(0, open_lo=True)
_UNIT = Range(0, 1)

#: Allowed ranges by option name (the last part of the key), for run and agent configs.
RANGES: dict[str, Range] = {
    "timesteps": _AT_LEAST_1,
    "n_envs": _AT_LEAST_1,
    "seed": _NON_NEG,
    "eval_freq": _NON_NEG,
    "checkpoint_freq": _NON_NEG,
    "eval_episodes": _AT_LEAST_1,
    "final_eval_episodes": _AT_LEAST_1,
    "episodes": _AT_LEAST_1,
    "log_every": _AT_LEAST_1,
    "n_per_action": _AT_LEAST_1,
    "sim_steps": _AT_LEAST_1,
    "dt": _POSITIVE,
    "tau_mem": _POSITIVE,
    "tau_pre": _POSITIVE,
    "tau_post": _POSITIVE,
    "input_rate": _NON_NEG,
    "noise_std": _NON_NEG,
    "noise_tau": _NON_NEG,
    "gap": _NON_NEG,
    "gamma": _UNIT,
    "lam_actor": _UNIT,
    "lam_critic": _UNIT,
    "lr_final_fraction": _UNIT,
    "noise_final_fraction": _UNIT,
    "lr_actor": _NON_NEG,
    "lr_critic": _NON_NEG,
    "delta_clip": _NON_NEG,
    "novelty_bonus": _NON_NEG,
    "reward_clip": _NON_NEG,
    "reward_scale": _POSITIVE,
    "n_centres": _AT_LEAST_1,
    "width": _POSITIVE,
    "pair_centres": _NON_NEG,
    # environment recipe overrides (env_overrides.*)
    "max_episode_steps": _AT_LEAST_1,
    "time_steps": _AT_LEAST_1,
    "frame_skip": _AT_LEAST_1,
    "frame_stack": _AT_LEAST_1,
    "noop_max": _NON_NEG,
    "screen_size": _AT_LEAST_1,
    "stall_fire_after": _AT_LEAST_1,
    "stall_truncate_after": _AT_LEAST_1,
    "action_bins": _AT_LEAST_1,
}

_YAML11_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def yaml_number_hint(value: Any) -> str:
    """Extra text for a string that YAML 1.1 read as text but that looks like a number."""
    if isinstance(value, str) and _YAML11_NUMBER.match(value.strip()):
        v = value.strip()
        mant, _, exp = v.lower().partition("e")
        if "." not in mant:
            mant += ".0"
        if not exp.startswith(("+", "-")):
            exp = "+" + exp
        return (
            f" (YAML 1.1, which PyYAML reads, takes {v!r} as text: an exponent needs a dot "
            f"and a sign, write {mant}e{exp})"
        )
    return ""


def check_number(path: str, value: int | float) -> None:
    """Raise ``ConfigError`` unless ``value`` is finite and inside the range of its key.

    Args:
        path: Dotted key (``rstdp.learn.gamma``); its last part selects the range.
        value: The converted number.
    """
    from spikerl.config import ConfigError

    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{path}: {value!r} is not a finite number")
    rng = RANGES.get(path.rsplit(".", 1)[-1])
    if rng is not None and not rng.contains(value):
        raise ConfigError(f"{path}: {value!r} is outside the allowed range {rng}")


def read_yaml_mapping(path: Path, what: str = "config") -> dict[str, Any]:
    """A YAML file that must hold a non-empty mapping (``yaml.safe_load``: no Python tags).

    Raises:
        ConfigError: Unreadable, malformed, empty, not a mapping, or a tag that would
            construct a Python object (``!!python/object``...), each named.
    """
    import yaml

    from spikerl.config import ConfigError

    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.constructor.ConstructorError as exc:
        tag = getattr(exc, "problem", "") or str(exc)
        raise ConfigError(
            f"{path}: refused YAML ({' '.join(str(tag).split())}); {what} files hold plain "
            f"values, never Python objects"
        ) from None
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())[:200]
        raise ConfigError(f"{path}: malformed YAML ({first})") from None
    if data is None:
        raise ConfigError(f"{path}: the {what} is empty (expected a mapping of keys)")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys at the top level, got a {type(data).__name__}"
        )
    return data


def check_numbers_in(path: str, value: Any) -> None:
    """:func:`check_number` on every number inside a nested mapping/list (``env_overrides``)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        check_number(path, value)
    elif isinstance(value, dict):
        for k, v in value.items():
            check_numbers_in(f"{path}.{k}", v)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            check_numbers_in(f"{path}[{i}]", v)


def check_config(obj: Any, path: str = "") -> None:
    """:func:`check_number` on every numeric field of a (nested) config dataclass, for
    configs built in Python rather than through :func:`spikerl.agents.presets.build`.

    Raises:
        ConfigError: The first field out of range or not finite, by its dotted name.
    """
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            check_config(getattr(obj, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            check_config(v, f"{path}[{i}]")
    elif isinstance(obj, dict):
        check_numbers_in(path, obj)
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        check_number(path, obj)
