"""Search spaces of ``spikerl sweep``: a YAML file of dotted config keys and distributions.

Format (``agents/spaces/rstdp.yaml``)::

    rstdp.learn.lr_actor: {loguniform: [0.05, 2.0]}   # log-uniform on [low, high]
    rstdp.learn.lam_actor: {uniform: [0.5, 0.95]}     # uniform on [low, high]
    rstdp.snn.sim_steps: {int: [2, 8]}                # integer in [low, high], inclusive
    rstdp.snn.n_per_action: {logint: [4, 32]}         # integer, log-uniform, inclusive
    rstdp.learn.gamma: {choice: [0.99, 0.995]}        # one of the values

Keys are the dotted keys of ``--set`` (TrainConfig fields). A space is checked against the
resolved base config before anything runs: every key must exist there, and the ends of each
range (every value of a choice) must build a valid config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from spikerl.runs.errors import RunInputError

KINDS = ("uniform", "loguniform", "int", "logint", "choice")


class SpaceError(RunInputError):
    """A malformed search space (names the file and the key)."""


@dataclass(frozen=True)
class Param:
    """One searched setting.

    Attributes:
        key: Dotted config key (``rstdp.learn.lr_actor``).
        kind: One of :data:`KINDS`.
        values: ``(low, high)`` for ranges, the candidates for ``choice``.
    """

    key: str
    kind: str
    values: tuple[Any, ...]

    def extremes(self) -> tuple[Any, ...]:
        """Values that must each give a valid config: both ends, or every choice."""
        return self.values

    def to_optuna(self) -> Any:
        """The Optuna distribution (integer ranges inclusive, like the file)."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "choice":
            return CategoricalDistribution(list(self.values))
        lo, hi = self.values
        if self.kind in ("int", "logint"):
            return IntDistribution(int(lo), int(hi), log=self.kind == "logint")
        return FloatDistribution(float(lo), float(hi), log=self.kind == "loguniform")


def _nested(key: str, value: Any) -> dict[str, Any]:
    """``("a.b.c", v)`` -> ``{"a": {"b": {"c": v}}}``."""
    out: dict[str, Any] = {}
    node = out
    parts = key.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


def _flat_keys(data: Any, prefix: str = "") -> set[str]:
    if not isinstance(data, dict):
        return {prefix} if prefix else set()
    out: set[str] = set()
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        out.add(key)
        out |= _flat_keys(v, key)
    return out


def _param(src: str, key: Any, spec: Any) -> Param:
    where = f"{src}: {key}"
    if not isinstance(key, str) or not key.strip():
        raise SpaceError(f"{where}: keys must be dotted config keys such as rstdp.learn.lr_actor")
    if not isinstance(spec, dict) or len(spec) != 1:
        raise SpaceError(f"{where}: expected one of {{{' | '.join(KINDS)}: ...}}, got {spec!r}")
    ((kind, values),) = spec.items()
    if kind not in KINDS:
        raise SpaceError(f"{where}: unknown distribution {kind!r}; options: {', '.join(KINDS)}")
    if not isinstance(values, list) or not values:
        raise SpaceError(f"{where}: {kind} needs a non-empty list, got {values!r}")
    if kind == "choice":
        return Param(key, kind, tuple(values))
    if len(values) != 2:
        raise SpaceError(f"{where}: {kind} needs [low, high], got {values!r}")
    lo, hi = values
    numeric = (int,) if kind in ("int", "logint") else (int, float)
    if not all(isinstance(v, numeric) and not isinstance(v, bool) for v in values):
        kind_word = "integers" if kind in ("int", "logint") else "numbers"
        raise SpaceError(f"{where}: {kind} bounds must be {kind_word}, got {values!r}")
    if not lo < hi:
        raise SpaceError(f"{where}: {kind} needs low < high, got {values!r}")
    if kind in ("loguniform", "logint") and lo <= 0:
        raise SpaceError(f"{where}: {kind} needs low > 0, got {values!r}")
    return Param(key, kind, (lo, hi))


def parse_space(data: Any, src: str = "search space") -> tuple[Param, ...]:
    """A search-space mapping (the YAML content) -> its parameters, in file order.

    Raises:
        SpaceError: for an empty space or a malformed entry.
    """
    if data is None or data == {}:
        raise SpaceError(
            f"{src}: the search space is empty; expected dotted config keys mapped to "
            f"{{{' | '.join(KINDS)}: ...}}, e.g. rstdp.learn.lr_actor: {{loguniform: [0.05, 2]}}"
        )
    if not isinstance(data, dict):
        raise SpaceError(f"{src}: expected a mapping of dotted config keys, got {type(data)}")
    return tuple(_param(src, k, v) for k, v in data.items())


def read_space(path: str | Path) -> Any:
    """The raw content of a search-space YAML file (``yaml.safe_load``: no Python tags).

    Raises:
        SpaceError: for a missing, unreadable or malformed file.
    """
    p = Path(path)
    try:
        return yaml.safe_load(p.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SpaceError(f"--space {p}: cannot read the search space ({reason})") from exc
    except yaml.YAMLError as exc:
        first = " ".join(str(exc).split())[:200]
        raise SpaceError(f"--space {p}: malformed YAML ({first})") from exc


def load_space(path: str | Path) -> tuple[Param, ...]:
    """Read and parse a search-space YAML file.

    Raises:
        SpaceError: for a missing, unreadable, malformed or empty file.
    """
    return parse_space(read_space(path), f"--space {path}")


def check_space(params: tuple[Param, ...], base: dict[str, Any], src: str) -> None:
    """Check every key exists in the base config and every extreme value builds.

    Args:
        params: The parsed space.
        base: The resolved base config as a mapping (``presets.to_dict``).
        src: Name of the space in messages.

    Raises:
        SpaceError: naming the key that is unknown or the value that does not build.
    """
    from spikerl.agents.presets import ConfigError, TrainConfig, _merge, build

    known = _flat_keys(base)
    for p in params:
        if p.key not in known:
            parent = p.key.rpartition(".")[0]
            options = sorted(k.rpartition(".")[2] for k in known if k.rpartition(".")[0] == parent)
            hint = f"; keys under {parent or 'the top level'}: {', '.join(options)}"
            raise SpaceError(f"{src}: unknown config key {p.key!r}{hint if options else ''}")
        for v in p.extremes():
            try:
                build(TrainConfig, _merge(base, _nested(p.key, v)))
            except (ConfigError, TypeError, ValueError) as exc:
                first = str(exc).splitlines()[0]
                raise SpaceError(f"{src}: {p.key} = {v!r} is not a valid value ({first})") from exc


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "a.c": 2}`` -> ``{"a": {"b": 1, "c": 2}}`` (the config's nesting)."""
    from spikerl.agents.presets import _merge

    out: dict[str, Any] = {}
    for k, v in flat.items():
        out = _merge(out, _nested(k, v))
    return out
