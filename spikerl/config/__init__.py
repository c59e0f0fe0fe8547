"""One typed config system: plain mappings (YAML, ``--set a.b=c``) <-> frozen dataclasses.

Used by the run and agent configs (:mod:`spikerl.agents.presets`), the environment recipes
(:mod:`spikerl.envs.recipe`) and the MNIST settings (:mod:`spikerl.tasks.mnist`).

Types and conversions are pydantic v2's (``TypeAdapter`` in strict JSON mode, so YAML's
values convert exactly as JSON's would: an int is a valid float, a string is never a
number, a list is a valid tuple, an enum is given by its value). pydantic was chosen over
OmegaConf and dacite because it validates the project's existing standard-library
dataclasses as they are (no schema classes to duplicate), supports unions and
``dict[str, Any]`` fields, reports every error with its location, and is already
installed (wandb depends on it). On top of it this module adds what a command line needs:

* unknown keys are refused by their dotted name, with the valid keys and a "did you mean"
  suggestion (:func:`difflib.get_close_matches`);
* fields whose type is a union of dataclasses chosen by a ``kind`` key (the feature maps)
  are built from the class that ``kind`` names (:func:`register_kinds`);
* integer-valued floats are accepted for int fields (``1.0e+3`` -> 1000);
* after the types, every number is checked finite and inside the range of its key
  (:mod:`spikerl.agents.validation`);
* :func:`to_plain` is the one serialiser back to YAML/JSON-able data (``kind`` included),
  for the saved resolved config and the readable copy inside model zips.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEPRECATED_KINDS",
    "ConfigError",
    "feature_kinds",
    "kinds_of",
    "merge",
    "parse_set",
    "register_kinds",
    "suggestion",
    "to_plain",
    "validate",
]


class ConfigError(ValueError):
    """A malformed configuration: names the offending key."""


_KINDS: dict[type[Any], str] = {}
_FAMILIES: list[dict[str, type[Any]]] = []
_DEFAULTS = False


#: Deprecated ``kind`` names still read (saved configs and models): old -> current.
DEPRECATED_KINDS: dict[str, str] = {"breakout": "breakout_objects"}


def feature_kinds() -> dict[str, type[Any]]:
    """The feature-map configs of the R-STDP agent by ``features.kind``.

    ``gaussian`` is :class:`spikerl.encoders.GaussianFields` (receptive fields with
    conjunctive pairs); ``pixels`` is the generic frame encoder
    (:class:`spikerl.encoders.PixelGrid`);
    ``breakout_objects`` is the game-specific ball/paddle baseline (privileged information,
    never a preset's default; ``breakout`` is its deprecated name, see
    :data:`DEPRECATED_KINDS`).
    """
    from spikerl.agents.features import AutoFeaturesConfig, BreakoutFieldsConfig, OneHotConfig
    from spikerl.encoders.fields import GaussianFieldsConfig
    from spikerl.encoders.pixels import PixelGridConfig

    return {
        "auto": AutoFeaturesConfig,
        "gaussian": GaussianFieldsConfig,
        "onehot": OneHotConfig,
        "pixels": PixelGridConfig,
        "breakout_objects": BreakoutFieldsConfig,
    }


def _defaults() -> None:
    """Register the project's own families once (lazily: no import cycle)."""
    global _DEFAULTS
    if not _DEFAULTS:
        _DEFAULTS = True
        register_kinds(feature_kinds())


def register_kinds(kinds: Mapping[str, type[Any]]) -> None:
    """Declare a family of dataclasses chosen by a ``kind`` key (e.g. the feature maps).

    A field annotated with a union of members of a family is built from
    ``kinds[data["kind"]]``; :func:`to_plain` writes ``kind`` back.
    """
    family = dict(kinds)
    if family not in _FAMILIES:
        _FAMILIES.append(family)
    for name, cls in family.items():
        _KINDS[cls] = name


def kinds_of(tp: Any) -> dict[str, type[Any]] | None:
    """The registered family that a union annotation ``tp`` draws from, if any."""
    _defaults()
    members = [t for t in typing.get_args(tp) if t is not type(None)]
    if not members or not all(isinstance(t, type) for t in members):
        return None
    for family in _FAMILIES:
        if set(members) <= set(family.values()):
            return family
    return None


