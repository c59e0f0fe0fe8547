"""Model zips that never unpickle: save and load any SB3 ``BaseAlgorithm`` safely.

SB3's own ``BaseAlgorithm.load`` unpickles (cloudpickle) every ``:serialized:`` value of the
zip's ``data`` JSON, so a crafted zip runs code on load. :func:`save_model` writes the same
zip layout with nothing to unpickle, and :func:`load_model` refuses anything else:

==========================  ==============================================================
zip entry                   content
==========================  ==============================================================
``data``                    JSON: the model's attributes (as SB3 saves them) encoded by
                            :mod:`spikerl.codec` (spaces, classes, configs and RNG states
                            as tagged JSON; arrays by reference into ``arrays.npz``)
``arrays.npz``              the arrays ``data`` refers to (``numpy.load(allow_pickle=False)``)
``<name>.pth``              state dicts (``policy.pth``, ``policy.optimizer.pth``, ...) and
                            ``pytorch_variables.pth``: ``torch.load(weights_only=True)``
``_stable_baselines3_version``, ``system_info.txt``   text, not read
==========================  ==============================================================

``policy_kwargs`` holding objects (a core ``Network``, an encoder) are not saved: the zip
records their names and loading needs ``custom_objects={"policy_kwargs": {...}}`` with the
same architecture (the weights come from the zip). Any other entry, a ``:serialized:``
value (what SB3's ``model.save`` writes for objects it cannot put in JSON) or a class
outside the trusted packages is refused with :class:`CheckpointError` naming it.
``custom_objects={key: value}`` replaces a key of ``data`` without reading it (as in SB3),
which is how a zip written by SB3's own ``save`` can be loaded when you supply its pickled
values yourself.

Use it from any algorithm::

    save_model(PPO("MlpPolicy", env), "ppo.zip")
    model = load_model(PPO, "ppo.zip", env=env)
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import re
import warnings
import zipfile
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import torch

from spikerl.agents.legacy import upgrade_data, upgrade_params
from spikerl.codec import CodecError, arrays_to_npz, decode, encode, npz_to_arrays

_M = TypeVar("_M")

DATA = "data"
ARRAYS = "arrays.npz"
_TEXT_ENTRIES = frozenset({"_stable_baselines3_version", "system_info.txt"})
_PTH = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*\.pth$")
#: Largest ``data`` JSON read (bytes): far above any real model, a bound for crafted files.
_MAX_DATA = 64 * 2**20


class CheckpointError(ValueError):
    """A file is not a readable spikerl model or checkpoint (the message says why)."""


def zip_path(path: str | os.PathLike[str]) -> pathlib.Path:
    """The path SB3 writes for ``path`` (``.zip`` appended when there is no suffix)."""
    p = pathlib.Path(path)
    return p if p.suffix else p.with_suffix(".zip")


def atomic_save(write: Callable[[Any], None], path: Any) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    An interrupted write leaves the previous file intact. File-like targets are written
    directly.
    """
    if not isinstance(path, str | os.PathLike):
        write(path)
        return
    from spikerl.core.io import atomic_write

    atomic_write(write, zip_path(path), suffix=".tmp.zip")


def _model_data(
    model: Any, exclude: Iterable[str] | None, include: Iterable[str] | None
) -> dict[str, Any]:
    """The attributes SB3's ``save`` would put in ``data`` (same exclusion rules)."""
    data = model.__dict__.copy()
    excluded = set(exclude or []).union(model._excluded_save_params())
    if include is not None:
        excluded = excluded.difference(include)
    state_dicts, torch_vars = model._get_torch_save_params()
    for name in [*state_dicts, *torch_vars]:
        excluded.add(name.split(".")[0])
    for name in excluded:
        data.pop(name, None)
    return data


def _write_zip(target: Any, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)


def _torch_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


#: Tag of ``data.policy_kwargs`` when it held objects that are not saved (e.g. a core
#: ``Network``): loading then needs ``custom_objects={"policy_kwargs": {...}}``.
UNSAVED = "__unsaved__"


def _unsavable_policy_kwargs(kwargs: Any) -> list[str]:
    """Keys of ``policy_kwargs`` whose values the codec cannot save (objects)."""
    if not isinstance(kwargs, dict):
        return []
    bad = []
    for key, value in kwargs.items():
        try:
            encode(value, where=f"policy_kwargs.{key}")
        except CodecError:
            bad.append(str(key))
    return sorted(bad)


