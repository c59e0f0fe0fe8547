"""A pickle-free codec for saved state: JSON for structure, ``.npz`` for arrays.

Model zips (:mod:`spikerl.agents.persistence`) and the environment state of a resumable
checkpoint (:mod:`spikerl.envs.state`) store Python values with this codec. Reading never
unpickles and never imports a module named by the file outside the trusted packages below.

Encoding of a value (``encode``), by type:

=====================================  ==================================================
value                                  JSON
=====================================  ==================================================
``None``, ``bool``, ``int``, ``str``   itself
finite ``float``                       itself; ``nan``/``inf``: ``{"__float__": "inf"}``
``list``                               a list
``tuple``, ``collections.deque``       ``{"__tuple__": [...]}``, ``{"__deque__": [...],
                                       "maxlen": n}``
``dict`` with ``str`` keys             itself (keys starting ``__`` are escaped:
                                       ``{"__dict__": [[k, v], ...]}``, as for other keys)
NumPy array / torch tensor             ``{"__ndarray__": "a3"}`` / ``{"__tensor__": "a3"}``
                                       (``a3`` names an entry of the ``.npz``; numeric and
                                       bool dtypes only, read with ``allow_pickle=False``)
NumPy scalar                           ``{"__npscalar__": dtype, "value": v}``
``bytes``                              ``{"__bytes__": "a3"}`` (a ``uint8`` array)
``numpy.random.Generator``             ``{"__generator__": bit_generator.state}``
``torch.device``                       ``{"__device__": "cpu"}``
gymnasium space                        ``{"__space__": "Box", ...}`` (Box low/high/shape/
                                       dtype, Discrete n/start, MultiDiscrete nvec/start,
                                       MultiBinary n, Dict, Tuple)
class                                  ``{"__class__": "module.QualName"}``
frozen dataclass / NamedTuple / Enum   ``{"__dataclass__": name, "fields": {...}}``,
                                       ``{"__namedtuple__": ...}``, ``{"__enum__": name,
                                       "value": v}``
registered plain object (SB3           ``{"__object__": name, "attrs": {...}}``
schedules)
=====================================  ==================================================

Classes, dataclasses, NamedTuples and enums are resolved on reading only inside the trusted
packages (:data:`TRUSTED_PREFIXES`), and a class only if it is one of a few base kinds
(torch modules and optimizers, SB3 policies, extractors and buffers) or registered with
:func:`register_type`. Plain objects (rebuilt from their attributes) must be registered.
Anything else is refused with :class:`CodecError` naming where it was.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import importlib
import io
import math
import re
from typing import Any

import numpy as np

#: Packages whose classes a saved file may name.
TRUSTED_PREFIXES = ("spikerl.", "stable_baselines3.", "sb3_contrib.", "torch.nn.", "torch.optim.")

#: NumPy dtype kinds allowed in saved arrays: bool, signed/unsigned int, float, complex.
_ARRAY_KINDS = frozenset("biufc")

_TAGS = frozenset(
    {
        "__float__",
        "__tuple__",
        "__deque__",
        "__dict__",
        "__ndarray__",
        "__tensor__",
        "__npscalar__",
        "__bytes__",
        "__generator__",
        "__device__",
        "__space__",
        "__class__",
        "__dataclass__",
        "__namedtuple__",
        "__enum__",
        "__object__",
    }
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")

_REGISTERED: dict[str, type] = {}
_OBJECTS: set[str] = set()

#: Classes that moved: the name older files wrote -> the current one (read either).
MOVED: dict[str, str] = {
    "spikerl.agents.features.PixelGridConfig": "spikerl.encoders.pixels.PixelGridConfig",
    "spikerl.agents.features.PixelGrid": "spikerl.encoders.pixels.PixelGrid",
    "spikerl.agents.features.GaussianFieldsConfig": "spikerl.encoders.fields.GaussianFieldsConfig",
    "spikerl.agents.features.GaussianFields": "spikerl.encoders.fields.GaussianFields",
    # the agent's former private network (spikerl.agents.legacy upgrades its zips)
    "spikerl.agents.network.SNNConfig": "spikerl.agents.config.SNNConfig",
    "spikerl.agents.network.LearnConfig": "spikerl.agents.config.LearnConfig",
    "spikerl.agents.network.Modulation": "spikerl.agents.config.Modulation",
    "spikerl.agents.network.Eligibility": "spikerl.agents.config.Eligibility",
    "spikerl.agents.rstdp.SpikingPolicy": "spikerl.agents.core_policy.NetworkPolicy",
}


class CodecError(ValueError):
    """A value cannot be saved, or a saved value is not one this codec reads."""


def qualified_name(cls: type) -> str:
    """``module.QualName`` of a class (the name written to files)."""
    return f"{cls.__module__}.{cls.__qualname__}"


def register_type(cls: type, plain_object: bool = False) -> type:
    """Allow ``cls`` in saved files (a class outside the trusted kinds, or a plain object).

    Args:
        cls: The class.
        plain_object: Instances are saved by their ``__dict__`` and rebuilt with
            ``cls.__new__`` plus the attributes (no ``__init__`` runs); only for small value
            classes such as schedules.

    Returns:
        ``cls`` (usable as a decorator).
    """
    _REGISTERED[qualified_name(cls)] = cls
    if plain_object:
        _OBJECTS.add(qualified_name(cls))
    return cls


def _register_defaults() -> None:
    from stable_baselines3.common import utils

    for name in ("FloatSchedule", "LinearSchedule", "ConstantSchedule"):
        cls = getattr(utils, name, None)
        if isinstance(cls, type):
            register_type(cls, plain_object=True)


def _base_kinds() -> tuple[type, ...]:
    import torch
    from stable_baselines3.common.buffers import BaseBuffer
    from stable_baselines3.common.policies import BasePolicy
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    return (torch.nn.Module, torch.optim.Optimizer, BasePolicy, BaseFeaturesExtractor, BaseBuffer)


def _resolve(name: Any, where: str, extra: dict[str, type]) -> type:
    """The class a file names, from the registry, ``extra`` or a trusted package."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise CodecError(f"{where}: malformed class name {name!r}")
    if name in extra:
        return extra[name]
    name = MOVED.get(name, name)
    _ensure_defaults()
    if name in _REGISTERED:
        return _REGISTERED[name]
    if not name.startswith(TRUSTED_PREFIXES):
        raise CodecError(
            f"{where}: class {name!r} is outside the trusted packages "
            f"({', '.join(p.rstrip('.') for p in TRUSTED_PREFIXES)}); register it with "
            f"spikerl.codec.register_type if you trust it"
        )
    module, _, qual = name.rpartition(".")
    parts = [qual]
    obj: Any = None
    while module and (module + ".").startswith(TRUSTED_PREFIXES):
        try:
            obj = importlib.import_module(module)
            break
        except ImportError:
            module, _, head = module.rpartition(".")
            parts.insert(0, head)
    if obj is None:
        raise CodecError(f"{where}: class {name!r} not found")
    for part in parts:
        obj = getattr(obj, part, None)
    if not isinstance(obj, type) or qualified_name(obj) != name:
        raise CodecError(f"{where}: {name!r} is not a class")
    return obj