def suggestion(key: str, options: Any) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or ``""``."""
    close = difflib.get_close_matches(str(key), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


@functools.cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.cache
def _adapter(cls: type[Any]) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


def _dataclass_of(tp: Any) -> type[Any] | None:
    """The dataclass that ``tp`` (or ``tp | None``) is, else None."""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        rest = [t for t in typing.get_args(tp) if t is not type(None)]
        if len(rest) == 1 and dataclasses.is_dataclass(rest[0]) and isinstance(rest[0], type):
            return rest[0]
    return None


def _split(
    cls: type[Any], data: Any, path: str, noun: str = "config"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check ``data``'s keys against ``cls`` (recursively) and pull out the fields that are
    already built (instances) or chosen by ``kind``: ``(plain rest, built fields)``."""
    if not isinstance(data, dict):
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}expected a mapping of keys, got {data!r}")
    names = [f.name for f in dataclasses.fields(cls)]
    hints = _hints(cls)  # type: ignore[arg-type]
    rest: dict[str, Any] = {}
    built: dict[str, Any] = {}
    for key, value in data.items():
        full = _join(path, key)
        if key not in names:
            raise ConfigError(
                f"unknown {noun} key {full!r}; valid keys here: {sorted(names)}"
                + suggestion(str(key), names)
            )
        tp = hints[key]
        family = kinds_of(tp)
        sub = _dataclass_of(tp)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            built[key] = value
        elif family is not None and value is not None:
            built[key] = _build_kind(family, value, full)
        elif sub is not None and isinstance(value, dict):
            inner_rest, inner_built = _split(sub, value, full, noun)
            if inner_built:
                built[key] = validate(sub, value, full, noun=noun)
            else:
                rest[key] = inner_rest
        else:
            rest[key] = value
    return rest, built


def _build_kind(family: dict[str, type[Any]], value: Any, path: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping with 'kind', got {value!r}")
    data = dict(value)
    kind = data.pop("kind", "auto")
    if kind in DEPRECATED_KINDS and DEPRECATED_KINDS[kind] in family:
        import warnings

        warnings.warn(
            f"{path}.kind: {kind!r} is deprecated; use {DEPRECATED_KINDS[kind]!r}",
            DeprecationWarning,
            stacklevel=3,
        )
        kind = DEPRECATED_KINDS[kind]
    if kind not in family:
        raise ConfigError(
            f"{path}.kind: unknown {kind!r}; options: {sorted(family)}"
            + suggestion(str(kind), family)
        )
    return validate(family[kind], data, path)


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true/false",
    "bool_parsing": "true/false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "dataclass_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
}


