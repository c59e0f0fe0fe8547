"""The saved state of a vectorised environment, without pickling: for exact resumes.

A resumable checkpoint rebuilds its environments from the run's recipe and then restores
their state from ``env_state.zip``, a zip of two entries:

- ``data``: JSON (:mod:`spikerl.codec` encoding) ``{"format": "spikerl-env-state",
  "version": 1, "vec_env": {...}, "envs": [[layer, ...], ...], "meta": {...}}`` (``meta``:
  the step of the checkpoint). ``vec_env`` and each
  ``layer`` are ``{"class": "module.QualName", "attrs": {name: value}}``; the layers of one
  environment run from the outermost wrapper to ``env.unwrapped``. ``attrs`` holds the
  object's plain attributes: numbers, strings, ``None``, NumPy arrays and scalars, bytes,
  NumPy random generators (``bit_generator.state``), and lists/tuples/dicts/deques of these
  (e.g. ``TimeLimit._elapsed_steps``, Monitor's episode returns and lengths, CartPole's
  ``unwrapped.state`` and ``np_random``, DummyVecEnv's buffers). Spaces, specs, render
  settings, constructor records and handles are configuration, rebuilt from the recipe.
  An ALE layer adds ``"ale_state"``: the emulator state with its RNG
  (``ALEInterface.cloneState(include_rng=True).serialize()``, bytes); an
  :class:`~spikerl.envs.atari.ExactALEPickle` layer adds ``"last_action"`` (the
  ``ale_py.Action`` value that sticky actions repeat), primed before the state is restored.
- ``arrays.npz``: the arrays ``data`` refers to (read with ``allow_pickle=False``).

Restoring checks that the rebuilt environment has the same layers (class names) and number
of environments, and sets plain values only: an attribute the rebuilt object has must keep its
kind, and a new one may not shadow a class attribute (a method); anything else is refused
with :class:`EnvStateError`.
"""

from __future__ import annotations

import collections
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from spikerl.codec import CodecError, arrays_to_npz, decode, encode, npz_to_arrays

FORMAT = "spikerl-env-state"
#: Largest entry read (bytes, uncompressed): a bound for crafted files (zip bombs).
_MAX_ENTRY = 1 << 30
VERSION = 1

#: Attributes that are configuration or handles, never saved.
_SKIP = frozenset(
    {
        "env",
        "envs",
        "spec",
        "metadata",
        "render_mode",
        "observation_space",
        "action_space",
        "single_observation_space",
        "single_action_space",
        "_action_space",
        "_observation_space",
        "_metadata",
        "_cached_spec",
        "_saved_kwargs",
        "_ezpickle_args",
        "_ezpickle_kwargs",
        "results_writer",
        "ale",
        "_action_set",
        "_actions",
        "_noop",
        "_last",
    }
)


class EnvStateError(ValueError):
    """An environment state file is malformed or does not fit the environment."""


def _plain(value: Any) -> bool:
    """Whether ``value`` is plain data that the env-state format stores."""
    if value is None or type(value) in (bool, int, float, str, bytes):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biufc"
    if isinstance(value, np.generic):
        return value.dtype.kind in "biufc"
    if isinstance(value, np.random.Generator):
        return True
    if isinstance(value, list | tuple | collections.deque):
        return type(value) in (list, tuple, collections.deque) and all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all((k is None or type(k) in (str, int)) and _plain(v) for k, v in value.items())
    return False


def _name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _layers(env: Any) -> list[Any]:
    """``env``, ``env.env``, ... down to the unwrapped environment."""
    out = [env]
    while hasattr(out[-1], "env") and out[-1].env is not out[-1]:
        out.append(out[-1].env)
    return out


def _capture(obj: Any) -> dict[str, Any]:
    attrs = {k: v for k, v in vars(obj).items() if k not in _SKIP and _plain(v)}
    out: dict[str, Any] = {"class": _name(obj), "attrs": attrs}
    from spikerl.envs.atari import ExactALEPickle

    if isinstance(obj, ExactALEPickle):
        out["last_action"] = int(obj._last.value)
    ale = vars(obj).get("ale")
    if ale is not None and hasattr(ale, "cloneState"):
        out["ale_state"] = ale.cloneState(include_rng=True).serialize()
    return out