def _ensure_defaults() -> None:
    if not _REGISTERED:
        _register_defaults()


def _class_allowed(cls: type) -> bool:
    """Registered, or one of the base kinds from a trusted package (the same rule on save
    and load, so whatever is saved can be read back)."""
    _ensure_defaults()
    name = qualified_name(cls)
    if name in _REGISTERED:
        return True
    return name.startswith(TRUSTED_PREFIXES) and issubclass(cls, _base_kinds())


def _dataclass_allowed(cls: type) -> bool:
    """Frozen dataclasses (value objects: configs) or registered ones."""
    params = getattr(cls, "__dataclass_params__", None)
    return bool(params is not None and params.frozen) or qualified_name(cls) in _REGISTERED


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, value: np.ndarray, where: str) -> str:
        if value.dtype.kind not in _ARRAY_KINDS:
            raise CodecError(f"{where}: arrays of dtype {value.dtype} cannot be saved")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(value)
        return key

    def __call__(self, value: Any, where: str) -> Any:
        import torch
        from gymnasium import spaces

        if isinstance(value, enum.Enum):  # before str/int: StrEnum and IntEnum keep their type
            return {"__enum__": qualified_name(type(value)), "value": self(value.value, where)}
        if isinstance(value, np.generic):
            if value.dtype.kind not in _ARRAY_KINDS:
                raise CodecError(f"{where}: NumPy scalar of dtype {value.dtype} cannot be saved")
            return {"__npscalar__": value.dtype.str, "value": self(value.item(), where)}
        if value is None or type(value) in (bool, int, str):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, np.ndarray):
            return {"__ndarray__": self.array(value, where)}
        if isinstance(value, torch.Tensor):
            return {"__tensor__": self.array(value.detach().cpu().numpy(), where)}
        if isinstance(value, bytes | bytearray):
            return {"__bytes__": self.array(np.frombuffer(bytes(value), np.uint8), where)}
        if isinstance(value, np.random.Generator):
            return {"__generator__": self(value.bit_generator.state, where)}
        if isinstance(value, torch.device):
            return {"__device__": str(value)}
        if isinstance(value, spaces.Space):
            return self.space(value, where)
        if isinstance(value, type):
            if not _class_allowed(value):
                raise CodecError(
                    f"{where}: class {qualified_name(value)} is not saved by spikerl "
                    f"(register it with spikerl.codec.register_type)"
                )
            return {"__class__": qualified_name(value)}
        if dataclasses.is_dataclass(value):
            if not _dataclass_allowed(type(value)):
                raise CodecError(
                    f"{where}: {qualified_name(type(value))} is not a frozen dataclass; register "
                    f"it with spikerl.codec.register_type to save it"
                )
            fields = {
                f.name: self(getattr(value, f.name), f"{where}.{f.name}")
                for f in dataclasses.fields(value)
            }
            return {"__dataclass__": qualified_name(type(value)), "fields": fields}
        if _is_namedtuple(value):
            fields = {k: self(v, f"{where}.{k}") for k, v in value._asdict().items()}
            return {"__namedtuple__": qualified_name(type(value)), "fields": fields}
        if isinstance(value, list):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"__tuple__": [self(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, collections.deque):
            items = [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return {"__deque__": items, "maxlen": value.maxlen}
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: self(v, f"{where}.{k}") for k, v in value.items()}
            return {
                "__dict__": [[self(k, where), self(v, f"{where}.{k}")] for k, v in value.items()]
            }
        name = qualified_name(type(value))
        if name in _OBJECTS:
            attrs = {k: self(v, f"{where}.{k}") for k, v in vars(value).items()}
            return {"__object__": name, "attrs": attrs}
        raise CodecError(
            f"{where}: a {name} cannot be saved without pickling (exclude it, or register the "
            f"type with spikerl.codec.register_type)"
        )

    def space(self, space: Any, where: str) -> dict[str, Any]:
        from gymnasium import spaces

        if isinstance(space, spaces.Box):
            return {
                "__space__": "Box",
                "low": self(space.low, where),
                "high": self(space.high, where),
                "shape": list(space.shape),
                "dtype": np.dtype(space.dtype).str,
            }
        if isinstance(space, spaces.Discrete):
            return {"__space__": "Discrete", "n": int(space.n), "start": int(space.start)}
        if isinstance(space, spaces.MultiDiscrete):
            return {
                "__space__": "MultiDiscrete",
                "nvec": self(np.asarray(space.nvec), where),
                "start": self(np.asarray(space.start), where),
                "dtype": np.dtype(space.dtype).str,
            }
        if isinstance(space, spaces.MultiBinary):
            return {"__space__": "MultiBinary", "n": self(space.n, where)}
        if isinstance(space, spaces.Dict):
            return {
                "__space__": "Dict",
                "spaces": [[k, self.space(s, f"{where}.{k}")] for k, s in space.spaces.items()],
            }
        if isinstance(space, spaces.Tuple):
            return {
                "__space__": "Tuple",
                "spaces": [self.space(s, f"{where}[{i}]") for i, s in enumerate(space.spaces)],
            }
        raise CodecError(f"{where}: gymnasium space {type(space).__name__} is not supported")


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], classes: dict[str, type]) -> None:
        self.arrays = arrays
        self.classes = classes

    def array(self, key: Any, where: str) -> np.ndarray:
        if not isinstance(key, str) or key not in self.arrays:
            raise CodecError(f"{where}: refers to a missing array {key!r}")
        return self.arrays[key]

    def __call__(self, obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, bool | int | float | str):
            return obj
        if isinstance(obj, list):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if not isinstance(obj, dict):
            raise CodecError(f"{where}: unexpected JSON value {type(obj).__name__}")
        tags = [k for k in obj if isinstance(k, str) and k.startswith("__")]
        if ":serialized:" in obj:
            raise CodecError(f"{where}: holds a pickled object (':serialized:')")
        if not tags:
            return {k: self(v, f"{where}.{k}") for k, v in obj.items()}
        tag = tags[0]
        if tag not in _TAGS or len(tags) > 1:
            raise CodecError(f"{where}: unknown entry {tag!r}")
        body = obj[tag]
        if tag == "__float__":
            if body not in ("nan", "inf", "-inf"):
                raise CodecError(f"{where}: malformed float {body!r}")
            return float(body)
        if tag == "__tuple__":
            return tuple(self(body, where))
        if tag == "__deque__":
            maxlen = obj.get("maxlen")
            if maxlen is not None and not isinstance(maxlen, int):
                raise CodecError(f"{where}: malformed deque maxlen {maxlen!r}")
            return collections.deque(self(body, where), maxlen=maxlen)
        if tag == "__dict__":
            if not isinstance(body, list) or not all(
                isinstance(p, list) and len(p) == 2 for p in body
            ):
                raise CodecError(f"{where}: malformed mapping")
            return {self(k, where): self(v, f"{where}.{k}") for k, v in body}
        if tag == "__ndarray__":
            return self.array(body, where)
        if tag == "__tensor__":
            import torch

            return torch.from_numpy(self.array(body, where).copy())
        if tag == "__bytes__":
            return self.array(body, where).astype(np.uint8).tobytes()
        if tag == "__npscalar__":
            dtype = _dtype(body, where)
            return dtype.type(self(obj.get("value"), where))
        if tag == "__generator__":
            return _generator(self(body, where), where)
        if tag == "__device__":
            import torch

            if not isinstance(body, str):
                raise CodecError(f"{where}: malformed device {body!r}")
            return torch.device(body)
        if tag == "__space__":
            return self.space(obj, where)
        cls = _resolve(body, where, self.classes)
        if tag == "__class__":
            if not (_class_allowed(cls) or qualified_name(cls) in self.classes):
                raise CodecError(f"{where}: class {body!r} may not be loaded")
            return cls
        if tag == "__enum__":
            if not issubclass(cls, enum.Enum):
                raise CodecError(f"{where}: {body!r} is not an enum")
            try:
                return cls(self(obj.get("value"), where))
            except ValueError as exc:
                raise CodecError(f"{where}: {exc}") from None
        fields = obj.get("fields" if tag != "__object__" else "attrs")
        if not isinstance(fields, dict):
            raise CodecError(f"{where}: malformed {tag}")
        values = {k: self(v, f"{where}.{k}") for k, v in fields.items()}
        if tag == "__dataclass__" and dataclasses.is_dataclass(cls) and _dataclass_allowed(cls):
            names = {f.name for f in dataclasses.fields(cls)}
            init = {f.name for f in dataclasses.fields(cls) if f.init}
            if set(values) - names:
                raise CodecError(f"{where}: unknown fields {sorted(set(values) - names)}")
            try:
                return cls(**{k: v for k, v in values.items() if k in init})
            except (TypeError, ValueError) as exc:
                raise CodecError(f"{where}: {exc}") from None
        if tag == "__namedtuple__" and issubclass(cls, tuple) and hasattr(cls, "_fields"):
            try:
                return cls(**values)
            except TypeError as exc:
                raise CodecError(f"{where}: {exc}") from None
        if tag == "__object__" and qualified_name(cls) in _OBJECTS:
            inst: Any = object.__new__(cls)
            vars(inst).update(values)
            return inst
        raise CodecError(f"{where}: {body!r} may not be loaded as {tag}")

    def space(self, obj: dict[str, Any], where: str) -> Any:
        from gymnasium import spaces

        kind = obj["__space__"]
        try:
            if kind == "Box":
                return spaces.Box(
                    low=self(obj["low"], where),
                    high=self(obj["high"], where),
                    shape=tuple(obj["shape"]),
                    dtype=_dtype(obj["dtype"], where),
                )
            if kind == "Discrete":
                return spaces.Discrete(int(obj["n"]), start=int(obj.get("start", 0)))
            if kind == "MultiDiscrete":
                return spaces.MultiDiscrete(
                    self(obj["nvec"], where),
                    dtype=_dtype(obj["dtype"], where),
                    start=self(obj["start"], where),
                )
            if kind == "MultiBinary":
                return spaces.MultiBinary(self(obj["n"], where))
            if kind == "Dict":
                return spaces.Dict({k: self.space(s, f"{where}.{k}") for k, s in obj["spaces"]})
            if kind == "Tuple":
                return spaces.Tuple([self.space(s, where) for s in obj["spaces"]])
        except (KeyError, TypeError, ValueError) as exc:
            raise CodecError(f"{where}: malformed {kind} space ({exc})") from None
        raise CodecError(f"{where}: unknown space kind {kind!r}")