def _location(loc: tuple[Any, ...], data: Any) -> list[str]:
    """The part of a pydantic error location that indexes into ``data`` (pydantic adds
    the union member tried, e.g. ``int`` or ``none``, which is no key of the data)."""
    out: list[str] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(str(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out[-1:] = [f"{out[-1]}[{part}]" if out else f"[{part}]"]
            node = node[part]
        else:
            break
    return out


#: Values a setting once took and no longer does, by (field name, value): why, and what now.
REMOVED_VALUES: dict[tuple[str, str], str] = {
    ("stack", "private"): (
        "the agent's private network was removed once every preset ran on the core, which "
        "reproduces its windows, eligibility and weights (tests/agents/test_stack_equivalence"
        ".py); drop the key (its only value is 'core'). Its timing and rule are "
        "snn.input_lead=true and learn.eligibility=window"
    ),
}


def _message(err: dict[str, Any], path: str, data: Any) -> str:
    """One pydantic error as the project's one-line message."""
    from spikerl.agents.validation import yaml_number_hint

    loc = _location(tuple(err["loc"]), data)
    where = ".".join([path, *loc] if path else loc)
    value = err.get("input")
    kind = err["type"]
    if kind in _EXPECTED:
        return f"{where}: expected {_EXPECTED[kind]}, got {value!r}{yaml_number_hint(value)}"
    if kind == "enum":
        expected = str((err.get("ctx") or {}).get("expected", ""))
        options = [e.strip(" '\"") for e in expected.replace(" or ", ",").split(",") if e.strip()]
        removed = REMOVED_VALUES.get((loc[-1] if loc else "", str(value)))
        if removed is not None:
            return f"{where}: {value!r} is no longer a value: {removed}"
        return f"{where}: {value!r} is not one of {options}" + suggestion(str(value), options)
    if kind == "value_error":
        inner = (err.get("ctx") or {}).get("error")
        return f"{where or 'config'}: {inner or err['msg']}"
    if kind == "missing":
        full = ".".join([path, *map(str, err["loc"])] if path else map(str, err["loc"]))
        return f"{full}: required key missing"
    return f"{where}: {err['msg']} (got {value!r})"


def _ints_from_floats(errors: list[dict[str, Any]], data: Any) -> bool:
    """Turn integer-valued floats that failed an int field into ints, in place."""
    fixed = False
    for err in errors:
        value = err.get("input")
        if err["type"] not in ("int_type", "int_from_float") or not isinstance(value, float):
            continue
        if not (math.isfinite(value) and value.is_integer()):
            continue
        parent: Any = None
        key: Any = None
        node: Any = data
        for part in err["loc"]:
            if isinstance(node, dict | list) and _has(node, part):
                parent, key, node = node, part, node[part]
            else:
                break
        if parent is not None and node == value and isinstance(node, float):
            parent[key] = int(value)
            fixed = True
    return fixed


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(part, int) and 0 <= part < len(node)


def _sequences_to_tuples(obj: Any) -> Any:
    """Lists in ``Sequence``-annotated fields -> tuples (frozen configs stay hashable)."""
    if not (dataclasses.is_dataclass(obj) and not isinstance(obj, type)):
        return obj
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, list):
            changes[f.name] = tuple(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            new = _sequences_to_tuples(value)
            if new is not value:
                changes[f.name] = new
    if not changes:
        return obj
    return _replace(obj, changes)


def _replace(obj: Any, changes: dict[str, Any]) -> Any:
    """``dataclasses.replace`` that also sets fields with ``init=False``."""
    init = {k: v for k, v in changes.items() if _field(obj, k).init}
    new = dataclasses.replace(obj, **init)
    for k, v in changes.items():
        if k not in init:
            object.__setattr__(new, k, v)
    return new


def _field(obj: Any, name: str) -> dataclasses.Field[Any]:
    return {f.name: f for f in dataclasses.fields(obj)}[name]


def validate(cls: type[Any], data: Any, path: str = "", *, noun: str = "config") -> Any:
    """Build the dataclass ``cls`` from a plain mapping, or raise a one-line ConfigError.

    Args:
        cls: A (frozen) dataclass.
        data: The mapping (YAML, merged overrides); values may already be instances.
        path: Dotted location of ``data`` for messages (``"rstdp.learn"``).
        noun: What the keys are called in messages (``unknown <noun> key``).

    Raises:
        ConfigError: An unknown key (with a suggestion), a value of the wrong type, an
            enum value not among the options, a number out of range or not finite, or a
            value the dataclass itself refuses.
    """
    from pydantic import ValidationError

    from spikerl.agents.validation import check_config

    rest, built = _split(cls, data, path, noun)
    try:
        text = json.dumps(rest, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path or cls.__name__}: values must be plain data ({exc})") from None
    plain = json.loads(text)
    adapter = _adapter(cls)  # type: ignore[arg-type]
    for _ in range(32):
        try:
            obj = adapter.validate_json(json.dumps(plain, allow_nan=True), strict=True)
            break
        except ValidationError as exc:
            errors: list[dict[str, Any]] = [dict(e) for e in exc.errors(include_url=False)]
            if _ints_from_floats(errors, plain):
                continue
            raise ConfigError(_message(errors[0], path, plain)) from None
    else:  # pragma: no cover - bounded retries
        raise ConfigError(f"{path or cls.__name__}: cannot be validated")
    if built:
        try:
            obj = _replace(obj, built)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path or cls.__name__}: {exc}") from None
    obj = _sequences_to_tuples(obj)
    check_config(obj, path)
    return obj


def to_plain(obj: Any) -> Any:
    """A config (nested dataclasses, enums, tuples) as plain YAML/JSON-able data.

    Members of a :func:`register_kinds` family get their ``kind`` first. The inverse of
    :func:`validate`: ``validate(type(c), to_plain(c)) == c``.
    """
    _defaults()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        kind = _KINDS.get(type(obj))
        return {"kind": kind, **out} if kind is not None else out
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, tuple | list):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base`` recursively; a mapping whose ``kind`` differs from the
    base's replaces it whole (its old parameters would not fit the new kind)."""
    out = dict(base)
    for k, v in over.items():
        old = out.get(k)
        if isinstance(v, dict) and isinstance(old, dict):
            same = v.get("kind", old.get("kind")) == old.get("kind")
            out[k] = merge(old, v) if same else dict(v)
        else:
            out[k] = v
    return out


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["rstdp.learn.lr_actor=0.3", ...]`` -> nested mapping (values parsed as YAML)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.constructor.ConstructorError:
            raise ConfigError(
                f"--set {key}: refused value {raw!r} (YAML tags that build Python objects are "
                f"never read)"
            ) from None
        except yaml.YAMLError as exc:
            first = " ".join(str(exc).split())[:200]
            raise ConfigError(f"--set {key}: malformed value {raw!r} ({first})") from None
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {p} is not a mapping")
        node[parts[-1]] = value
    return out