def env_state(venv: Any) -> dict[str, Any]:
    """The state of an SB3 ``DummyVecEnv`` (see the module docs) as plain data.

    Raises:
        EnvStateError: Not a ``DummyVecEnv`` (other VecEnvs hold their envs elsewhere).
    """
    from stable_baselines3.common.vec_env import DummyVecEnv

    if not isinstance(venv, DummyVecEnv):
        raise EnvStateError(
            f"environment state: only DummyVecEnv is saved, got {type(venv).__name__}"
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "vec_env": _capture(venv),
        "envs": [[_capture(layer) for layer in _layers(e)] for e in venv.envs],
    }


def _same_kind(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return True
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(old, bool | np.bool_) and isinstance(new, bool | np.bool_)
    if isinstance(old, int | float | np.number) and isinstance(new, int | float | np.number):
        return True
    if isinstance(old, dict) and isinstance(new, dict):
        return True
    if isinstance(old, list | tuple | collections.deque) and isinstance(
        new, list | tuple | collections.deque
    ):
        return True
    return isinstance(new, type(old)) or isinstance(old, type(new))


def _shadows(obj: Any, key: str) -> bool:
    """Whether setting ``key`` on ``obj`` would hide a method or descriptor of its class."""
    import inspect

    try:
        attr = inspect.getattr_static(type(obj), key)
    except AttributeError:
        return False
    return not _plain(attr)


def _assign(obj: Any, key: str, new: Any, where: str) -> None:
    attrs = vars(obj)
    if key in _SKIP or not key.isidentifier() or (key not in attrs and _shadows(obj, key)):
        raise EnvStateError(f"{where}: {key!r} is not a state attribute of {_name(obj)}")
    old = attrs.get(key)  # attributes set after construction (e.g. in step) are added
    if not _same_kind(old, new):
        raise EnvStateError(
            f"{where}.{key}: saved a {type(new).__name__}, the environment holds a "
            f"{type(old).__name__}"
        )
    if isinstance(old, np.random.Generator) and isinstance(new, np.random.Generator):
        try:  # in place: wrappers and spaces may share the generator object
            old.bit_generator.state = new.bit_generator.state
        except (TypeError, ValueError) as exc:
            raise EnvStateError(f"{where}.{key}: {exc}") from None
    elif isinstance(old, dict) and isinstance(new, dict):
        old.clear()
        old.update(new)
    elif isinstance(old, collections.deque) and isinstance(new, list | tuple | collections.deque):
        old.clear()
        old.extend(new)
    elif type(old) is list and isinstance(new, list | tuple):
        old[:] = list(new)
    else:
        setattr(obj, key, new)


def _restore(obj: Any, saved: Any, where: str) -> None:
    if not isinstance(saved, dict) or not isinstance(saved.get("attrs"), dict):
        raise EnvStateError(f"{where}: malformed layer")
    if saved.get("class") != _name(obj):
        raise EnvStateError(
            f"{where}: saved for {saved.get('class')!r}, the environment has {_name(obj)!r} "
            f"(built from another recipe?)"
        )
    for key, value in saved["attrs"].items():
        _assign(obj, str(key), value, where)
    if "ale_state" in saved:
        _restore_ale(obj, saved, where)


def _restore_ale(obj: Any, saved: dict[str, Any], where: str) -> None:
    import ale_py

    blob = saved["ale_state"]
    if not isinstance(blob, bytes):
        raise EnvStateError(f"{where}: ale_state is not bytes")
    ale = vars(obj).get("ale")
    if ale is None:
        raise EnvStateError(f"{where}: {_name(obj)} has no emulator to restore")
    try:
        state = ale_py.ALEState(blob)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise EnvStateError(f"{where}: malformed ALE state ({exc})") from None
    ale.restoreState(state)


def restore_env_state(venv: Any, state: Any) -> None:
    """Restore :func:`env_state` output into a freshly built ``venv`` of the same recipe.

    Raises:
        EnvStateError: Another format or version, another number of environments or
            another wrapper stack, or a value of another kind than the attribute it sets.
    """
    from spikerl.envs.atari import _PRIME_FRAMES, ExactALEPickle

    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise EnvStateError("environment state: not a spikerl env-state file")
    if state.get("version") != VERSION:
        raise EnvStateError(
            f"environment state: version {state.get('version')!r}, expected {VERSION}"
        )
    envs = state.get("envs")
    if not isinstance(envs, list) or len(envs) != len(venv.envs):
        n = len(envs) if isinstance(envs, list) else "?"
        raise EnvStateError(f"environment state: saved {n} envs, the run has {len(venv.envs)}")
    _restore(venv, state.get("vec_env"), "vec_env")
    for i, (env, saved_layers) in enumerate(zip(venv.envs, envs, strict=True)):
        layers = _layers(env)
        if not isinstance(saved_layers, list) or len(saved_layers) != len(layers):
            raise EnvStateError(
                f"envs[{i}]: saved {len(saved_layers) if isinstance(saved_layers, list) else '?'}"
                f" wrapper layers, the environment has {len(layers)}"
            )
        for j, (layer, saved) in enumerate(zip(layers, saved_layers, strict=True)):
            where = f"envs[{i}][{j}]"
            _restore(layer, saved, where)  # outer to inner: priming precedes the ALE state
            if isinstance(layer, ExactALEPickle):
                _prime(layer, saved, where, _PRIME_FRAMES)


def _prime(layer: Any, saved: dict[str, Any], where: str, frames: int) -> None:
    """Set the saved last action and act it ``frames`` times, filling ALE's sticky-action
    memory; the emulator state restored next (an inner layer) undoes the frames'
    effect on the game (see :class:`~spikerl.envs.atari.ExactALEPickle`)."""
    import ale_py

    try:
        layer._last = ale_py.Action(int(saved["last_action"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise EnvStateError(f"{where}: malformed last_action ({exc})") from None
    ale = layer.unwrapped.ale
    for _ in range(frames):
        ale.act(layer._last)


def save_env_state(
    venv: Any, path: str | os.PathLike[str], meta: dict[str, Any] | None = None
) -> None:
    """Write ``env_state.zip`` (``data`` JSON + ``arrays.npz``) atomically.

    Args:
        venv: The ``DummyVecEnv``.
        path: Target file.
        meta: Plain values stored beside the state as ``"meta"`` (e.g. the step).
    """
    from spikerl.core.io import atomic_write

    state = env_state(venv)
    if meta:
        state["meta"] = dict(meta)
    try:
        obj, arrays = encode(state, where="env_state")
    except CodecError as exc:
        raise EnvStateError(str(exc)) from None
    data = json.dumps(obj, allow_nan=False).encode()
    npz = arrays_to_npz(arrays)

    def write(tmp: str) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("data", data)
            zf.writestr("arrays.npz", npz)

    atomic_write(write, Path(path), suffix=".tmp.zip")


def read_env_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and decode an ``env_state.zip`` (never unpickles).

    Raises:
        FileNotFoundError: No such file.
        EnvStateError: Not a zip, other entries, malformed JSON or arrays.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"environment state not found: {p}")
    try:
        with zipfile.ZipFile(p) as zf:
            names = sorted(zf.namelist())
            if names != ["arrays.npz", "data"]:
                raise EnvStateError(
                    f"{p}: expected the entries ['arrays.npz', 'data'], found {names}"
                )
            for info in zf.infolist():
                if info.file_size > _MAX_ENTRY:
                    raise EnvStateError(
                        f"{p}: entry {info.filename!r} is {info.file_size} bytes (too large)"
                    )
            blob = zf.read("data")
            npz = zf.read("arrays.npz")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise EnvStateError(f"{p}: corrupted or truncated environment state ({exc})") from None
    try:
        raw = json.loads(blob.decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise EnvStateError(f"{p}: malformed JSON ({exc})") from None
    try:
        arrays = npz_to_arrays(npz, f"{p}: arrays.npz")
        state = decode(raw, arrays, where="env_state")
    except CodecError as exc:
        raise EnvStateError(f"{p}: {exc}") from None
    if not isinstance(state, dict):
        raise EnvStateError(f"{p}: not a spikerl env-state file")
    return state


def load_env_state(venv: Any, path: str | os.PathLike[str]) -> None:
    """:func:`read_env_state` then :func:`restore_env_state` into ``venv``."""
    state = read_env_state(path)
    try:
        restore_env_state(venv, state)
    except EnvStateError as exc:
        raise EnvStateError(f"{path}: {exc}") from None