def model_entries(
    model: Any, exclude: Iterable[str] | None = None, include: Iterable[str] | None = None
) -> dict[str, bytes]:
    """The zip entries of ``model`` (see the module table), in memory.

    Raises:
        CheckpointError: An attribute that cannot be saved without pickling (named; pass it
            in ``exclude`` or register its type with ``spikerl.codec.register_type``).
    """
    import stable_baselines3 as sb3
    from stable_baselines3.common.utils import get_system_info

    data = _model_data(model, exclude, include)
    unsaved = _unsavable_policy_kwargs(data.get("policy_kwargs"))
    if unsaved:
        data["policy_kwargs"] = {UNSAVED: unsaved}
    try:
        obj, arrays = encode(data, where="data")
    except CodecError as exc:
        raise CheckpointError(f"cannot save {type(model).__name__}: {exc}") from None
    entries = {DATA: json.dumps(obj, indent=1, allow_nan=False).encode()}
    if arrays:
        entries[ARRAYS] = arrays_to_npz(arrays)
    for name, state in model.get_parameters().items():
        entries[f"{name}.pth"] = _torch_bytes(state)
    _, torch_vars = model._get_torch_save_params()
    if torch_vars:
        from stable_baselines3.common.save_util import recursive_getattr

        entries["pytorch_variables.pth"] = _torch_bytes(
            {name: recursive_getattr(model, name) for name in torch_vars}
        )
    entries["_stable_baselines3_version"] = sb3.__version__.encode()
    entries["system_info.txt"] = get_system_info(print_info=False)[1].encode()
    return entries


def save_model(
    model: Any,
    path: str | os.PathLike[str] | io.BufferedIOBase,
    exclude: Iterable[str] | None = None,
    include: Iterable[str] | None = None,
) -> None:
    """Save an SB3 algorithm as a pickle-free zip (atomically for a path).

    Args:
        model: Any ``BaseAlgorithm`` (PPO, A2C, DQN, RSTDP, ...).
        path: File (``.zip`` appended without a suffix) or a writable binary file object.
        exclude: Attributes left out in addition to the model's own exclusions.
        include: Attributes saved although excluded by default.

    Raises:
        CheckpointError: An attribute that cannot be saved without pickling.
    """
    entries = model_entries(model, exclude, include)  # fail before touching the file
    atomic_save(lambda target: _write_zip(target, entries), path)


def _open(path: Any) -> tuple[str, zipfile.ZipFile]:
    name = str(zip_path(path)) if isinstance(path, str | os.PathLike) else "<file>"
    if isinstance(path, str | os.PathLike) and not zip_path(path).is_file():
        raise FileNotFoundError(f"model not found: {zip_path(path)}")
    try:
        return name, zipfile.ZipFile(
            zip_path(path) if isinstance(path, str | os.PathLike) else path
        )
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"{name}: corrupted or truncated model zip ({exc})") from None


def read_data_json(path: Any) -> dict[str, Any]:
    """The raw ``data`` JSON of a model zip (nothing decoded).

    Raises:
        FileNotFoundError: No such file.
        CheckpointError: Not a zip, no ``data``, or ``data`` not a JSON object.
    """
    name, zf = _open(path)
    with zf:
        if DATA not in zf.namelist():
            raise CheckpointError(
                f"{name}: not an SB3 model zip (entries: {sorted(zf.namelist())})"
            )
        return _parse_data(name, _read(zf, name, DATA))


def _read(zf: zipfile.ZipFile, name: str, entry: str) -> bytes:
    info = zf.getinfo(entry)
    if entry == DATA and info.file_size > _MAX_DATA:
        raise CheckpointError(f"{name}: entry 'data' is {info.file_size} bytes (too large)")
    try:
        return zf.read(entry)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:  # CRC, truncation
        raise CheckpointError(f"{name}: corrupted model zip (entry {entry!r}: {exc})") from None