def _dtype(name: Any, where: str) -> np.dtype[Any]:
    try:
        dtype = np.dtype(name) if isinstance(name, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _ARRAY_KINDS:
        raise CodecError(f"{where}: dtype {name!r} is not a numeric dtype")
    return dtype


def _generator(state: Any, where: str) -> np.random.Generator:
    names = {
        "PCG64": np.random.PCG64,
        "PCG64DXSM": np.random.PCG64DXSM,
        "Philox": np.random.Philox,
        "SFC64": np.random.SFC64,
        "MT19937": np.random.MT19937,
    }
    kind = state.get("bit_generator") if isinstance(state, dict) else None
    if kind not in names:
        raise CodecError(f"{where}: unknown bit generator {kind!r}")
    bit = names[kind]()
    try:
        bit.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise CodecError(f"{where}: malformed {kind} state ({exc})") from None
    return np.random.Generator(bit)


def encode(value: Any, where: str = "value") -> tuple[Any, dict[str, np.ndarray]]:
    """``value`` as JSON-able data plus the arrays it refers to (see the module table).

    Raises:
        CodecError: A value of a type the codec does not save (named by ``where``).
    """
    _ensure_defaults()
    enc = _Encoder()
    return enc(value, where), enc.arrays


def decode(
    obj: Any,
    arrays: dict[str, np.ndarray],
    where: str = "value",
    classes: dict[str, type] | None = None,
) -> Any:
    """Inverse of :func:`encode`; ``classes`` are extra classes allowed by name.

    Raises:
        CodecError: An unknown tag, a pickled value, an untrusted class, a missing array.
    """
    _ensure_defaults()
    try:
        return _Decoder(arrays, dict(classes or {}))(obj, where)
    except RecursionError:
        raise CodecError(f"{where}: nested too deeply") from None


def arrays_to_npz(arrays: dict[str, np.ndarray]) -> bytes:
    """The arrays as ``.npz`` bytes (``numpy.savez``; no object arrays)."""
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    return buf.getvalue()


def npz_to_arrays(data: bytes, where: str) -> dict[str, np.ndarray]:
    """Read ``.npz`` bytes with ``allow_pickle=False`` (numeric/bool arrays only).

    Raises:
        CodecError: Not an ``.npz``, or an array that needs pickling (object dtype).
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            out = {k: npz[k] for k in npz.files}
    except Exception as exc:  # corrupt zip, object arrays (ValueError), bad headers
        raise CodecError(f"{where}: not a plain NumPy .npz ({exc})") from None
    for k, v in out.items():
        if v.dtype.kind not in _ARRAY_KINDS:
            raise CodecError(f"{where}: array {k!r} has dtype {v.dtype}")
    return out


def find_serialized(obj: Any, path: str = "") -> str | None:
    """The first key path holding SB3's ``:serialized:`` (a cloudpickle payload), or None."""
    if isinstance(obj, dict):
        if ":serialized:" in obj:
            return path or "<top>"
        for k, v in obj.items():
            hit = find_serialized(v, f"{path}.{k}" if path else str(k))
            if hit:
                return hit
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            hit = find_serialized(v, f"{path}[{i}]")
            if hit:
                return hit
    return None


__all__ = [
    "MOVED",
    "TRUSTED_PREFIXES",
    "CodecError",
    "arrays_to_npz",
    "decode",
    "encode",
    "find_serialized",
    "npz_to_arrays",
    "qualified_name",
    "register_type",
]