def _parse_data(name: str, blob: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(blob.decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{name}: corrupted model metadata 'data' ({exc})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{name}: 'data' is not a JSON object")
    return obj


def _refuse_pickles(name: str, raw: dict[str, Any], custom: dict[str, Any]) -> None:
    from spikerl.codec import find_serialized

    for key, value in raw.items():
        if key in custom:
            continue
        hit = find_serialized(value, key)
        if hit is not None:
            raise CheckpointError(
                f"{name}: key {hit!r} of 'data' holds a pickled object (':serialized:', as "
                f"SB3's own save writes); spikerl never unpickles. Pass custom_objects="
                f"{{{key!r}: value}} to supply it, or read the archive yourself if you trust "
                f"it, then re-save with spikerl.agents.persistence.save_model"
            )


def read_model_zip(
    path: Any, custom_objects: dict[str, Any] | None = None, device: str | torch.device = "cpu"
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """Read and check a model zip: ``(data, state dicts, pytorch variables)``.

    Raises:
        FileNotFoundError: No such file.
        CheckpointError: Corrupt zip, unknown entry, pickled value, untrusted class, or a
            ``.pth`` that is not a plain tensor file.
    """
    custom = dict(custom_objects or {})
    name, zf = _open(path)
    with zf:
        names = zf.namelist()
        if DATA not in names:
            raise CheckpointError(f"{name}: not an SB3 model zip (entries: {sorted(names)})")
        for entry in names:
            if entry not in _TEXT_ENTRIES and entry not in (DATA, ARRAYS) and not _PTH.match(entry):
                raise CheckpointError(
                    f"{name}: unknown zip entry {entry!r} (spikerl model zips hold only data, "
                    f"{ARRAYS}, *.pth tensors and SB3's version/system-info text)"
                )
        raw = upgrade_data(_parse_data(name, _read(zf, name, DATA)))
        _refuse_pickles(name, raw, custom)
        try:
            blob = _read(zf, name, ARRAYS) if ARRAYS in names else None
            arrays = npz_to_arrays(blob, f"{name}: {ARRAYS}") if blob is not None else {}
        except CodecError as exc:
            raise CheckpointError(str(exc)) from None
        tensors: dict[str, Any] = {}
        for entry in names:
            if entry.endswith(".pth"):
                try:
                    with warnings.catch_warnings():  # pickle-protocol notes of crafted files
                        warnings.simplefilter("ignore")
                        tensors[entry] = torch.load(
                            io.BytesIO(_read(zf, name, entry)),
                            map_location=device,
                            weights_only=True,
                        )
                except CheckpointError:
                    raise
                except Exception as exc:  # UnpicklingError for anything beyond tensors
                    raise CheckpointError(
                        f"{name}: entry {entry!r} is not a plain tensor file "
                        f"(torch.load(weights_only=True) refused it: {str(exc)[:200]})"
                    ) from None
    data: dict[str, Any] = {}
    for key, value in raw.items():
        if key in custom:
            continue
        try:
            data[key] = decode(value, arrays, where=f"data.{key}")
        except CodecError as exc:
            raise CheckpointError(f"{name}: {exc}") from None
        if isinstance(data[key], dict) and UNSAVED in data[key]:
            raise CheckpointError(
                f"{name}: {key} held objects that are not saved ({data[key][UNSAVED]}); "
                f"pass custom_objects={{{key!r}: {{...}}}} with the same architecture "
                f"(the weights come from the zip)"
            )
    data.update(custom)
    params = {k[: -len(".pth")]: v for k, v in tensors.items() if k != "pytorch_variables.pth"}
    if not params:
        raise CheckpointError(f"{name}: no parameters (*.pth) in the model zip")
    return data, params, tensors.get("pytorch_variables.pth")


class SpaceMismatchError(ValueError):
    """A model meets an environment of another observation or action space."""


def check_spaces(what: str, observation_space: Any, action_space: Any, env: Any) -> None:
    """Raise :class:`SpaceMismatchError` naming both spaces unless ``env`` has them."""
    for kind, saved, got in (
        ("observation", observation_space, env.observation_space),
        ("action", action_space, env.action_space),
    ):
        if saved != got:
            raise SpaceMismatchError(
                f"{what}: the model was trained on {kind} space {saved}, but the environment "
                f"has {got}; use an environment of the same {kind} space"
            )


def load_model(
    cls: type[_M],
    path: str | os.PathLike[str] | io.BufferedIOBase,
    env: Any = None,
    device: torch.device | str = "auto",
    custom_objects: dict[str, Any] | None = None,
    print_system_info: bool = False,
    force_reset: bool = True,
    **kwargs: Any,
) -> _M:
    """Load a zip written by :func:`save_model` into a new ``cls`` (SB3's ``load`` steps).

    Args:
        cls: The algorithm class (``PPO``, ``RSTDP``, ...).
        path: The zip (``.zip`` appended without a suffix) or a binary file object.
        env: Environment to attach (its spaces must equal the saved ones).
        device: Torch device of the model.
        custom_objects: Values that replace keys of ``data`` (those keys are not read).
        print_system_info: Accepted for SB3 compatibility (nothing printed).
        force_reset: Reset the environment before the next ``learn`` (SB3's default).
        **kwargs: Attributes set on the model after loading.

    Raises:
        FileNotFoundError: No such file.
        CheckpointError: Anything unsafe or malformed in the file (see the module docs).
        ValueError: ``env`` has other spaces than the saved model.
    """
    del print_system_info
    from stable_baselines3.common.save_util import recursive_setattr

    name = str(zip_path(path)) if isinstance(path, str | os.PathLike) else "<file>"
    data, params, torch_vars = read_model_zip(path, custom_objects, "cpu")
    for key in ("policy_class", "observation_space", "action_space"):
        if key not in data:
            raise CheckpointError(f"{name}: 'data' has no {key!r}")
    if "policy_kwargs" in data:
        if not isinstance(data["policy_kwargs"], dict):
            raise CheckpointError(f"{name}: 'data.policy_kwargs' is not a mapping")
        data["policy_kwargs"].pop("device", None)
        if "policy_kwargs" in kwargs and kwargs["policy_kwargs"] != data["policy_kwargs"]:
            raise ValueError(
                f"{name}: policy_kwargs {kwargs['policy_kwargs']} differ from the saved "
                f"{data['policy_kwargs']}"
            )
    if env is not None:
        env = cls._wrap_env(env, int(data.get("verbose", 0)))  # type: ignore[attr-defined]
        check_spaces(name, data["observation_space"], data["action_space"], env)
        if force_reset:
            data["_last_obs"] = None
        data["n_envs"] = env.num_envs
    private = bool(data.pop("_private_network", False))  # the former private network's zip
    model: Any = cls(  # type: ignore[call-arg]
        policy=data["policy_class"], env=env, device=device, _init_setup_model=False
    )
    model.__dict__.update(data)
    model.__dict__.update(kwargs)
    model._setup_model()
    if private:
        try:
            params, model._private_critic = upgrade_params(model, params, name)
        except ValueError as exc:
            raise CheckpointError(str(exc)) from None
    try:
        model.set_parameters(params, exact_match=True, device=device)
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{name}: parameters do not fit the model ({exc})") from None
    for var, value in (torch_vars or {}).items():
        if value is not None:
            recursive_setattr(model, f"{var}.data", value.data)
    if model.use_sde:
        model.policy.reset_noise()
    return model  # type: ignore[no-any-return]


def check_checkpoint(path: Any) -> None:
    """Raise :class:`CheckpointError` unless ``path`` is an R-STDP model zip (JSON only read).

    Raises:
        FileNotFoundError: The file does not exist.
        CheckpointError: Corrupt or truncated archive, or another algorithm's checkpoint.
    """
    if not isinstance(path, str | os.PathLike):
        return
    p = zip_path(path)
    name, zf = _open(p)
    with zf:
        names = set(zf.namelist())
        if DATA not in names or "policy.pth" not in names:
            raise CheckpointError(f"{p}: not an SB3 checkpoint of RSTDP (entries: {sorted(names)})")
        bad = zf.testzip()
        if bad is not None:
            raise CheckpointError(f"{p}: corrupted checkpoint (bad entry {bad!r})")
        data = _parse_data(name, _read(zf, name, DATA))
    if "config_dict" not in data:
        cls = data.get("policy_class", {})
        mod = cls.get("__module__", "?") if isinstance(cls, dict) else "?"
        if isinstance(cls, dict) and "__class__" in cls:
            mod = str(cls["__class__"])
        raise CheckpointError(
            f"{p}: a foreign checkpoint (policy from {mod}), not an spikerl RSTDP model"
        )
